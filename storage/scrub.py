"""Making deleted data unrecoverable from the database files, not just unreachable.

Deleting a row only makes it unreachable through SQL. What each database leaves behind, and
what removes it (each measured by reading the raw files, `tests/core/test_scrub.py`):

- **SQLite.** Every committed page is appended to the write-ahead log, so after "I'm safe"
  the `-wal` file still holds the envelope in the pages of earlier commits until a
  checkpoint copies the WAL into the file and truncates it. `secure_delete` zeroes a
  deleted row and every page it frees (overflow pages of a large envelope included), but
  when SQLite rebalances a b-tree it moves rows between pages and can leave the old copies
  in the unallocated gap of a page; a row deleted later stays readable there (seen with
  rows of 9 kB mixed with smaller ones; not with today's envelope sizes, up to 4 kB).
  `VACUUM` rebuilds the file from the live rows only. So the scrub truncates the WAL
  (`wal_checkpoint(TRUNCATE)`) after every write to a sealed table, and runs `VACUUM`,
  which rewrites the whole file, at most every `REBUILD_SECONDS`.
- **PostgreSQL.** A deleted (or updated) row stays in its heap page as a dead tuple. Plain
  `VACUUM` marks the space reusable and compacts the page, but compaction only moves the
  live tuples: a dead tuple's bytes stay in the page's free space until something happens
  to overwrite them. `VACUUM FULL` writes the table (and its TOAST table) into new files and
  truncates the old ones at commit, so the scrub is `VACUUM FULL` of the sealed tables, each
  under a short `lock_timeout` so that waiting for its exclusive lock never stalls the
  service for long (a timed-out table is tried again at the next run).

Neither reaches copies outside the database files: PostgreSQL's own WAL segments (until
recycled) and WAL archives, backups, and blocks the filesystem or an SSD released but has
not yet overwritten. THREATS.md lists these.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import UpdateBase

from storage.db import Database

log = logging.getLogger(__name__)

# The tables whose rows hold ciphertext or wrapped keys: envelopes, sealed data keys, and the
# members' wrapped secret keys (an old wrapped key opens with the old PIN); and the warning
# list's reports and raid alerts, whose link to their reporter is deleted at moderation.
SEALED_TABLES = ("envelopes", "sealed_keys", "members", "reports", "raids")
# Deleting an outcall deletes its envelope and sealed keys by cascade, unseen by SQLAlchemy.
_CASCADING_DELETES = ("outcalls",)
# A member's row holds sealed data only in these columns; an update of any other column
# (reachability, PIN failures) copies only what the live row still holds, so it leaves no
# old secret behind and owes no scrub. Counting it made every process rewrite the sealed
# tables every minute it sent anything (each delivery marks its recipient reachable).
_SEALED_MEMBER_COLUMNS = ("wrapped_secret", "public_key", "kdf_salt", "duress_verifier")
# How long a scrub may wait for the locks it needs before giving up until the next run.
LOCK_WAIT_SECONDS = 1.0
# SQLite's VACUUM costs about 5 ms per MB of the whole file (docs/benchmarks.md).
REBUILD_SECONDS = 3600.0


class Scrubber:
    """Notices every write to the sealed tables and, when `run()` is called (the app's
    `scrub` job, every minute), removes the old copies those writes left in the files.

    Batched on purpose: one scrub after many check-ins, not one per check-in. It starts
    owing a scrub, since what happened before this process started is unknown.
    """

    def __init__(self, db: Database, clock: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self.clock = clock
        self._rewrite_owed = True  # SQLite: truncate the WAL; PostgreSQL: VACUUM FULL
        self._rebuild_owed = db.is_sqlite  # SQLite: VACUUM the file
        self._rebuilt_at: float | None = None
        event.listen(db.engine, "after_cursor_execute", self._notice)

    @property
    def pending(self) -> bool:
        """Whether the files may still hold copies of deleted sealed rows."""
        return self._rewrite_owed or self._rebuild_owed

    def run(self) -> bool:
        """Scrub what is owed and due; True if it scrubbed, False if there was nothing to do
        or it could not finish (the database busy or full: it stays owed for the next run).
        """
        rebuild = self._rebuild_owed and self._rebuild_due()
        if not (self._rewrite_owed or rebuild):
            return False
        self._rewrite_owed = False  # cleared first: a write meanwhile makes it owed again
        try:
            if rebuild:
                self._rebuild()
            done = self._rewrite()
        except OperationalError as error:
            log.warning("scrubbing deleted data failed, will retry: %s", type(error).__name__)
            done = False
        if not done:
            self._rewrite_owed = True
        return done

    def _rebuild(self) -> None:
        self._rebuild_owed = False
        try:
            _sqlite(self.db, "VACUUM", LOCK_WAIT_SECONDS)
        except OperationalError:
            self._rebuild_owed = True
            raise
        self._rebuilt_at = self.clock()

    def _rewrite(self) -> bool:
        if not self.db.is_sqlite:
            return _rewrite_postgresql(self.db, SEALED_TABLES)
        busy, _frames, _copied = _sqlite(
            self.db, "PRAGMA wal_checkpoint(TRUNCATE)", LOCK_WAIT_SECONDS
        )
        return not busy

    def _rebuild_due(self) -> bool:
        return self._rebuilt_at is None or self.clock() - self._rebuilt_at >= REBUILD_SECONDS

    def _notice(self, *executed: Any) -> None:
        """After every statement (SQLAlchemy's `after_cursor_execute`: connection, cursor,
        SQL, parameters, execution context): an INSERT, UPDATE or DELETE of a sealed table
        that changed a row makes a scrub owed, whether it came from the ORM or a bulk
        statement; of `members`, only one that deletes or rewrites its sealed columns."""
        cursor, sql, context = executed[1], executed[2], executed[4]
        compiled = context.compiled
        if not isinstance(compiled, SQLCompiler) or not isinstance(compiled.statement, UpdateBase):
            return
        if getattr(cursor, "rowcount", -1) == 0:  # matched nothing: nothing left behind
            return
        name = getattr(compiled.statement.table, "name", None)
        if name == "members" and compiled.isupdate and not _sets_sealed_column(sql):
            return
        if name in SEALED_TABLES or (compiled.isdelete and name in _CASCADING_DELETES):
            self._rewrite_owed = True
            self._rebuild_owed = self.db.is_sqlite


def _sets_sealed_column(sql: str) -> bool:
    assignments = sql.partition(" SET ")[2].partition(" WHERE ")[0]
    return any(column in assignments for column in _SEALED_MEMBER_COLUMNS)


def forget_old_pages(db: Database) -> None:
    """Copy the WAL into the database and truncate it (SQLite; a no-op elsewhere)."""
    if db.is_sqlite:
        _sqlite(db, "PRAGMA wal_checkpoint(TRUNCATE)")


def vacuum(db: Database, tables: tuple[str, ...]) -> None:
    """Rebuild storage so deleted rows leave nothing behind, then truncate the WAL.

    For the panic wipe, which must finish now: it waits for its locks as long as it takes.
    PostgreSQL: `VACUUM FULL` rewrites `tables` into new files. SQLite: `VACUUM` rebuilds
    the whole file.
    """
    if db.is_sqlite:
        _sqlite(db, "VACUUM")
        forget_old_pages(db)
        return
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM FULL " + ", ".join(tables)))


def _rewrite_postgresql(db: Database, tables: tuple[str, ...]) -> bool:
    """`VACUUM FULL` each table, giving up on one whose lock is not free within the wait."""
    done = True
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f"SET lock_timeout = '{int(LOCK_WAIT_SECONDS * 1000)}ms'"))
        try:
            for table in tables:
                try:
                    connection.execute(text(f"VACUUM FULL {table}"))
                except OperationalError as error:  # lock_timeout: tried again next run
                    log.info("scrub of %s postponed: %s", table, type(error.orig).__name__)
                    done = False
        finally:
            connection.execute(text("RESET lock_timeout"))
    return done


def _sqlite(db: Database, statement: str, wait: float | None = None) -> tuple[Any, ...]:
    """Run outside any transaction (the engine's BEGIN IMMEDIATE hook would wrap it).

    `wait` shortens the busy timeout: a checkpoint waiting for a reader, or a VACUUM, holds
    up every writer meanwhile, so a routine scrub gives up early and runs again later.
    """
    connection = db.engine.raw_connection()
    try:
        cursor = connection.cursor()
        if wait is not None:
            cursor.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
        try:
            cursor.execute(statement)
            rows = cursor.fetchall()
        finally:
            cursor.execute(f"PRAGMA busy_timeout = {int(db.lock_timeout * 1000)}")
        cursor.close()
    finally:
        connection.close()
    return tuple(rows[0]) if rows else ()
