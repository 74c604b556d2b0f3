"""A missed check-in is never lost: deadlines live in the database, not in memory."""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from pathlib import Path

from sqlalchemy import select

from bot.app import App
from bot.channels.base import ChannelLimits
from bot.channels.console import ConsoleChannel
from checkins.messages import Identity, Kind, Message, enqueue
from storage.tables import OutboxMessage
from tests.conftest import ManualClock, core_settings, make_world


async def test_missed_check_in_alerts_buddies_after_a_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'buddycheck.db'}"
    clock = ManualClock()
    pepper = secrets.token_bytes(32)
    world = make_world(url, clock, pepper)
    world.service.start_outcall(world.worker, "KX482B", "14 Hollow Lane", "", "30m")
    world.db.dispose()  # the process dies with the outcall active and nothing scheduled

    clock.advance(minutes=45)  # it stays down past the due time and the buddy stage
    console = ConsoleChannel(printer=lambda _text: None)
    app = App(core_settings(url), pepper, {"console": console}, clock=clock)

    def received(address: str) -> str:
        return "\n".join(text for to, text in console.transcript if to == address)

    def everyone_told() -> bool:
        return "has passed" in received("robin") and all(
            "Robin missed their check-in" in received(buddy) for buddy in ("sam", "kit")
        )

    await app.start()  # the engine's first round finds the deadlines that passed
    try:
        async with asyncio.timeout(5.0):  # earlier replies from registration arrive too
            while not everyone_told():
                await asyncio.sleep(0.01)
        await console.feed("robin", "/status")  # wakes the engine as the app stops
    finally:
        async with asyncio.timeout(10.0):  # Python 3.11's wait_for made this wait forever
            await app.stop()
    assert "has passed" in received("robin")
    assert "Robin missed their check-in" in received("sam")
    assert "Robin missed their check-in" in received("kit")
    async with asyncio.timeout(5.0):  # and the stopped app let its thread pools go
        while any(
            t.name.startswith(("safety", "requests", "argon2")) for t in threading.enumerate()
        ):
            await asyncio.sleep(0.01)


async def test_a_restart_with_a_backlog_answers_a_person_at_once(tmp_path: Path) -> None:
    """The backlog of alerts drains at the messenger's pace; someone who writes in the first
    seconds after the restart is still answered within a second."""
    url = f"sqlite:///{tmp_path / 'buddycheck.db'}"
    clock = ManualClock()
    pepper = secrets.token_bytes(32)
    world = make_world(url, clock, pepper)
    world.service.start_outcall(world.worker, "KX482B", "14 Hollow Lane", "", "30m")
    with world.db.transaction() as session:  # 400 alerts were waiting when it died
        for i in range(400):
            alert = Message("Someone missed their check-in", kind=Kind.ALERT)
            enqueue(session, Identity("console", f"buddy{i}"), alert, clock())
    world.db.dispose()
    clock.advance(minutes=45)

    console = ConsoleChannel(printer=lambda _text: None)
    console.limits = ChannelLimits(per_second=20.0, per_chat_interval=0.0)  # 20 s of backlog
    app = App(core_settings(url), pepper, {"console": console}, clock=clock)
    started = time.monotonic()
    await app.start()
    try:
        assert time.monotonic() - started < 2.0, "start-up waited for the backlog"
        asked = time.monotonic()
        mark = len(console.transcript)
        await console.feed("robin", "/status")
        async with asyncio.timeout(5.0):
            while not any(to == "robin" for to, _t in console.transcript[mark:]):
                await asyncio.sleep(0.01)
        assert time.monotonic() - asked < 1.0
        async with asyncio.timeout(5.0):  # and the missed check-in is acted on meanwhile
            while not await asyncio.to_thread(alert_queued_for, app, "sam"):
                await asyncio.sleep(0.05)
        backlog = sum(to.startswith("buddy") for to, _t in console.transcript)
        assert backlog < 400, "the backlog had drained: this test proves nothing"
    finally:
        await app.stop()


def alert_queued_for(app: App, address: str) -> bool:
    """The engine has queued an alert for `address` (it waits its turn behind older ones)."""
    with app.db.transaction() as session:
        found = session.scalar(
            select(OutboxMessage.id).where(
                OutboxMessage.address == address, OutboxMessage.kind == Kind.ALERT
            )
        )
    return found is not None
