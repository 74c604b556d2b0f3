"""The configuration file: TOML, validated by pydantic, overridable from the environment.

A bad file never produces a traceback: `load_config` raises `ConfigError` whose message
names the file, each bad key and what to do about it. Environment variables override the
file (`BUDDYCHECK_DATABASE__URL`, `BUDDYCHECK_TELEGRAM__TOKEN`, …), and the pepper comes
from `BUDDYCHECK_PEPPER` or `[crypto] pepper_file`, never from the database.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections import Counter
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.channels import registry
from checkins.i18n import _
from checkins.ladder import MAX_EXTENSION, LadderError
from checkins.policy import Limits, Policy
from checkins.rules import (
    Duration,
    JurisdictionConfig,
    Retention,
    Section,
    at_least,
    at_most,
    check_reach,
)
from checkins.sealing import PEPPER_MIN_BYTES

DEFAULT_DATABASE_URL = "sqlite:///data/buddycheck.db"
HOME_VARIABLE = "BUDDYCHECK_HOME"  # where the config file's relative paths start, if set
TEST_ONLY_KDF = "insecure-fast"
NEW_PEPPER = 'python3 -c "import secrets; print(secrets.token_hex(32))"'
# A random pepper of 32 or more bytes has far more different characters (hex has 16).
PEPPER_MIN_DISTINCT = 8


class ConfigError(Exception):
    """A configuration that cannot be used; the message says where and how to fix it."""


# The bounds of the durations below, each with its reason (the ladder's are in
# `checkins.ladder`). Beyond them a value is a typo, and a far-off deadline would overflow.
# A check-in longer than a day is not one booking.
MAX_CHECK_IN = timedelta(hours=24)
# A buddy code lives a week at most: an older unused one is more likely seen by the wrong person.
MAX_INVITE_TTL = timedelta(days=7)
# Signal's longest disappearing-message timer is four weeks.
MAX_DISAPPEARING_TIMER = timedelta(weeks=4)
# A send still unanswered after five minutes has failed: retrying it is what helps.
MAX_SEND_TIMEOUT = timedelta(minutes=5)
# Locked out longer than a day, a buddy could not open an alert's details when it matters.
MAX_PIN_LOCKOUT = timedelta(hours=24)
# Unlocked details stay on a buddy's screen an hour at most, seen by whoever holds the phone.
MAX_DETAILS_VISIBLE = timedelta(hours=1)
# A forgotten PIN is replaced within a week: longer, the member could open no alert meanwhile.
MAX_RESET_COOLING_OFF = timedelta(days=7)
# Who met whom and when (an ended outcall's row) is kept a month at most.
MAX_ENDED_RETENTION = timedelta(days=30)
# Sent texts name people; the outbox keeps them a week at most.
MAX_SENT_RETENTION = timedelta(days=7)
# An alert retried less often than hourly is as good as lost.
MAX_BACKOFF = timedelta(hours=1)
# An alert unsent for longer than this is an emergency for the operator, not a health detail.
MAX_ALERT_AGE = timedelta(hours=1)
# Zero here would mean a send or retry that never waits, or a lockout that locks nothing.
A_SECOND = timedelta(seconds=1)


class ServiceConfig(Section):
    default_jurisdiction: str
    max_buddies: int = Field(5, ge=1, le=20)
    min_duration: Annotated[Duration, at_most(MAX_CHECK_IN)] = timedelta(minutes=10)
    max_duration: Annotated[Duration, at_most(MAX_CHECK_IN)] = timedelta(hours=12)
    max_extension: Annotated[Duration, at_most(MAX_EXTENSION)] = timedelta(hours=2)
    invite_ttl: Annotated[Duration, at_least(A_SECOND), at_most(MAX_INVITE_TTL)] = timedelta(
        hours=24
    )

    @model_validator(mode="after")
    def _shortest_before_longest(self) -> ServiceConfig:
        if self.min_duration > self.max_duration:
            raise ValueError(_("min_duration must not be longer than max_duration"))
        return self


class DatabaseConfig(Section):
    """`[database]`.

    - `lock_timeout`: how long one transaction waits for a lock another connection holds
      (SQLite's busy timeout, PostgreSQL's `lock_timeout`) before it fails.
    - `safety_retry`: how long SAFE, SOS, "I'm on it" and the other safety actions keep
      being retried through a locked or full database or a lost connection before the
      person is told, straight in their chat, that it was NOT recorded.
    """

    url: str = DEFAULT_DATABASE_URL
    lock_timeout: Duration = Field(timedelta(seconds=10), gt=timedelta(0), le=timedelta(minutes=5))
    safety_retry: Duration = Field(timedelta(seconds=60), le=timedelta(minutes=10))


class TelegramConfig(Section):
    """`[telegram]`. The sending pace (`bot/ratelimit.py`):

    - `messages_per_second` (27) is the sustained rate and `burst` (3) how many may go at
      once after a pause, so the buddies of one stage are alerted together rather than one
      gate interval apart. Telegram documents about 30 messages a second to different chats
      (and counts them per second): in any one second the gate sends at most
      `messages_per_second + burst`, so keep that sum at 30 or under (a 429 pauses every
      send on the channel). With several processes sending for one bot, split it between
      them (docs/architecture.md, "Two processes").
    - `chat_gap`: at least this long between two messages to one chat (Telegram: one a
      second in a chat).
    """

    token: SecretStr = SecretStr("")
    base_url: str = "https://api.telegram.org/bot"
    # "send_only": this process sends (alerts, the outbox) but another one receives.
    mode: Literal["polling", "webhook", "send_only"] = "polling"
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(8443, ge=1, le=65535)
    webhook_url: str = ""
    webhook_secret: SecretStr = SecretStr("")
    messages_per_second: float = Field(27.0, gt=0, le=1000)
    burst: int = Field(3, ge=1, le=30)
    chat_gap: Annotated[Duration, at_most(timedelta(minutes=1))] = A_SECOND


class SignalConfig(Section):
    """`[signal]`: the signal-cli-rest-api service (json-rpc mode) and the bot's number.

    - `service`: "host:port" of signal-cli-rest-api, no scheme (e.g. "signal-api:8080").
    - `phone_number`: the bot's registered number, as signal-cli-rest-api knows it.
    - `connection_mode`: "auto" tries https then http; "http" for a private network or
      loopback; "https" when a TLS proxy is in front.
    - `disappearing_timer`: the chat timer the bot sets the first time it asks someone for a
      PIN (so the PIN does not stay on their phone); "0s" leaves chats alone.
    - `send_timeout`: how long one send may take before it is retried (a timed-out send may
      still have been delivered, so the person can get it twice — never zero times).
    """

    service: str = ""
    phone_number: str = ""
    connection_mode: Literal["auto", "http", "https"] = "auto"
    disappearing_timer: Annotated[Duration, at_most(MAX_DISAPPEARING_TIMER)] = timedelta(hours=1)
    send_timeout: Annotated[Duration, at_least(A_SECOND), at_most(MAX_SEND_TIMEOUT)] = timedelta(
        seconds=30
    )


class CryptoConfig(Section):
    """`[crypto]`. `argon2_memory_mib`: how much memory PIN hashing may use at once; it
    sets how many Argon2id runs go in parallel (`checkins/argon2_pool.py`)."""

    pepper_file: Path | None = None
    kdf: Literal["moderate", "interactive", "insecure-fast"] = "moderate"
    argon2_memory_mib: int = Field(512, ge=16, le=65536)


class SecurityConfig(Section):
    pin_attempts: int = Field(5, ge=1, le=20)
    pin_lockout: Annotated[Duration, at_least(A_SECOND), at_most(MAX_PIN_LOCKOUT)] = timedelta(
        minutes=30
    )
    unlocked_details_visible: Annotated[
        Duration, at_least(A_SECOND), at_most(MAX_DETAILS_VISIBLE)
    ] = timedelta(minutes=10)
    pin_reset_cooling_off: Annotated[Duration, at_most(MAX_RESET_COOLING_OFF)] = timedelta(hours=24)


class RetentionConfig(Section):
    details: Retention = timedelta(hours=48)
    ended_outcalls: Annotated[Duration, at_most(MAX_ENDED_RETENTION)] = timedelta(days=7)
    sent_messages: Annotated[Duration, at_most(MAX_SENT_RETENTION)] = timedelta(hours=24)


class OutboxConfig(Section):
    """`[outbox]`. `instance` names this process among those sharing one database: on
    start-up it takes back what the process of that name held when it stopped or died."""

    workers: int = Field(8, ge=1, le=64)
    instance: str = Field("main", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    max_backoff: Annotated[Duration, at_least(A_SECOND), at_most(MAX_BACKOFF)] = timedelta(
        minutes=5
    )


class HealthConfig(Section):
    """`[health]`: `/healthz` and `/metrics` for the operator (docs/operating.md).

    - `listen`: "host:port" on a loopback address (127.0.0.1, ::1 or localhost), or "" for
      none. They say how busy the service is, so they are never served to the network.
    - `alert_age`: an alert still unsent after this long makes `/healthz` fail.
    """

    listen: str = "127.0.0.1:9108"
    alert_age: Annotated[Duration, at_least(A_SECOND), at_most(MAX_ALERT_AGE)] = timedelta(
        minutes=2
    )

    @field_validator("listen")
    @classmethod
    def _loopback_only(cls, value: str) -> str:
        if value and loopback_address(value) is None:
            raise ValueError(
                _(
                    'listen must be a loopback host and a port, like "127.0.0.1:9108" '
                    '(or "" for no health endpoints); got "{value}"'
                ).format(value=value)
            )
        return value


def loopback_address(listen: str) -> tuple[str, int] | None:
    """`listen` split into a loopback host and a port, or None if it is not one."""
    host, _colon, port = listen.rpartition(":")
    host = host.strip("[]")
    if not port.isdigit() or not 0 < int(port) < 65536:
        return None
    if host != "localhost":
        try:
            if not ipaddress.ip_address(host).is_loopback:
                return None
        except ValueError:
            return None
    return host, int(port)


class Settings(BaseSettings):
    """The whole configuration. Field names match the TOML sections."""

    model_config = SettingsConfigDict(
        env_prefix="BUDDYCHECK_", env_nested_delimiter="__", extra="forbid"
    )

    service: ServiceConfig
    database: DatabaseConfig = DatabaseConfig()
    telegram: TelegramConfig = TelegramConfig()
    signal: SignalConfig = SignalConfig()
    crypto: CryptoConfig = CryptoConfig()
    security: SecurityConfig = SecurityConfig()
    retention: RetentionConfig = RetentionConfig()
    outbox: OutboxConfig = OutboxConfig()
    health: HealthConfig = HealthConfig()
    jurisdictions: dict[str, JurisdictionConfig]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The environment overrides the file."""
        return (env_settings, init_settings)

    @model_validator(mode="after")
    def _default_jurisdiction_exists(self) -> Settings:
        if not self.jurisdictions:
            raise ValueError(_("add at least one [jurisdictions.<id>] section"))
        if self.service.default_jurisdiction not in self.jurisdictions:
            raise ValueError(
                _(
                    "service.default_jurisdiction is '{value}', but there is no "
                    "[jurisdictions.{value}] section (known: {known})"
                ).format(
                    value=self.service.default_jurisdiction,
                    known=", ".join(sorted(self.jurisdictions)),
                )
            )
        return self

    @model_validator(mode="after")
    def _every_step_in_time(self) -> Settings:
        """Each place's ladder, with this file's longest check-in and retention (an admin's
        edit is checked the same way, `checkins.rules.merged`)."""
        limits = self.limits()
        for key, section in sorted(self.jurisdictions.items()):
            try:
                check_reach(section.to_ladder(limits), limits.max_duration)
            except LadderError as error:
                raise ValueError(f"jurisdictions.{key}: {error}") from None
        return self

    @model_validator(mode="after")
    def _emergency_contacts_on_known_messengers(self) -> Settings:
        known = registry.names()
        for key, section in sorted(self.jurisdictions.items()):
            contact = section.emergency_contact
            if contact is not None and contact.channel and contact.channel not in known:
                raise ValueError(
                    _(
                        "jurisdictions.{key}.emergency_contact: channel is '{value}', which is "
                        "not a messenger buddycheck knows (known: {known})"
                    ).format(key=key, value=contact.channel, known=", ".join(known))
                )
        return self

    def limits(self) -> Limits:
        return Limits(
            max_buddies=self.service.max_buddies,
            min_duration=self.service.min_duration,
            max_duration=self.service.max_duration,
            max_extension=self.service.max_extension,
            pin_attempts=self.security.pin_attempts,
            pin_lockout=self.security.pin_lockout,
            invite_ttl=self.service.invite_ttl,
            details_retention=self.retention.details,
            ended_retention=self.retention.ended_outcalls,
            sent_retention=self.retention.sent_messages,
            unlocked_details_visible=self.security.unlocked_details_visible,
            pin_reset_cooling_off=self.security.pin_reset_cooling_off,
        )

    def policy(self) -> Policy:
        limits = self.limits()
        jurisdictions = {
            key: section.to_jurisdiction(key, limits) for key, section in self.jurisdictions.items()
        }
        sources = {key: section.model_dump() for key, section in self.jurisdictions.items()}
        return Policy(jurisdictions, self.service.default_jurisdiction, limits, sources)


