"""Connecting to the database, one explicit transaction at a time, and migrating it.

SQLite is the zero-install default: WAL for concurrent readers, `secure_delete` so shredded
ciphertext is overwritten rather than left in free pages, foreign keys on, and every
transaction taken with `BEGIN IMMEDIATE` so two writers queue instead of deadlocking —
except `reading()`'s, which only read: they begin deferred, so in WAL mode they read a
snapshot beside the one writer instead of queueing for its lock (the engine's look for due
outcalls, the metrics). A change made in one is refused at flush, and PostgreSQL runs them
as `READ ONLY` transactions, so a bulk write fails too.

`lock_timeout` bounds how long one transaction waits for a lock another connection holds:
SQLite's busy timeout (`BEGIN IMMEDIATE` takes the write lock at once, so the wait happens
there, and then fails with "database is locked"), PostgreSQL's `lock_timeout` (a row or
table lock: `LockNotAvailable`). Waiting longer is the caller's decision (`bot/executors.py`
retries safety actions), so that nobody waits in silence.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_LOCK_TIMEOUT = 10.0
# SQLite primary result codes that can pass: BUSY, LOCKED, NOMEM, IOERR, FULL, CANTOPEN.
_SQLITE_TRANSIENT = frozenset({5, 6, 7, 10, 13, 14})
# PostgreSQL SQLSTATE classes that can pass: connection exception, transaction rollback
# (serialization failure, deadlock), insufficient resources (disk full, out of memory, too
# many connections), operator intervention (statement timeout, shutdown), system error.
_SQLSTATE_TRANSIENT_CLASSES = frozenset({"08", "40", "53", "57", "58"})
_LOCK_NOT_AVAILABLE = "55P03"  # lock_timeout
_READ_ONLY = "buddycheck_read_only"  # the execution option `reading()` sessions carry


class Database:
    """An engine plus a session factory; `transaction()` is the only way to write."""

    def __init__(self, url: str, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> None:
        self.url = url
        self.lock_timeout = lock_timeout
        self.engine = _create_engine(url, lock_timeout)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        readers = self.engine.execution_options(**{_READ_ONLY: True})
        self._readers = sessionmaker(readers, expire_on_commit=False)
        event.listen(self._readers, "before_flush", _refuse_writes)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: committed on success, rolled back on any exception."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only unit of work: queries only, never waiting behind SQLite's writer."""
        with self._readers() as session, session.begin():
            yield session

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (idempotent).

        On SQLite, foreign keys are off while migrating: a migration that changes a table
        rebuilds it (copy, drop, rename), and dropping `members` or `outcalls` with foreign
        keys on would cascade and delete every pairing, outcall, alert and queued message.
        The keys are checked before the migration commits instead.
        """
        with (
            self.engine.connect() as connection,
            _foreign_keys_off(connection, self.is_sqlite),
            connection.begin(),
        ):
            config = alembic_config(self.url)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            if self.is_sqlite:
                _check_foreign_keys(connection)

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(url: str) -> AlembicConfig:
    """An Alembic configuration pointing at this package's migrations."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(files("storage") / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _create_engine(url: str, lock_timeout: float) -> Engine:
    parsed = make_url(url)
    milliseconds = int(lock_timeout * 1000)
    if parsed.get_backend_name() != "sqlite":
        options = {"options": f"-c lock_timeout={milliseconds}"}
        engine = create_engine(url, pool_pre_ping=True, connect_args=options)
        event.listen(engine, "begin", _read_only_on_postgresql)
        return engine
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": lock_timeout})
    event.listen(engine, "connect", _configure_sqlite)
    event.listen(engine, "begin", _begin_immediate)
    return engine


@contextmanager
def _foreign_keys_off(connection: Connection, sqlite: bool) -> Iterator[None]:
    """SQLite only honours the pragma outside a transaction, so it goes to the driver's
    connection before SQLAlchemy begins one, and is switched back on for the pool."""
    raw = connection.connection.dbapi_connection if sqlite else None
    if raw is not None:
        raw.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        if raw is not None:
            raw.execute("PRAGMA foreign_keys=ON")


def _check_foreign_keys(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        tables = sorted({str(row[0]) for row in broken})
        raise RuntimeError(f"migrating left rows without their parent in {tables}")


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's implicit BEGIN is deferred).
    # The busy timeout is pysqlite's `timeout` above.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in (
        "PRAGMA journal_mode=WAL",
        "PRAGMA secure_delete=ON",
        "PRAGMA foreign_keys=ON",
        "PRAGMA synchronous=NORMAL",
    ):
        cursor.execute(pragma)
    cursor.close()


def _begin_immediate(connection: Connection) -> None:
    read_only = connection.get_execution_options().get(_READ_ONLY, False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _read_only_on_postgresql(connection: Connection) -> None:
    if connection.get_execution_options().get(_READ_ONLY, False):
        connection.exec_driver_sql("SET TRANSACTION READ ONLY")


def _refuse_writes(session: Session, *_context: Any) -> None:
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("a reading() session may not write")


def transient(error: BaseException) -> bool:
    """Whether a failed database call may succeed if tried again a little later."""
    if isinstance(error, exc.TimeoutError):  # no pooled connection came free in time
        return True
    if not isinstance(error, exc.DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    code = getattr(error.orig, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _SQLITE_TRANSIENT
    state = getattr(error.orig, "sqlstate", None)
    if state is None:  # the driver got no answer from the server at all
        return isinstance(error, exc.OperationalError)
    return state[:2] in _SQLSTATE_TRANSIENT_CLASSES or state == _LOCK_NOT_AVAILABLE
