"""A missed check-in is never lost: deadlines live in the database, not in memory."""

from __future__ import annotations

import secrets
from pathlib import Path

from bot.app import App
from bot.channels.console import ConsoleChannel
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
    await app.start()  # start-up sweeps the database for deadlines that passed
    await app.dispatcher.drain()
    await app.stop()

    def received(address: str) -> str:
        return "\n".join(text for to, text in console.transcript if to == address)

    assert "has passed" in received("robin")
    assert "Robin missed their check-in" in received("sam")
    assert "Robin missed their check-in" in received("kit")
