"""Escalation ladders, legal models, and the rule that keeps police out where they endanger.

An `emergency` stage (police / emergency services) is allowed only where sex work is
decriminalised. The rule is enforced when a ladder is built (config load, admin edit) and
checked again by `assert_stage_allowed` right before anything is sent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from checkins.i18n import _

log = logging.getLogger(__name__)

# The bounds of a ladder's durations, each with its reason. Validation (the file and an
# admin's edit, `checkins.rules`) refuses anything outside them; `Ladder.from_json` reads a
# snapshot stored before they existed clamped into them, so that no deadline can overflow the
# date arithmetic every engine tick relies on.
# Details are kept at least an hour (an alert needs time to be answered) and at most a week
# (least data, shortest time).
RETENTION_BOUNDS = (timedelta(hours=1), timedelta(days=7))
# A step later than the longest retention could never run: the outcall is closed by then.
MAX_STEP_AFTER = RETENTION_BOUNDS[1]
# No check-in is longer than a day (`bot.config`): an earlier reminder would come as it starts.
MAX_REMINDER_BEFORE = timedelta(hours=24)
# After "I'm on it" the next step waits this long; longer would leave an alert someone took
# on with no next step for most of a night.
MAX_ACK_TIMEOUT = timedelta(hours=6)
# More extra time than half a day is another booking, not a delay: start a new outcall.
MAX_EXTENSION = timedelta(hours=12)


class LegalModel(StrEnum):
    CRIMINALISED = "criminalised"
    PARTIALLY_CRIMINALISED = "partially_criminalised"
    LEGALISED = "legalised"
    DECRIMINALISED = "decriminalised"


class Notify(StrEnum):
    WORKER = "worker"
    BUDDIES = "buddies"
    RESPONDERS = "responders"
    EMERGENCY = "emergency"


class LadderError(ValueError):
    """A ladder that must not be used; the message says why and what to change."""


class EmergencyNotAllowed(LadderError):
    """An emergency stage where the legal model makes police contact dangerous."""


def assert_stage_allowed(legal_model: LegalModel | str, notify: Notify | str) -> None:
    """Refuse an emergency stage outside a decriminalised jurisdiction."""
    if Notify(notify) is Notify.EMERGENCY and LegalModel(legal_model) is not (
        LegalModel.DECRIMINALISED
    ):
        raise EmergencyNotAllowed(
            _(
                "An 'emergency' stage is only allowed where legal_model is 'decriminalised'. "
                "Here it is '{model}': contacting police or emergency services can lead to "
                "arrest, eviction or deportation. Remove the stage or change the legal model."
            ).format(model=LegalModel(legal_model).value)
        )


@dataclass(frozen=True)
class Stage:
    """Notify `notify` once the check-in is `after` overdue."""

    after: timedelta
    notify: Notify


@dataclass(frozen=True)
class Ladder:
    """A jurisdiction's escalation policy, as snapshotted into each outcall."""

    legal_model: LegalModel
    stages: tuple[Stage, ...]
    reminder_before: timedelta
    ack_timeout: timedelta
    max_extension: timedelta = timedelta(hours=2)
    # Whether on-duty responders get a sealed copy of the details at outcall creation.
    seal_to_responders: bool = False
    # The hard limit: an outcall still open this long after it started is closed and shredded.
    retention: timedelta = timedelta(hours=48)

    def __post_init__(self) -> None:
        if not self.stages:
            raise LadderError(_("A ladder needs at least one stage."))
        afters = [stage.after for stage in self.stages]
        if any(after < timedelta(0) for after in afters):
            raise LadderError(_("A stage's 'after' cannot be negative."))
        if afters != sorted(afters):
            raise LadderError(_("Stages must be in order of 'after', earliest first."))
        if all(stage.notify is Notify.WORKER for stage in self.stages):
            raise LadderError(
                _("A ladder must alert someone other than the worker (buddies or responders).")
            )
        if self.ack_timeout <= timedelta(0):
            raise LadderError(_("'ack_timeout' must be longer than zero."))
        if self.max_extension < timedelta(0):
            raise LadderError(_("'max_extension' cannot be negative."))
        if self.retention <= timedelta(0):
            raise LadderError(_("'details_retention' must be longer than zero."))
        for stage in self.stages:
            assert_stage_allowed(self.legal_model, stage.notify)

    def to_json(self) -> dict[str, Any]:
        return {
            "legal_model": self.legal_model.value,
            "reminder_before": self.reminder_before.total_seconds(),
            "ack_timeout": self.ack_timeout.total_seconds(),
            "max_extension": self.max_extension.total_seconds(),
            "seal_to_responders": self.seal_to_responders,
            "retention": self.retention.total_seconds(),
            "stages": [[s.after.total_seconds(), s.notify.value] for s in self.stages],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Ladder:
        """An outcall's stored snapshot. A duration outside its bound (stored before the bounds
        existed, or tampered with) is read as the bound: the outcall still escalates, and no
        deadline lies so far ahead that computing it fails every engine tick."""
        return cls(
            legal_model=LegalModel(data["legal_model"]),
            reminder_before=_stored(data["reminder_before"], MAX_REMINDER_BEFORE),
            ack_timeout=_stored(data["ack_timeout"], MAX_ACK_TIMEOUT),
            max_extension=_stored(data.get("max_extension", 7200), MAX_EXTENSION),
            seal_to_responders=bool(data.get("seal_to_responders", False)),
            retention=_stored(data.get("retention", 172800), RETENTION_BOUNDS[1]),
            stages=tuple(
                Stage(_stored(after, MAX_STEP_AFTER), Notify(notify))
                for after, notify in data["stages"]
            ),
        )


def _stored(seconds: Any, most: timedelta) -> timedelta:
    """A stored number of seconds, clamped into 0 … `most`."""
    value = min(max(float(seconds), 0.0), most.total_seconds())
    if value != seconds:
        log.error("a ladder snapshot held a duration out of bounds; read as %s s", value)
    return timedelta(seconds=value)
