"""A jurisdiction's rules as people write them: in the configuration file or from `/admin`.

One pydantic model validates both, so an admin's edit in the bot is held to exactly the same
rules as the file — above all, no emergency stage outside a decriminalised jurisdiction.
`legal_model`, `timezone` and the emergency contact are facts the server operator sets in the
file; admins change only `EDITABLE` keys, stored as overrides and merged over the file.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from checkins.i18n import _
from checkins.ladder import Ladder, LadderError, LegalModel, Notify, Stage
from checkins.parsing import parse_duration
from checkins.policy import EmergencyContact, Jurisdiction, Limits

# Keys an organisation admin may change at runtime from the bot.
EDITABLE = frozenset(
    {
        "ladder",
        "reminder_before",
        "ack_timeout",
        "max_extension",
        "details_retention",
        "seal_to_responders",
        "rights",
    }
)
# Sealed details are kept at least this long (an alert needs time to be answered) and at
# most this long (least data, shortest time).
RETENTION_BOUNDS = (timedelta(hours=1), timedelta(days=7))
RIGHTS_MAX_CHARS = 3000
MAX_STAGES = 8


def _duration(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if value.strip() in ("0", "0s", "0m", "0h"):
        return timedelta(0)
    parsed = parse_duration(value)
    if parsed is None:
        # Not quoted back: an admin's answer in the bot may be something typed in the wrong slot.
        raise ValueError(_("that is not a duration; write it like 30s, 10m, 2h or 1h30"))
    return parsed


def _not_negative(value: timedelta) -> timedelta:
    if value < timedelta(0):
        raise ValueError(_("a duration cannot be negative"))
    return value


Duration = Annotated[timedelta, BeforeValidator(_duration), AfterValidator(_not_negative)]


class Section(BaseModel):
    """A configuration section: unknown keys are errors, so a typo is never silently ignored."""

    model_config = ConfigDict(extra="forbid")


class StageConfig(Section):
    after: Duration
    notify: Notify


class EmergencyContactConfig(Section):
    """Where an emergency stage sends: an HTTPS webhook, or a messenger address."""

    webhook_url: str = ""
    channel: Literal["", "telegram", "signal"] = ""
    address: str = ""

    @model_validator(mode="after")
    def _one_target(self) -> EmergencyContactConfig:
        if bool(self.webhook_url) == bool(self.channel and self.address):
            raise ValueError(
                _("set either webhook_url, or channel and address — exactly one of the two")
            )
        if self.webhook_url and not _safe_webhook(self.webhook_url):
            raise ValueError(
                _("webhook_url must start with https:// (plain http only to this machine)")
            )
        return self

    def to_contact(self) -> EmergencyContact:
        if self.webhook_url:
            return EmergencyContact("webhook", self.webhook_url)
        return EmergencyContact(self.channel, self.address)


class JurisdictionConfig(Section):
    legal_model: LegalModel
    timezone: str
    locale: str = "en"
    reminder_before: Duration = timedelta(minutes=10)
    ack_timeout: Duration = timedelta(minutes=15)
    max_extension: Duration | None = None
    details_retention: Duration | None = None
    seal_to_responders: bool = False
    rights: dict[str, Annotated[str, Field(max_length=RIGHTS_MAX_CHARS)]] = {}
    emergency_contact: EmergencyContactConfig | None = None
    ladder: list[StageConfig] = Field(max_length=MAX_STAGES)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                _("unknown timezone '{value}'; use a name like Europe/Berlin").format(
                    value=value[:60]
                )
            ) from None
        return value

    @field_validator("details_retention")
    @classmethod
    def _bounded_retention(cls, value: timedelta | None) -> timedelta | None:
        low, high = RETENTION_BOUNDS
        if value is not None and not low <= value <= high:
            raise ValueError(_("details_retention must be between 1h and 168h (7 days)"))
        return value

    @model_validator(mode="after")
    def _valid_ladder(self) -> JurisdictionConfig:
        try:
            self.to_ladder(Limits())
        except LadderError as error:
            raise ValueError(str(error)) from None
        has_emergency_stage = any(s.notify is Notify.EMERGENCY for s in self.ladder)
        if self.emergency_contact and self.legal_model is not LegalModel.DECRIMINALISED:
            raise ValueError(
                _(
                    "emergency_contact is only allowed where legal_model is 'decriminalised'; "
                    "remove it here"
                )
            )
        if has_emergency_stage and self.emergency_contact is None:
            raise ValueError(
                _("the ladder has an 'emergency' stage, so set [emergency_contact] for it")
            )
        return self

    def to_ladder(self, limits: Limits) -> Ladder:
        return Ladder(
            legal_model=self.legal_model,
            stages=tuple(Stage(s.after, s.notify) for s in self.ladder),
            reminder_before=self.reminder_before,
            ack_timeout=self.ack_timeout,
            max_extension=self.max_extension or limits.max_extension,
            seal_to_responders=self.seal_to_responders,
            retention=self.details_retention or limits.details_retention,
        )

    def to_jurisdiction(self, key: str, limits: Limits) -> Jurisdiction:
        return Jurisdiction(
            id=key,
            ladder=self.to_ladder(limits),
            timezone=self.timezone,
            locale=self.locale,
            rights=dict(self.rights),
            emergency_contact=(
                self.emergency_contact.to_contact() if self.emergency_contact else None
            ),
        )


def merged(source: dict[str, Any], overrides: dict[str, Any]) -> JurisdictionConfig:
    """The file's section with an admin's overrides on top, validated as one.

    Raises `pydantic.ValidationError` if the result breaks any rule, or `ValueError` if the
    overrides touch a key admins may not change.
    """
    foreign = set(overrides) - EDITABLE
    if foreign:
        raise ValueError(
            _("These settings can only be changed in the configuration file: {keys}").format(
                keys=", ".join(sorted(foreign))
            )
        )
    return JurisdictionConfig.model_validate({**source, **overrides})


def _safe_webhook(url: str) -> bool:
    """https anywhere; plain http only to a loopback address (a relay on the same machine)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return True
    if parts.scheme != "http" or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False
