"""Upgrading: a database made by the first release, holding an outcall being escalated, one
about to be, and an alert that was never sent, is migrated to the newest schema while
nothing runs; the engine and the outbox then deliver every alert, the old one included."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import text

from bot.channels.base import ChannelLimits
from bot.dispatcher import Dispatcher
from checkins.engine import Engine
from storage.db import Database, alembic_config
from tests.conftest import ManualClock, core_settings
from tests.core.test_dispatch import Recorder

T0 = datetime(2026, 11, 1, 22, 0, tzinfo=UTC)


def first_release_database(url: str, ladder: dict[str, object]) -> None:
    """The schema of migration 0001, filled as the first release left it (ids given only
    where no later row takes one from a sequence)."""
    db = Database(url)
    with db.engine.begin() as connection:
        config = alembic_config(url)
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        people = ("robin", "sam", "kit", "lu")
        for number, name in enumerate(people, 1):
            connection.execute(
                text(
                    "INSERT INTO members (id, channel, address, alias, locale, jurisdiction,"
                    " public_key, wrapped_secret, kdf_salt, kdf_ops, kdf_mem, pin_failures,"
                    " created_at) VALUES (:id, 'console', :name, :alias, 'en', 'north', :key,"
                    " :key, :key, 1, 8192, 0, :at)"
                ),
                {"id": number, "name": name, "alias": name.title(), "key": bytes(32), "at": T0},
            )
        for link, (worker, buddy) in enumerate(((1, 2), (1, 3), (4, 2)), 1):
            connection.execute(
                text("INSERT INTO buddy_links VALUES (:id, :w, :b, :at)"),
                {"id": link, "w": worker, "b": buddy, "at": T0},
            )
        outcall = (
            "INSERT INTO outcalls (id, ref, worker_id, jurisdiction, state, ladder, due_at,"
            " next_action_at, next_stage, reminded, sos, extended_minutes, created_at)"
            " VALUES (:id, :ref, :worker, 'north', :state, :ladder, :due, :next, :stage,"
            " TRUE, FALSE, 0, :at)"
        )
        # Robin's buddies were alerted (stage 1), Sam's alert never went out; the next stage
        # (responders, at due + 30 min) comes while the bot is being upgraded.
        due = T0 + timedelta(hours=1)
        connection.execute(
            text(outcall),
            {
                "id": 1,
                "ref": "a1b2c3d4e5f60718",
                "worker": 1,
                "state": "overdue",
                "ladder": _json(ladder),
                "due": due,
                "next": due + timedelta(minutes=30),
                "stage": 2,
                "at": T0,
            },
        )
        connection.execute(
            text("INSERT INTO alerts VALUES (1, :m, 1, :at)"),
            [{"m": 2, "at": due}, {"m": 3, "at": due}],
        )
        connection.execute(
            text(
                "INSERT INTO outbox (channel, address, member_id, outcall_id, kind, priority,"
                " text, buttons, dedupe_key, state, attempts, next_attempt_at, created_at)"
                " VALUES ('console', 'sam', 2, 1, 'alert', 0, :text, '[]', 'o1:old:m2',"
                " 'pending', 2, :at, :at)"
            ),
            {"text": "🚨 Robin missed their check-in (sent by the first release).", "at": due},
        )
        # Lu's check-in time passes during the upgrade: her buddy is alerted after it.
        lu_due = T0 + timedelta(hours=1, minutes=10)
        connection.execute(
            text(outcall),
            {
                "id": 2,
                "ref": "0f1e2d3c4b5a6978",
                "worker": 4,
                "state": "active",
                "ladder": _json(ladder),
                "due": lu_due,
                "next": lu_due,
                "stage": 0,
                "at": T0,
            },
        )
    db.dispose()


def _json(value: object) -> str:
    return json.dumps(value)


def test_a_first_release_database_upgrades_and_every_alert_is_delivered(
    database_url: str,
) -> None:
    settings = core_settings(database_url)
    ladder = settings.policy().jurisdiction("north").ladder.to_json()
    first_release_database(database_url, ladder)
    clock = ManualClock()
    clock.now = T0 + timedelta(hours=2)  # the upgrade took the bot down for a while
    db = Database(database_url)
    db.migrate()  # to the newest schema, as `buddycheck run` does on start
    try:
        engine = Engine(db, settings.policy(), clock)
        engine.tick()
        channel = Recorder(ChannelLimits(per_second=100.0, per_chat_interval=0.0), "console")
        asyncio.run(Dispatcher(db, engine, {"console": channel}, clock).drain())
    finally:
        db.dispose()
    got = [(to, text.splitlines()[0]) for _at, to, text in channel.sent]
    assert ("sam", "🚨 Robin missed their check-in (sent by the first release).") in got
    assert any(to == "sam" and line.startswith("🚨 Lu missed their check-in") for to, line in got)
    assert any(to == "lu" and "check-in time" in line for to, line in got)  # her own stage
