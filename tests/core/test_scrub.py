"""Shredded means gone from the files: after "I'm safe", /cancel or the retention limit, the
envelope and its sealed keys cannot be read back out of the database files, however they
are copied, once the app's `scrub` job has run (at most a minute later).

The files are read as someone who seized the disk would: the SQLite file with its `-wal` and
`-shm` copied while the process still has them open, and every file of the PostgreSQL
database's directory after a CHECKPOINT has written what PostgreSQL holds in memory.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import delete, select, text, update

from bot.app import SCRUB_SECONDS, App
from bot.channels.console import ConsoleChannel
from checkins.lifecycle import begin
from checkins.security import SecurityService
from storage import queries
from storage.db import Database
from storage.scrub import LOCK_WAIT_SECONDS, REBUILD_SECONDS, SEALED_TABLES, Scrubber
from storage.tables import Envelope, Member
from tests.chat import Chat
from tests.conftest import PIN, ManualClock, World, core_settings, make_world

SMALL = ("SCRUBPLATE19", "19 Scrub Lane", "small note")
# Four-byte characters in every field: an envelope bigger than a SQLite page (so it spills
# into overflow pages) and than PostgreSQL's inline limit (so it is stored in TOAST).
LARGE = ("🚗" * 300, "🏠" * 300, "🔑" * 300)
CHUNK = 32


def readable(secret: bytes, files: bytes, step: int = CHUNK) -> bool:
    """Whether a 32-byte piece of `secret`, taken every `step` bytes, is in `files`: a large
    value is split across pages, so looking for it whole would miss its pieces. Any copy of
    `step` + 31 bytes or more contains one of these pieces."""
    return any(secret[i : i + CHUNK] in files for i in range(0, len(secret) - CHUNK + 1, step))


def sqlite_files(directory: Path) -> bytes:
    """The database file, its WAL and its shared memory, copied while they are open."""
    return b"".join(p.read_bytes() for p in sorted(directory.iterdir()) if p.name.startswith("b."))


def postgresql_files(db: Database) -> bytes:
    """Every file of this database's directory, after a checkpoint wrote out what PostgreSQL
    held in memory (read through the server as superuser, so no file permissions matter)."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("CHECKPOINT"))
        oid = connection.scalar(
            text("SELECT oid FROM pg_database WHERE datname = current_database()")
        )
        directory = f"base/{oid}"
        names = connection.scalars(text("SELECT pg_ls_dir(:d)"), {"d": directory}).all()
        read = text("SELECT pg_read_binary_file(CAST(:f AS text), 0, 100000000, true)")
        return b"".join(
            connection.scalar(read, {"f": f"{directory}/{name}"}) or b"" for name in names
        )


def database_files(app: App, directory: Path) -> bytes:
    return sqlite_files(directory) if app.db.is_sqlite else postgresql_files(app.db)


def sealed_bytes(db: Database, worker: str) -> list[bytes]:
    """The envelope and sealed keys of `worker`'s outcall, as stored now."""
    mine = "SELECT o.id FROM outcalls o JOIN members m ON m.id = o.worker_id WHERE m.alias = :w"
    with db.transaction() as session:
        envelopes = session.scalars(
            text(f"SELECT ciphertext FROM envelopes WHERE outcall_id IN ({mine})"), {"w": worker}
        ).all()
        keys = session.scalars(
            text(f"SELECT sealed FROM sealed_keys WHERE outcall_id IN ({mine})"), {"w": worker}
        ).all()
    return [bytes(b) for b in (*envelopes, *keys)]


@pytest.fixture
async def running(database_url: str, tmp_path: Path) -> AsyncIterator[Chat]:
    """The app started as `buddycheck run` starts it (its jobs scheduled), on a manual
    clock, with Robin and Sam, each the other's buddy."""
    if database_url.startswith("sqlite"):
        database_url = f"sqlite:///{tmp_path / 'b.db'}"
    console = ConsoleChannel(printer=lambda _text: None)
    app = App(
        core_settings(database_url), secrets.token_bytes(32), {"console": console}, ManualClock()
    )
    await app.start()
    # The test runs each job when it wants, and handles typed lines in its own task (not
    # the app's poke), so each reply has been delivered when `Chat.send` returns.
    app.scheduler.pause()
    await console.start(app.conversation.handle)
    chat = Chat(app, console)
    await chat.register("robin")
    await chat.register("sam")
    await chat.pair("robin", "sam")
    await chat.pair("sam", "robin")
    try:
        yield chat
    finally:
        await app.stop()


