"""A seized database file or a log reveals no plate, address, note or PIN — before or after.

The flows run as people use them: through the conversation (registration PINs typed twice, a
guided /outcall step by step, +30, a missed check-in, unlock with a right and a wrong PIN,
"I'm on it", SOS, cancel) and through the engine (alerts, the retention limit, the purge,
with the clock moved days ahead). Then everything a thief or an operator could copy is
searched: the SQLite file with its `-wal` and `-shm` files, taken while the process still
has them open (the WAL then still holds every page written), or every column of every
PostgreSQL table; and every log line every logger wrote at DEBUG.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from bot import logs
from bot.app import App
from bot.channels.console import ConsoleChannel
from tests.conftest import PIN, ManualClock, core_settings, make_world

CANARIES = ("CANARYPLATE77", "17 Canary Wharf Row", "canary-note-tattoo")

# One set of details per flow, so a leak says which flow leaked.
GUIDED = ("GUIDEDPLATE31", "9 Guided Close flat 2", "guided-note-scarf")
SOS = ("SOSPLATE42", "42 Panic Parade", "sos-note-blue-van")
EXPIRED = ("EXPIREDPLATE55", "3 Expiry Street", "expired-note-ring")
DETAILS = GUIDED + SOS + EXPIRED
# Twelve digits each, so none can turn up by chance in ciphertext, salts or timestamps.
PINS = {"robin": "583920174615", "sam": "692031857264", "kit": "740318265917"}
WRONG_PIN, MISMATCHED_PIN = "917364028571", "864209175302"
ALL_PINS = (*PINS.values(), WRONG_PIN, MISMATCHED_PIN)


def encodings(secret: str) -> list[bytes]:
    """How a string could sit in a file: UTF-8, UTF-16 (SQLite may use it), hex (bytea)."""
    raw = secret.encode()
    return [raw, secret.encode("utf-16-le"), secret.encode("utf-16-be"), raw.hex().encode()]


def raw_database_bytes(directory: Path) -> bytes:
    """The database file plus its WAL and shared-memory files, as a thief would copy them."""
    return b"".join(p.read_bytes() for p in directory.iterdir() if p.name.startswith("buddycheck"))


def test_no_detail_ever_reaches_the_database_file_or_the_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    clock = ManualClock()
    world = make_world(f"sqlite:///{tmp_path / 'buddycheck.db'}", clock)
    plate, address, note = CANARIES
    world.service.start_outcall(world.worker, plate, address, note, "30m")
    clock.advance(minutes=41)
    world.engine.tick()
    stored_while_alerting = raw_database_bytes(tmp_path)
    unlocked = world.service.unlock(world.buddy, world.outcall_ref(), PIN)
    assert plate in unlocked.text  # the details are really there for the buddy ...
    world.service.confirm_safe(world.buddy, world.outcall_ref())
    world.db.dispose()
    stored_after = raw_database_bytes(tmp_path)
    for canary in CANARIES:
        for blob in (stored_while_alerting, stored_after):
            assert canary.encode() not in blob  # ... and nowhere in the file, WAL included
            assert canary.encode("utf-16-le") not in blob
        assert canary not in caplog.text
    assert PIN.encode() not in stored_after


# -- every flow, through the conversation ----------------------------------------------------


class EveryLogger(logging.Handler):
    """Every record any logger emits, formatted in full (arguments and tracebacks included)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []
        self.info_and_above: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
        if record.levelno >= logging.INFO:
            self.info_and_above.append(self.format(record))


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> Iterator[EveryLogger]:
    """DEBUG everywhere: the root logger and every logger another test may have quietened."""
    caplog.set_level(logging.DEBUG)
    handler = EveryLogger()
    root = logging.getLogger()
    root.addHandler(handler)
    loggers = [
        logger
        for logger in logging.root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    saved = [(logger, logger.level, logger.propagate) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        if not logger.propagate:
            logger.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        for logger, level, _propagate in saved:
            logger.setLevel(level)
            logger.removeHandler(handler)


class People:
    """Robin (a worker) and her buddies Sam and Kit, typing into the real conversation."""

    def __init__(self, app: App, console: ConsoleChannel, clock: ManualClock) -> None:
        self.app, self.console, self.clock = app, console, clock

    async def say(self, person: str, line: str, expect: str) -> str:
        """`person` types `line`; every reply is delivered; one of them contains `expect`."""
        mark = len(self.console.transcript)
        await self.console.feed(person, line)
        await self.app.dispatcher.drain()
        replies = "\n".join(t for to, t in self.console.transcript[mark:] if to == person)
        assert expect in replies, f"{person} typed {line!r}, expected {expect!r}: {replies!r}"
        return replies

    async def wait(self, **kwargs: float) -> None:
        """Time passes: the engine runs, retention is enforced, everything queued is sent."""
        self.clock.advance(**kwargs)
        self.app.engine.tick()
        self.app.engine.purge()
        await self.app.dispatcher.drain()

    async def register(self, person: str) -> None:
        pin = PINS[person]
        await self.say(person, "/start", "Choose your language")
        await self.say(person, "English", "Where do you work")
        await self.say(person, "north", "choose a nickname")
        await self.say(person, person.title(), "choose a PIN")
        await self.say(person, pin, "same PIN")
        await self.say(person, MISMATCHED_PIN, "didn't match")
        await self.say(person, pin, "same PIN")
        await self.say(person, pin, f"Welcome, {person.title()}")

    async def become_buddy(self, buddy: str) -> None:
        invite = await self.say("robin", "/invite", "Your buddy code: ")
        code = invite.split("Your buddy code: ")[1][:9]
        await self.say(buddy, f"/accept {code}", "You are now Robin's buddy")


async def every_flow(people: People, snapshot: Callable[[str], None]) -> None:
    """Everything the service does with details and PINs; `snapshot` after each stage."""
    for person in PINS:
        await people.register(person)
    await people.become_buddy("sam")
    await people.become_buddy("kit")
    snapshot("registered and paired")

    # A guided outcall, extended, then missed: both buddies are alerted.
    plate, address, note = GUIDED
    await people.say("robin", "/outcall", "car plate")
    await people.say("robin", plate, "What is the address")
    await people.say("robin", address, "Anything else")
    await people.say("robin", note, "How long")
    await people.say("robin", "45m", "Saved and sealed")
    await people.say("robin", "+30", "Check in by")
    snapshot("guided outcall sealed")
    await people.wait(minutes=76)
    await people.wait(minutes=11)
    await people.say("kit", "UNLOCK", "Send your PIN")
    await people.say("kit", WRONG_PIN, "Wrong PIN")
    await people.say("sam", "UNLOCK", "Send your PIN")
    unlocked = await people.say("sam", PINS["sam"], plate)
    assert address in unlocked and note in unlocked  # the buddy really can read them
    await people.say("sam", "ON IT", "You are handling Robin's alert")
    snapshot("alerted and unlocked")
    await people.say("robin", "SAFE", "Glad you're safe")
    snapshot("checked in late")

    # A one-message outcall, then SOS, unlocked; the worker's cancel only asks the buddies,
    # and a buddy's confirmation ends it.
    plate, address, note = SOS
    await people.say("robin", f"/outcall {plate} | {address} | {note} | 2h", "Saved and sealed")
    await people.say("robin", "SOS", "SOS sent")
    await people.say("kit", "UNLOCK", "Send your PIN")
    await people.say("kit", PINS["kit"], plate)
    snapshot("SOS unlocked")
    await people.say("robin", "/cancel", "SOS stays open")
    asked = await people.say("kit", "SAFE", "Are you sure Robin is safe?")
    yes = re.search(r"(\d+)\. Yes", asked)
    assert yes is not None
    await people.say("kit", yes.group(1), "You confirmed Robin is safe")

    # An outcall nobody settles: alerts, then the retention limit closes it, then the purge.
    plate, address, note = EXPIRED
    await people.say("robin", f"/outcall {plate} | {address} | {note} | 1h", "Saved and sealed")
    await people.wait(hours=2)
    snapshot("expired outcall alerting")
    await people.wait(hours=47)
    assert any("retention limit" in t for to, t in people.console.transcript if to == "robin")
    snapshot("expired by the retention limit")
    await people.wait(days=8)
    snapshot("purged")
    assert not any(pin in t for _to, t in people.console.transcript for pin in ALL_PINS)


def flow_app(url: str, clock: ManualClock) -> tuple[App, ConsoleChannel]:
    console = ConsoleChannel(printer=lambda _text: None)
    app = App(core_settings(url), secrets.token_bytes(32), {"console": console}, clock=clock)
    app.db.migrate()
    return app, console


def assert_nothing_secret(where: str, blob: bytes) -> None:
    for secret in (*DETAILS, *ALL_PINS):
        for encoded in encodings(secret):
            assert encoded not in blob, f"{secret!r} is readable in {where}"


def assert_logs_clean(logs: EveryLogger, caplog: pytest.LogCaptureFixture) -> None:
    everything = "\n".join(logs.lines) + "\n" + caplog.text
    # The scan means something only if DEBUG output really was captured, SQL included.
    assert any(line.startswith("sqlalchemy.engine") for line in logs.lines)
    assert_nothing_secret("the logs", everything.encode())


async def test_every_flow_leaves_nothing_in_the_sqlite_files_or_any_log(
    tmp_path: Path, all_logs: EveryLogger, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock()
    app, console = flow_app(f"sqlite:///{tmp_path / 'buddycheck.db'}", clock)
    await console.start(app.conversation.handle)
    copies: dict[str, bytes] = {}

    def snapshot(stage: str) -> None:
        """Copy the files as they are now, the process still running (the WAL not merged)."""
        files = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
        assert files.get("buddycheck.db-wal"), "the WAL must hold pages, or this proves less"
        assert "buddycheck.db-shm" in files
        copies[stage] = b"".join(files[name] for name in sorted(files))

    try:
        await every_flow(People(app, console, clock), snapshot)
    finally:
        app.db.dispose()
    copies["after shutdown"] = raw_database_bytes(tmp_path)
    assert b"Robin" in copies["registered and paired"]  # aliases are plain: the scan can see
    for stage, blob in copies.items():
        assert_nothing_secret(f"the SQLite files ({stage})", blob)
    assert_logs_clean(all_logs, caplog)


@pytest.fixture
def verbose_logs() -> Iterator[EveryLogger]:
    """Logging as `buddycheck --verbose run` sets it up: root at INFO, libraries pinned."""
    handler = EveryLogger()
    root = logging.getLogger()
    saved = root.level
    root.setLevel(logging.INFO)
    logs.quiet_library_loggers()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(saved)


async def test_no_alias_or_messenger_id_reaches_the_logs_at_info(
    tmp_path: Path, verbose_logs: EveryLogger
) -> None:
    """Who uses the service is sensitive too: at the verbose level an operator runs with, no
    log line names a person, by alias or by messenger id."""
    clock = ManualClock()
    app, console = flow_app(f"sqlite:///{tmp_path / 'buddycheck.db'}", clock)
    await console.start(app.conversation.handle)
    try:
        await every_flow(People(app, console, clock), lambda _stage: None)
        await app._purge()  # the one job that logs at INFO in these flows
    finally:
        app.db.dispose()
    assert verbose_logs.info_and_above, "INFO lines must have been written, or this proves less"
    for name in PINS:  # the console ids are the names; the aliases are the same, capitalised
        pattern = re.compile(rf"\b{name}\b", re.IGNORECASE)
        leaked = [line for line in verbose_logs.info_and_above if pattern.search(line)]
        assert not leaked, f"{name} is named in the logs: {leaked[:2]}"


def table_contents(app: App) -> bytes:
    """Every column of every table, as text (bytea as hex), in one blob."""
    with app.db.transaction() as session:
        columns = session.execute(
            text(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
            )
        ).all()
        assert {"members", "outcalls", "outbox"} <= {table for table, _column in columns}
        values = [
            value
            for table, column in columns
            for (value,) in session.execute(text(f'SELECT "{column}"::text FROM "{table}"'))
            if value is not None
        ]
    return "\n".join(values).encode()


async def test_every_flow_leaves_nothing_in_postgresql_or_any_log(
    postgres_url: str, all_logs: EveryLogger, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock()
    app, console = flow_app(postgres_url, clock)
    await console.start(app.conversation.handle)
    dumps: dict[str, bytes] = {}

    def snapshot(stage: str) -> None:
        dumps[stage] = table_contents(app)

    try:
        await every_flow(People(app, console, clock), snapshot)
    finally:
        app.db.dispose()
    assert b"Robin" in dumps["registered and paired"]  # the dump really reads the tables
    for stage, blob in dumps.items():
        assert_nothing_secret(f"PostgreSQL ({stage})", blob)
    assert_logs_clean(all_logs, caplog)
