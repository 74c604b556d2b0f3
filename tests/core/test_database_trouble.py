"""SAFE, SOS and "I'm on it" are never lost to a database that cannot take them.

Another program holds the database locked for longer than a transaction waits
(`[database] lock_timeout`), or the disk is full: a safety action is retried for
`[database] safety_retry`, the person is told at once that it is taking longer, and in the
end either it is recorded (the usual reply) or they are told, straight in their chat (the
outbox is in the same database), that it was NOT recorded and what to do. Anything else
they asked for gets a plain "something went wrong" instead of silence.

Timeouts are shortened so the tests take seconds; the lock and the full disk are real.
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import event, exc, text
from sqlalchemy.engine import make_url

from bot.app import App
from bot.channels.console import ConsoleChannel
from bot.config import settings_from
from storage.db import Database, transient
from tests.chat import Chat
from tests.conftest import ManualClock, core_config

LOCK_TIMEOUT = timedelta(milliseconds=200)
NOT_RECORDED = "NOT recorded"


async def trouble_chat(url: str, safety_retry: timedelta) -> Chat:
    """The app with short database timeouts, Robin with her buddy Sam, and an outcall."""
    config = core_config(url)
    config["database"].update(lock_timeout=LOCK_TIMEOUT, safety_retry=safety_retry)
    console = ConsoleChannel(printer=lambda _text: None)
    app = App(
        settings_from(config, "test"), secrets.token_bytes(32), {"console": console}, ManualClock()
    )
    app.db.migrate()
    await console.start(app.conversation.handle)
    chat = Chat(app, console)
    for person in ("robin", "sam"):
        await chat.register(person)
    await chat.pair("robin", "sam")
    assert "Saved and sealed" in await chat.send("robin", "/outcall KX482B | 14 Hollow Lane | | 2h")
    return chat


@pytest.fixture
async def quick(database_url: str) -> AsyncIterator[Chat]:
    """Safety actions are retried for up to 5 seconds."""
    chat = await trouble_chat(database_url, timedelta(seconds=5))
    yield chat
    chat.app.db.dispose()


@pytest.fixture
async def impatient(database_url: str) -> AsyncIterator[Chat]:
    """Safety actions are retried for under a second: a lock held longer wins."""
    chat = await trouble_chat(database_url, timedelta(milliseconds=600))
    yield chat
    chat.app.db.dispose()


class Lock:
    """Another program's connection holding the database so nobody else can use it."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            self._conn: Any = sqlite3.connect(parsed.database or "", isolation_level=None)
            self._conn.execute("BEGIN EXCLUSIVE")  # every transaction here begins IMMEDIATE
        else:
            plain = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
            self._conn = psycopg.connect(plain)
            self._conn.execute("LOCK TABLE members IN ACCESS EXCLUSIVE MODE")  # reads wait too
        self.held = True

    def release(self) -> None:
        if self.held:
            self.held = False
            self._conn.rollback()
            self._conn.close()


@contextmanager
def locked(chat: Chat, release_after: float | None = None) -> Iterator[Lock]:
    """Hold the lock, and let it go after `release_after` seconds (or at the end)."""
    lock = Lock(chat.app.db.url)
    if release_after is not None:
        asyncio.get_running_loop().call_later(release_after, lock.release)
    try:
        yield lock
    finally:
        lock.release()


async def type_while_locked(chat: Chat, person: str, line: str) -> str:
    """What `person` is told straight in the chat (the outbox can't be sent meanwhile)."""
    mark = len(chat.console.transcript)
    await chat.console.feed(person, line)
    return "\n".join(t for to, t in chat.console.transcript[mark:] if to == person)


def state_of_outcall(chat: Chat) -> str:
    with chat.app.db.transaction() as session:
        return str(session.scalar(text("SELECT state FROM outcalls ORDER BY id DESC LIMIT 1")))


async def test_safe_is_retried_through_a_locked_database_and_recorded(quick: Chat) -> None:
    with locked(quick, release_after=1.0):
        reply = await quick.send("robin", "SAFE")
    assert "taking longer" in reply  # told at once, straight in the chat
    assert "Glad you're safe" in reply
    assert state_of_outcall(quick) == "safe"


