"""`Database.reading()`: the engine's look for due outcalls never queues behind a writer.

On SQLite every other transaction takes the one write lock at BEGIN, so a read-only query
(the engine's due outcalls and next deadline, the metrics) used to wait
for each send's settlement and every claim. A reading transaction reads a snapshot beside
the writer instead, and it cannot write.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import exc, func, select, update

from storage.db import Database
from storage.tables import Member
from tests.conftest import ManualClock, World, make_world


def test_a_reading_transaction_reads_while_another_program_holds_the_write_lock(
    tmp_path: Path,
) -> None:
    """What the engine and the metrics read stays readable while a writer works."""
    url = f"sqlite:///{tmp_path / 'buddycheck.db'}"
    make_world(url, ManualClock()).db.dispose()  # the migrated database and its three people
    db = Database(url, lock_timeout=0.2)
    writer = sqlite3.connect(tmp_path / "buddycheck.db", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        began = time.monotonic()
        with db.reading() as session:
            people = session.scalar(select(func.count()).select_from(Member))
        assert people == 3
        assert time.monotonic() - began < 0.2  # did not wait for the writer's lock
        with pytest.raises(exc.OperationalError), db.transaction() as session:
            session.execute(update(Member).values(pin_failures=0))  # a writer still queues
    finally:
        writer.rollback()
        writer.close()
        db.dispose()


def test_a_reading_transaction_refuses_to_write(world: World) -> None:
    """A change made by mistake in a reading transaction fails loudly, on both databases."""
    with pytest.raises(RuntimeError, match="may not write"), world.db.reading() as session:
        member = session.scalars(select(Member)).first()
        assert member is not None
        member.pin_failures = 1
    with world.db.reading() as session:
        assert session.scalar(select(func.max(Member.pin_failures))) == 0


def test_postgresql_runs_a_reading_transaction_read_only(postgres_url: str) -> None:
    db = Database(postgres_url, lock_timeout=timedelta(seconds=1).total_seconds())
    db.migrate()
    try:
        with pytest.raises(exc.InternalError, match="read-only"), db.reading() as session:
            session.execute(update(Member).values(pin_failures=0))
    finally:
        db.dispose()
