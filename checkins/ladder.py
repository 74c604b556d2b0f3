"""Escalation ladders, legal models, and the rule that keeps police out where they endanger.

An `emergency` stage (police / emergency services) is allowed only where sex work is
decriminalised. The rule is enforced when a ladder is built (config load, admin edit) and
checked again by `assert_stage_allowed` right before anything is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from checkins.i18n import _


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
        return cls(
            legal_model=LegalModel(data["legal_model"]),
            reminder_before=timedelta(seconds=data["reminder_before"]),
            ack_timeout=timedelta(seconds=data["ack_timeout"]),
            max_extension=timedelta(seconds=data.get("max_extension", 7200)),
            seal_to_responders=bool(data.get("seal_to_responders", False)),
            retention=timedelta(seconds=data.get("retention", 172800)),
            stages=tuple(
                Stage(timedelta(seconds=after), Notify(notify)) for after, notify in data["stages"]
            ),
        )