def load_config(path: str | Path) -> Settings:
    """Read, validate and return the configuration, or raise `ConfigError` saying why not."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            _(
                "Configuration file {path} does not exist. Copy config.example.toml and edit it."
            ).format(path=path)
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(
            _("Cannot read configuration file {path}: {error}").format(path=path, error=error)
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(
            _(
                "{path} is not valid TOML: {error}. Check quotes, brackets and '=' signs there."
            ).format(path=path, error=error)
        ) from None
    except RecursionError:
        raise ConfigError(
            _("{path} nests brackets too deeply to read. Check the brackets there.").format(
                path=path
            )
        ) from None
    home = os.environ.get(HOME_VARIABLE) or path.resolve().parent
    return settings_from(anchor_paths(data, Path(home)), str(path))


def anchor_paths(data: dict[str, Any], directory: Path) -> dict[str, Any]:
    """The file's relative paths (the SQLite database, the pepper file) made relative to
    `directory`: the file's own directory, or `BUDDYCHECK_HOME` where that is set (the
    container sets /app, its read-only configuration living elsewhere), never wherever the
    command runs: run from elsewhere, a relative database path silently made a new, empty
    database. Values given in the environment override these and stay relative to the
    current directory. Anything malformed is left alone for validation to explain."""
    anchored = dict(data)
    database = data.get("database", {})
    if isinstance(database, dict):
        url = database.get("url", DEFAULT_DATABASE_URL)
        anchored["database"] = {**database, "url": _anchored_url(url, directory)}
    crypto = data.get("crypto")
    if isinstance(crypto, dict) and isinstance(crypto.get("pepper_file"), str):
        pepper = Path(crypto["pepper_file"])
        if str(pepper) and not pepper.is_absolute():
            anchored["crypto"] = {**crypto, "pepper_file": str(directory / pepper)}
    return anchored


def _anchored_url(url: Any, directory: Path) -> Any:
    try:
        parsed = make_url(url) if isinstance(url, str) else None
    except ArgumentError:
        return url
    if parsed is None or parsed.get_backend_name() != "sqlite" or not parsed.database:
        return url
    if parsed.database == ":memory:" or Path(parsed.database).is_absolute():
        return url
    anchored = parsed.set(database=str(directory / parsed.database))
    return anchored.render_as_string(hide_password=False)


def settings_from(data: dict[str, Any], source: str) -> Settings:
    """Validate already-parsed settings; `source` names where they came from in errors."""
    try:
        return Settings(**data)
    except ValidationError as error:
        lines = [f"  {_where(item['loc'])}{_explain(item)}" for item in error.errors()]
        raise ConfigError(
            _("Configuration error in {source}:").format(source=source)
            + "\n"
            + "\n".join(lines)
            + "\n"
            + _("Fix these and run `buddycheck check-config {source}` again.").format(source=source)
        ) from None


def no_pepper() -> str:
    """What to do when there is no pepper: where it goes, and the commands that make one."""
    return _(
        "No pepper configured. Make one, in a directory that survives reboots and only you "
        "can read:\n"
        '  sudo install -d -m 700 -o "$USER" /etc/buddycheck\n'
        "  (umask 077; {command} > /etc/buddycheck/pepper)\n"
        'then set [crypto] pepper_file = "/etc/buddycheck/pepper" (or BUDDYCHECK_PEPPER). '
        "Keep it outside the database and its backups; losing it makes every sealed key "
        "unreadable."
    ).format(command=NEW_PEPPER)


def load_pepper(settings: Settings) -> bytes | None:
    """The server pepper from BUDDYCHECK_PEPPER or the pepper file; None if neither is set.

    Refused: a file that other users of the machine can read, and a pepper that is short or
    obviously not random (see `_pepper_weakness`).
    """
    raw = os.environ.get("BUDDYCHECK_PEPPER", "").encode()
    path = settings.crypto.pepper_file
    if not raw and path:
        try:
            mode = path.stat().st_mode
            raw = path.read_bytes().strip()
        except OSError as error:
            raise ConfigError(
                _("Cannot read the pepper file {path}: {error}").format(
                    path=path, error=error.strerror
                )
            ) from None
        if mode & 0o077:
            raise ConfigError(
                _(
                    "Other users of this machine can read or change the pepper file {path} "
                    "(its mode is {mode}). Make it the bot's alone: chmod 600 {path}"
                ).format(path=path, mode=oct(mode & 0o777)[2:])
            )
    if not raw:
        return None
    if len(raw) < PEPPER_MIN_BYTES:
        raise ConfigError(
            _("The pepper must be at least {n} bytes. Generate one with: {command}").format(
                n=PEPPER_MIN_BYTES, command=NEW_PEPPER
            )
        )
    weakness = _pepper_weakness(raw)
    if weakness:
        raise ConfigError(
            _(
                "The pepper is too easy to guess: {why}. Generate a random one with: {command}"
            ).format(why=weakness, command=NEW_PEPPER)
        )
    return raw


def pepper_present(settings: Settings) -> bool:
    """Whether there is a pepper here to read (the environment, or an existing file)."""
    path = settings.crypto.pepper_file
    return bool(os.environ.get("BUDDYCHECK_PEPPER")) or bool(path and path.exists())


def production_problems(settings: Settings) -> list[str]:
    """What makes these settings unfit to protect real people: the tests' fast KDF, or a
    pepper that is weak or that others can read (when there is one here to check).

    `buddycheck run` starts only without any, and `check-config` lists them. The demo and
    the tests build the service directly, with the fast KDF their throwaway data needs.
    """
    problems = []
    if settings.crypto.kdf == TEST_ONLY_KDF:
        problems.append(
            _(
                '[crypto] kdf = "{kdf}" is for tests and the demo only: with the database and '
                "the pepper, every PIN would be guessed within minutes. Set kdf = "
                '"moderate" (or "interactive" on a small machine).'
            ).format(kdf=TEST_ONLY_KDF)
        )
    if pepper_present(settings):
        try:
            load_pepper(settings)
        except ConfigError as error:
            problems.append(str(error))
    return problems


def _pepper_weakness(raw: bytes) -> str | None:
    """Why a pepper is plainly not random, or None. This catches mistakes (a placeholder of
    one letter, a short piece repeated, a keyboard run); it cannot prove a pepper random."""
    steps = Counter(b - a for a, b in pairwise(raw))
    if raw in (raw + raw)[1:-1]:
        return _("it is a short piece repeated")
    if len(set(raw)) < PEPPER_MIN_DISTINCT:
        return _("it uses fewer than {n} different characters").format(n=PEPPER_MIN_DISTINCT)
    if steps.most_common(1)[0][1] * 2 >= len(raw) - 1:
        return _("it is mostly a run like abcd or 1111")
    return None


def _where(loc: tuple[int | str, ...]) -> str:
    """`jurisdictions.north.ladder[1]: `, or nothing for a rule across sections (its message
    names what it is about)."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return f"{text}: " if text else ""


def _explain(item: Any) -> str:
    if item["type"] == "extra_forbidden":
        return _("unknown key — check its spelling against config.example.toml")
    if item["type"] == "missing":
        return _("required, but missing")
    message = str(item["msg"])
    return message.removeprefix("Value error, ")
