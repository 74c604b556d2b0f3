"""Backups of a SQLite database with SQLite's online backup API, restores into a fresh file,
and the counts that show an operator what a backup holds.

The backup API copies a consistent snapshot while the bot keeps running (a file copy of a
live WAL database can be torn). It copies pages, and with `secure_delete` on, the pages of
shredded details were overwritten when they were deleted, so a backup holds only what the
database held: still, every sealed detail of an outcall open at that moment, which "I'm
safe" later destroys in the database but never in the backup (docs/operating.md).

PostgreSQL is backed up with `pg_dump`; `pg_dump_command` says which.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import URL, make_url

from storage.db import Database
from storage.outbox import PENDING
from storage.queries import OPEN
from storage.tables import Envelope, Member, OutboxMessage, Outcall


class BackupError(Exception):
    """A backup or restore that cannot be done: `reason` is "missing" (nothing at `path`),
    "exists" (`path` would be overwritten) or "failed" (SQLite refused; `detail` says why).
    The command line turns it into words."""

    def __init__(self, reason: str, path: Path, detail: str = "") -> None:
        super().__init__(f"{reason}: {path} {detail}".strip())
        self.reason = reason
        self.path = path
        self.detail = detail


@dataclass(frozen=True)
class Contents:
    """What a database holds, counted (never what it says)."""

    members: int
    open_outcalls: int
    sealed_details: int
    pending_messages: int


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL, or None for another database (or an in-memory one)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def copy(source: Path, destination: Path) -> None:
    """Copy the database at `source` (the live one for a backup, a backup for a restore)
    into a new file `destination`, readable only by its owner. Refuses to overwrite
    anything: an existing database is moved away first, deliberately."""
    if not source.is_file():
        raise BackupError("missing", source)
    if destination.exists():
        raise BackupError("exists", destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(descriptor)  # created empty, owner-only, before any byte is written
    try:
        with closing(_connect(source)) as reader, closing(_connect(destination)) as writer:
            reader.backup(writer)
    except sqlite3.Error as error:
        destination.unlink(missing_ok=True)
        raise BackupError("failed", source, str(error)) from None


def contents(db: Database) -> Contents:
    with db.transaction() as session:

        def count(query: object) -> int:
            return int(session.scalar(query) or 0)  # type: ignore[call-overload]

        return Contents(
            members=count(select(func.count()).select_from(Member)),
            open_outcalls=count(select(func.count()).where(Outcall.state.in_(OPEN))),
            sealed_details=count(select(func.count()).select_from(Envelope)),
            pending_messages=count(select(func.count()).where(OutboxMessage.state == PENDING)),
        )


def pg_dump_command(url: str, destination: str) -> str:
    """The `pg_dump` command for a PostgreSQL URL, the password left out (give it in
    PGPASSWORD or ~/.pgpass, never on a command line others can see)."""
    parsed = make_url(url)
    target = URL.create(
        "postgresql",
        username=parsed.username,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
        query=parsed.query,
    ).render_as_string(hide_password=False)
    return f"pg_dump --format=custom --file={destination} '{target}'"


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=30)
    connection.execute("PRAGMA secure_delete=ON")
    return connection
