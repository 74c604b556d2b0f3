"""The rules the domain runs by, built from the configuration file by the bot at start-up."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from checkins.ladder import Ladder


@dataclass(frozen=True)
class EmergencyContact:
    """Where an emergency stage sends: `kind` is "webhook" (target: an HTTPS URL) or a
    messenger channel name (target: the address on it). Set by the server operator only."""

    kind: str
    target: str


@dataclass(frozen=True)
class Jurisdiction:
    """A place with one legal model, one timezone, one default language and one ladder."""

    id: str
    ladder: Ladder
    timezone: str
    locale: str = "en"
    # The place's name by language, as the operator wrote it (`texts.place_name` picks one).
    names: dict[str, str] = field(default_factory=dict)
    # Know-your-rights text by language, written by the organisation's admins.
    rights: dict[str, str] = field(default_factory=dict)
    # What to do when an alert comes, by language: a short checklist shown in every alert,
    # written by the organisation's admins (`texts.default_protocol` until they do).
    protocol: dict[str, str] = field(default_factory=dict)
    emergency_contact: EmergencyContact | None = None
    # The warning list: how long a published report, and a raid alert, stay visible.
    report_expiry: timedelta = timedelta(days=365)
    raid_expiry: timedelta = timedelta(hours=12)

    def written(self, texts: dict[str, str], locale: str) -> str | None:
        """One of the organisation's texts (`rights`, `protocol`) in the reader's language,
        else in the place's, else None (not written)."""
        return texts.get(locale) or texts.get(self.locale)


@dataclass(frozen=True)
class Limits:
    """Bounds that keep the service safe and small."""

    max_buddies: int = 5
    min_duration: timedelta = timedelta(minutes=10)
    max_duration: timedelta = timedelta(hours=12)
    max_extension: timedelta = timedelta(hours=2)
    pin_attempts: int = 5
    pin_lockout: timedelta = timedelta(minutes=30)
    invite_ttl: timedelta = timedelta(hours=24)
    details_retention: timedelta = timedelta(hours=48)
    ended_retention: timedelta = timedelta(days=7)
    sent_retention: timedelta = timedelta(hours=24)
    unlocked_details_visible: timedelta = timedelta(minutes=10)
    # "I forgot my PIN" takes effect only after this, while the member's buddies (and the
    # workers who rely on them) are told and the member can stop it.
    pin_reset_cooling_off: timedelta = timedelta(hours=24)


@dataclass(frozen=True)
class Policy:
    jurisdictions: dict[str, Jurisdiction]
    default_jurisdiction: str
    limits: Limits = field(default_factory=Limits)
    # Each jurisdiction's section as written in the file: the base admin overrides merge onto.
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)

    def jurisdiction(self, jurisdiction_id: str) -> Jurisdiction:
        """The member's jurisdiction; one removed from the config falls back to the default."""
        return self.jurisdictions.get(
            jurisdiction_id, self.jurisdictions[self.default_jurisdiction]
        )