async def end_by(chat: Chat, ending: str) -> None:
    if ending == "safe":
        assert "Glad you're safe" in await chat.send("robin", "SAFE")
    elif ending == "cancel":
        assert "Cancelled" in await chat.send("robin", "/cancel")
    else:
        chat.clock.advance(hours=49)
        await chat.app._purge()
        await chat.app.dispatcher.drain()
        assert any("retention limit" in t for to, t in chat.console.transcript if to == "robin")


@pytest.mark.parametrize("ending", ["safe", "cancel", "expiry"])
async def test_shredded_details_leave_the_database_files_at_the_next_scrub(
    running: Chat, tmp_path: Path, ending: str
) -> None:
    chat, app = running, running.app
    scrub = app.scheduler.get_job("scrub")
    assert scrub is not None and scrub.trigger.interval.total_seconds() == SCRUB_SECONDS <= 60
    # Sam's outcall, sealed first, stays open beside Robin's (for the expiry, until then):
    # its rows share pages with hers, as open outcalls do.
    assert "Saved and sealed" in await chat.send("sam", "/outcall NEXTDOOR1 | 2 Next Door | | 12h")
    await app._scrub()  # the start-up scrub, so what follows is these outcalls' alone
    for plate, address, notes in (SMALL, LARGE):
        sealed_line = f"/outcall {plate} | {address} | {notes} | 2h"
        assert "Saved and sealed" in await chat.send("robin", sealed_line)
        sealed, neighbour = sealed_bytes(app.db, "Robin"), sealed_bytes(app.db, "Sam")
        assert len(sealed) == 2 and len(sealed[0]) > (4096 if plate != SMALL[0] else 500)
        await end_by(chat, ending)
        assert sealed_bytes(app.db, "Robin") == []  # shredded: unreachable through SQL ...

        before = database_files(app, tmp_path)
        # ... but still in the files (the WAL's earlier commits; PostgreSQL's dead tuples).
        assert any(readable(blob, before) for blob in sealed), "the test must see the bytes"
        await app._scrub()
        after = database_files(app, tmp_path)
        for blob in sealed:
            assert not readable(blob, after)
        # The scan reads the real files: the rows still open are there.
        assert all(readable(blob, after) for blob in sealed_bytes(app.db, "Sam"))
        if ending != "expiry":  # the retention limit closed Sam's outcall too
            assert len(neighbour) == 2 and sealed_bytes(app.db, "Sam") == neighbour


async def test_an_old_wrapped_key_leaves_the_files_after_a_pin_change(
    world: World, tmp_path: Path
) -> None:
    """The old wrapped secret key opens with the old PIN, which someone may have seen."""
    scrubber = Scrubber(world.db)
    scrubber.run()
    with world.db.transaction() as session:
        old = bytes(session.scalar(text("SELECT wrapped_secret FROM members WHERE id = 1")))
    SecurityService(world.service).change_pin(world.worker, PIN, "615243")
    assert scrubber.pending  # noticed the write to members
    assert scrubber.run()
    assert not scrubber.run()  # nothing new: nothing to do
    if world.db.is_sqlite:
        files = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    else:
        files = postgresql_files(world.db)
    assert not readable(old, files)
    assert len(old) == 72 and b"Robin" in files


