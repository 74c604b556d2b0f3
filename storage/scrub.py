"""Making deleted data unrecoverable from the database files, not just unreachable.

SQLite runs with `secure_delete`, so freed space in the main file is zeroed, but older copies
of changed pages stay in the write-ahead log until it is checkpointed and truncated. VACUUM
rebuilds the whole file so no free page is left at all.
"""

from __future__ import annotations

from sqlalchemy import text

from storage.db import Database


def forget_old_pages(db: Database) -> None:
    """Copy the WAL into the database and truncate it (SQLite; a no-op elsewhere)."""
    if db.is_sqlite:
        _sqlite(db, "PRAGMA wal_checkpoint(TRUNCATE)")


def vacuum(db: Database, tables: tuple[str, ...]) -> None:
    """Rebuild storage so deleted rows leave nothing behind, then truncate the WAL.

    PostgreSQL: `VACUUM FULL` rewrites `tables` into new files (its WAL segments and
    backups are the operator's to handle). SQLite: `VACUUM` rebuilds the whole file.
    """
    if db.is_sqlite:
        _sqlite(db, "VACUUM")
        forget_old_pages(db)
        return
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM FULL " + ", ".join(tables)))


def _sqlite(db: Database, statement: str) -> None:
    """Run outside any transaction (the engine's BEGIN IMMEDIATE hook would wrap it)."""
    connection = db.engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(statement)
        cursor.fetchall()
        cursor.close()
    finally:
        connection.close()
