"""A jurisdiction's rules as people write them: in the configuration file or from `/admin`.

One pydantic model validates both, so an admin's edit in the bot is held to exactly the same
rules as the file — above all, no emergency stage outside a decriminalised jurisdiction.
`legal_model`, `timezone` and the emergency contact are facts the server operator sets in the
file; admins change only `EDITABLE` keys, stored as overrides and merged over the file.
Every duration has a maximum (`checkins.ladder` gives each one's reason), and every step of
a ladder must come while its outcall is still open (`check_reach`).
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from checkins import texts
from checkins.i18n import _
from checkins.ladder import (
    MAX_ACK_TIMEOUT,
    MAX_EXTENSION,
    MAX_REMINDER_BEFORE,
    MAX_STEP_AFTER,
    RETENTION_BOUNDS,
    Ladder,
    LadderError,
    LegalModel,
    Notify,
    Stage,
)
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
        "protocol",
    }
)
RIGHTS_MAX_CHARS = 3000
# The response protocol is read in every alert, on a phone, in a hurry: a short checklist.
PROTOCOL_MAX_CHARS = 800
PLACE_NAME_MAX_CHARS = 40
MAX_STAGES = 8
# A report older than two years, or a raid alert older than two days, no longer helps anyone.
MAX_REPORT_EXPIRY = timedelta(days=730)
MAX_RAID_EXPIRY = timedelta(hours=48)


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


def at_most(most: timedelta) -> AfterValidator:
    """A duration's upper bound, in plain words; say why next to where it is used."""

    def check(value: timedelta) -> timedelta:
        if value > most:
            raise ValueError(_("the longest allowed is {most}").format(most=texts.length(most)))
        return value

    return AfterValidator(check)


def at_least(least: timedelta) -> AfterValidator:
    """A duration's lower bound, in plain words."""

    def check(value: timedelta) -> timedelta:
        if value < least:
            raise ValueError(_("the shortest allowed is {least}").format(least=texts.length(least)))
        return value

    return AfterValidator(check)


def within_retention_bounds(value: timedelta) -> timedelta:
    low, high = RETENTION_BOUNDS
    if not low <= value <= high:
        raise ValueError(_("it must be between 1h and 168h (7 days)"))
    return value


Retention = Annotated[Duration, AfterValidator(within_retention_bounds)]


class Section(BaseModel):
    """A configuration section: unknown keys are errors, so a typo is never silently ignored."""

    model_config = ConfigDict(extra="forbid")


class StageConfig(Section):
    after: Annotated[Duration, at_most(MAX_STEP_AFTER)]
    notify: Notify


class EmergencyContactConfig(Section):
    """Where an emergency stage sends: an HTTPS webhook, or a messenger address. `channel`
    names a messenger; which names exist is the bot's to check (`bot/channels/registry.py`)."""

    webhook_url: str = ""
    channel: str = ""
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
    # The place's name as members read it, by language ("en" = "South", "es" = "Sur").
    name: dict[str, Annotated[str, Field(min_length=1, max_length=PLACE_NAME_MAX_CHARS)]] = {}
    reminder_before: Annotated[Duration, at_most(MAX_REMINDER_BEFORE)] = timedelta(minutes=10)
    ack_timeout: Annotated[Duration, at_most(MAX_ACK_TIMEOUT)] = timedelta(minutes=15)
    max_extension: Annotated[Duration, at_most(MAX_EXTENSION)] | None = None
    details_retention: Retention | None = None
    seal_to_responders: bool = False
    rights: dict[str, Annotated[str, Field(max_length=RIGHTS_MAX_CHARS)]] = {}
    protocol: dict[str, Annotated[str, Field(max_length=PROTOCOL_MAX_CHARS)]] = {}
    emergency_contact: EmergencyContactConfig | None = None
    # How long a published report stays on the warning list, and a raid alert stands.
    report_expiry: Annotated[Duration, at_most(MAX_REPORT_EXPIRY)] = timedelta(days=365)
    raid_expiry: Annotated[Duration, at_most(MAX_RAID_EXPIRY)] = timedelta(hours=12)
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

    @model_validator(mode="after")
    def _valid_ladder(self, info: ValidationInfo) -> JurisdictionConfig:
        """The ladder's own rules; with the service's `limits` in the validation context (an
        admin's edit, see `merged`) also that every step comes in time."""
        limits = (info.context or {}).get("limits")
        try:
            ladder = self.to_ladder(limits or Limits())
            if limits is not None:
                check_reach(ladder, limits.max_duration)
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
            names=dict(self.name),
            rights=dict(self.rights),
            protocol=dict(self.protocol),
            emergency_contact=(
                self.emergency_contact.to_contact() if self.emergency_contact else None
            ),
            report_expiry=self.report_expiry,
            raid_expiry=self.raid_expiry,
        )


def merged(source: dict[str, Any], overrides: dict[str, Any], limits: Limits) -> JurisdictionConfig:
    """The file's section with an admin's overrides on top, validated as one, every step
    in time for the service's `limits`.

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
    return JurisdictionConfig.model_validate({**source, **overrides}, context={"limits": limits})


def check_reach(ladder: Ladder, longest: timedelta) -> None:
    """Refuse a ladder with a step that could come after its outcall is closed.

    An outcall is closed (its details destroyed, its alerts ended) `retention` after it
    starts. Its check-in is due at most `longest` (the longest check-in allowed) plus all
    `max_extension` after the start; each step comes `after` that, and whoever it alerts then
    needs `ack_timeout` to act. A step that does not fit would alert nobody, or too late.
    """
    latest = longest + ladder.max_extension
    for number, stage in enumerate(ladder.stages, 1):
        if latest + stage.after + ladder.ack_timeout > ladder.retention:
            raise LadderError(
                _(
                    "step {n} ({step}) comes too late. A check-in can run until {latest} after "
                    "the outcall starts (the longest check-in, {longest}, plus all extra time, "
                    "{extra}); this step comes {after} after that, and whoever it alerts needs "
                    "{answer} to act. But the details are destroyed and the alert closed "
                    "{kept} after the start. Make the step earlier, or keep the details longer."
                ).format(
                    n=number,
                    step=texts.step_line(stage.after, stage.notify),
                    latest=texts.length(latest),
                    longest=texts.length(longest),
                    extra=texts.length(ladder.max_extension),
                    after=texts.length(stage.after),
                    answer=texts.length(ladder.ack_timeout),
                    kept=texts.length(ladder.retention),
                )
            )


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