async def test_sos_and_on_it_are_retried_through_a_locked_database(quick: Chat) -> None:
    with locked(quick, release_after=1.0):
        reply = await quick.send("robin", "SOS")
    assert "taking longer" in reply and "SOS sent" in reply
    alert = "\n".join(t for to, t in quick.console.transcript if to == "sam")
    assert "SOS" in alert
    with locked(quick, release_after=1.0):
        reply = await quick.send("sam", "ON IT")
    assert "You are handling Robin's alert" in reply


async def test_a_database_locked_for_too_long_is_told_not_recorded_in_the_chat(
    impatient: Chat,
) -> None:
    chat = impatient
    with locked(chat):
        safe = await type_while_locked(chat, "robin", "SAFE")
        sos = await type_while_locked(chat, "robin", "SOS")
        other = await type_while_locked(chat, "robin", "/buddies")
    assert "taking longer" in safe
    assert NOT_RECORDED in safe and "SAFE again" in safe and "call your buddy" in safe
    assert "NOT sent" in sos and "Call your buddies" in sos
    assert "went wrong" in other
    assert state_of_outcall(chat) == "active"  # the check-in really was not recorded ...
    assert "Glad you're safe" in await chat.send("robin", "SAFE")  # ... and works again


def fill_the_disk(db_file: Path) -> int:
    """Make the file unable to grow, and fill what room is left, as a full disk would.

    SQLite takes the limit per connection (`PRAGMA max_page_count`), so the app's
    connections get it too; rows of decreasing size fill the last page of the outbox,
    which every reply writes to. Returns the limit.
    """
    filler = sqlite3.connect(db_file, isolation_level=None)
    filler.execute("VACUUM")  # no free pages left to reuse
    pages = int(filler.execute("PRAGMA page_count").fetchone()[0])
    filler.execute(f"PRAGMA max_page_count = {pages}")
    columns = (
        "channel, address, kind, priority, text, buttons, state, attempts, next_attempt_at,"
        " created_at"
    )
    for size in (2000, 500, 100, 20, 1):
        for _row in range(1000):
            try:
                filler.execute(
                    f"INSERT INTO outbox ({columns}) VALUES "
                    "('console', 'filler', 'reply', 9, ?, '[]', 'sent', 0, "
                    "'2026-01-01 00:00:00', '2026-01-01 00:00:00')",
                    ("x" * size,),
                )
            except sqlite3.OperationalError as error:
                assert "full" in str(error)
                break
    filler.close()
    return pages


async def test_a_full_disk_is_told_not_recorded_and_works_once_there_is_room(
    tmp_path: Path,
) -> None:
    chat = await trouble_chat(f"sqlite:///{tmp_path / 'b.db'}", timedelta(milliseconds=600))
    engine = chat.app.db.engine
    chat.app.db.dispose()
    pages = fill_the_disk(tmp_path / "b.db")

    def no_room(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    event.listen(engine, "connect", no_room)
    try:
        safe = await type_while_locked(chat, "robin", "SAFE")
        sos = await type_while_locked(chat, "robin", "SOS")
    finally:
        event.remove(engine, "connect", no_room)
        chat.app.db.dispose()
    assert NOT_RECORDED in safe and "taking longer" in safe
    assert "NOT sent" in sos
    assert state_of_outcall(chat) == "active"
    assert "SOS sent" in await chat.send("robin", "SOS")  # room again: it goes through
    chat.app.db.dispose()


def test_a_lost_postgresql_connection_is_retried_and_a_broken_rule_is_not(
    postgres_url: str,
) -> None:
    """`transient` on real failures: the server ending the connection mid-transaction (a
    restart, a failover) may pass; a constraint the data breaks never will."""
    db = Database(postgres_url)
    db.migrate()
    try:
        with pytest.raises(exc.DBAPIError) as lost, db.transaction() as session:
            pid = session.scalar(text("SELECT pg_backend_pid()"))
            with db.engine.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
                other.commit()
            session.execute(text("SELECT 1"))
        assert transient(lost.value)
        with pytest.raises(exc.DBAPIError) as broken, db.transaction() as session:
            session.execute(text("INSERT INTO members (id) VALUES (NULL)"))
        assert not transient(broken.value)
        with db.transaction() as session:  # and the pool recovered on its own
            assert session.scalar(text("SELECT 1")) == 1
    finally:
        db.dispose()