def test_rows_a_rebalance_moved_leave_no_copy_in_sqlite_after_the_scrub(
    tmp_path: Path, clock: ManualClock
) -> None:
    """`secure_delete` zeroes a deleted row where it is, but SQLite's b-tree rebalancing
    moves rows between pages and can leave copies in a page's free gap; a row deleted later
    is still readable there. This sequence of outcalls opening and closing leaves such a copy
    (rows up to 9 kB, bigger than today's 4 kB envelopes, so the test does not rest on
    today's sizes); the scrub's VACUUM, at most an hour later, rebuilds the file from the
    live rows."""
    world = make_world(f"sqlite:///{tmp_path / 'b.db'}", clock)
    monotonic = [0.0]
    scrubber = Scrubber(world.db, clock=lambda: monotonic[0])
    assert scrubber.run()  # the start-up scrub, VACUUM included
    rng = random.Random(0)
    live: dict[int, bytes] = {}
    deleted: list[bytes] = []
    with world.db.transaction() as session:
        worker = session.get_one(Member, 1)
        jurisdiction = world.service.policy.jurisdiction(worker.jurisdiction)
        for _step in range(1000):
            if live and rng.random() < 0.45:
                outcall_id = rng.choice(list(live))
                session.execute(delete(Envelope).where(Envelope.outcall_id == outcall_id))
                deleted.append(live.pop(outcall_id))
                continue
            outcall = begin(session, worker, jurisdiction, clock(), clock())
            blob = rng.randbytes(rng.choice((552, 552, 1064, 4136, 9000)))
            session.add(Envelope(outcall_id=outcall.id, ciphertext=blob))
            live[outcall.id] = blob

    def copies_of_deleted_rows() -> list[bytes]:
        # Any copy of 159 bytes or more (under a third of the smallest envelope) is found.
        files = sqlite_files(tmp_path)
        assert all(readable(blob, files) for blob in live.values())  # the scan sees rows
        return [blob for blob in deleted if readable(blob, files, step=128)]

    monotonic[0] = REBUILD_SECONDS / 2
    assert scrubber.run()  # the WAL is truncated, the file not yet rebuilt
    assert copies_of_deleted_rows(), "SQLite no longer leaves copies: VACUUM may be unneeded"
    assert scrubber.pending
    monotonic[0] = REBUILD_SECONDS
    assert scrubber.run()
    assert copies_of_deleted_rows() == []
    assert not scrubber.pending
    world.db.dispose()


def test_reachability_and_pin_counters_owe_no_scrub_but_a_new_wrapped_key_does(
    world: World,
) -> None:
    """Each delivery marks its recipient reachable and each probe stamps the member: those
    rewrite no sealed column, so they must not make every process rewrite the sealed tables
    every minute (what the 1M benchmark found); a PIN change does."""
    scrubber = Scrubber(world.db)
    scrubber.run()
    with world.db.transaction() as session:
        buddy = session.scalars(select(Member).where(Member.address == "sam")).one()
        buddy.unreachable_since = world.clock()
    scrubber.run()
    for _ in range(2):  # a message reached Sam: reachable again; then already reachable
        with world.db.transaction() as session:
            queries.mark_reachable(session, buddy.id)
    with world.db.transaction() as session:
        session.execute(update(Member).values(probed_at=world.clock(), pin_failures=0))
    assert not scrubber.pending
    SecurityService(world.service).change_pin(world.worker, PIN, "615243")
    assert scrubber.pending


def test_a_scrub_kept_waiting_by_a_reader_gives_up_soon_and_runs_again(world: World) -> None:
    """A long reader (a backup tool, an operator's query) must not make the scrub hold up
    the service: it waits at most `LOCK_WAIT_SECONDS`, stays pending, and finishes later."""
    scrubber = Scrubber(world.db)
    world.service.start_outcall(world.worker, *SMALL, "1h")
    world.service.cancel(world.worker)
    # Another program's connection: an open read transaction holds a snapshot (SQLite) or
    # a share lock (PostgreSQL) until it ends.
    reader = world.db.engine.raw_connection()
    cursor = reader.cursor()
    if world.db.is_sqlite:
        cursor.execute("BEGIN")
    cursor.execute("SELECT count(*) FROM envelopes")
    cursor.fetchall()
    try:
        started = time.monotonic()
        assert not scrubber.run()
        assert time.monotonic() - started < LOCK_WAIT_SECONDS * len(SEALED_TABLES) + 2
        assert scrubber.pending
        world.service.start_outcall(world.worker, *SMALL, "1h")  # the service carries on
    finally:
        reader.rollback()
        reader.close()
    assert scrubber.run()
    assert not scrubber.run()  # nothing more is due
