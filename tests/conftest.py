"""Shared fixtures: databases (SQLite always, PostgreSQL when configured), a movable clock,
and a ready-made service with a worker and two buddies."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.config import Settings, settings_from
from checkins.context import Context
from checkins.engine import Engine
from checkins.messages import Identity
from checkins.sealing import KDF_COSTS, Sealer
from checkins.service import CheckinService
from storage.db import Database

PG_ENV = "BUDDYCHECK_TEST_DATABASE_URL"
PIN = "482913"


class ManualClock:
    """A clock tests move by hand, so deadlines pass without waiting."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 21, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def core_config(url: str, **service: Any) -> dict[str, Any]:
    """A realistic minute-scale ladder in a criminalised place, as a config file parses into.

    A decriminalised place, south, ends its ladder with the emergency contact.
    """
    return {
        "service": {"default_jurisdiction": "north", **service},
        "database": {"url": url},
        "crypto": {"kdf": "insecure-fast"},
        "security": {"pin_attempts": 5, "pin_lockout": "30m"},
        "health": {"listen": ""},  # tests/process/test_health.py serves it on a free port
        "jurisdictions": {
            "north": {
                "name": {"en": "North", "es": "Norte"},
                "legal_model": "criminalised",
                "timezone": "Europe/London",
                "reminder_before": "10m",
                "ack_timeout": "15m",
                "ladder": [
                    {"after": "0m", "notify": "worker"},
                    {"after": "10m", "notify": "buddies"},
                    {"after": "30m", "notify": "responders"},
                ],
            },
            "south": {
                "name": {"en": "South", "es": "Sur"},
                "legal_model": "decriminalised",
                "timezone": "Pacific/Auckland",
                "ladder": [
                    {"after": "0m", "notify": "worker"},
                    {"after": "10m", "notify": "buddies"},
                    {"after": "60m", "notify": "emergency"},
                ],
                "emergency_contact": {"webhook_url": "http://127.0.0.1:9/emergency"},
            },
        },
    }


def core_settings(url: str, **service: Any) -> Settings:
    """`core_config` read as the service reads its configuration."""
    return settings_from(core_config(url, **service), "test settings")


def cli_config(directory: Path, url: str) -> Path:
    """A small config file for the `buddycheck` command line: north, on the database at `url`."""
    config = directory / "config.toml"
    config.write_text(
        f"""
[service]
default_jurisdiction = "north"
[database]
url = "{url}"
[crypto]
kdf = "insecure-fast"
[health]
listen = ""
[jurisdictions.north]
legal_model = "criminalised"
timezone = "Europe/London"
ladder = [{{ after = "10m", notify = "buddies" }}]
""",
        encoding="utf-8",
    )
    return config


def _postgres_database() -> Iterator[str]:
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (CI sets it)")
    name = f"bc_{secrets.token_hex(6)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test talks only to loopback: keep proxy settings from hijacking that traffic."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run python-telegram-bot with its timedelta API, as its next major version will."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Every storage and engine test runs on SQLite and, when configured, PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'buddycheck.db'}"
    else:
        yield from _postgres_database()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from _postgres_database()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@dataclass
class World:
    """A migrated database, the service and engine on a manual clock, and three people."""

    db: Database
    service: CheckinService
    engine: Engine
    clock: ManualClock
    settings: Settings
    worker: Identity
    buddy: Identity
    buddy2: Identity

    def messages(self, who: Identity) -> list[str]:
        """Every message queued for `who`, oldest first."""
        with self.db.transaction() as session:
            rows = session.execute(
                text("SELECT text FROM outbox WHERE address = :a ORDER BY id"),
                {"a": who.address},
            )
            return [row[0] for row in rows]

    def last(self, who: Identity) -> str:
        messages = self.messages(who)
        return messages[-1] if messages else ""

    def pair(self, worker: Identity, buddy: Identity) -> None:
        code = self.service.create_invite(worker)
        self.service.accept_invite(buddy, code)

    def outcall_ref(self) -> str:
        current = self.service.current_outcall(self.worker)
        assert current is not None
        return current.ref


def make_world(url: str, clock: ManualClock, pepper: bytes | None = None) -> World:
    settings = core_settings(url)
    db = Database(url)
    db.migrate()
    sealer = Sealer(pepper or secrets.token_bytes(32), KDF_COSTS["insecure-fast"])
    service = CheckinService(Context(db, sealer, settings.policy(), clock))
    engine = Engine(db, settings.policy(), clock)
    people = [Identity("console", name) for name in ("robin", "sam", "kit")]
    for person in people:
        service.register(person, person.address.title(), PIN)
    world = World(db, service, engine, clock, settings, *people)
    world.pair(world.worker, world.buddy)
    world.pair(world.worker, world.buddy2)
    return world


@pytest.fixture
def world(database_url: str, clock: ManualClock) -> Iterator[World]:
    world = make_world(database_url, clock)
    yield world
    world.db.dispose()
