"""/forgetme (Settings → Delete my account): the member leaves no trace in the database."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from storage.tables import Outcall
from tests.conftest import PIN, ManualClock
from tests.core.test_conversation import register
from tests.core.test_duress import make_chat, pair, pick
from tests.core.test_wipe import raw_bytes


async def test_deleting_an_account_leaves_no_trace_and_tells_the_others(tmp_path: Path) -> None:
    chat = await make_chat(tmp_path)
    for person in ("robin", "sam", "kit"):
        await register(chat, person)
    await pair(chat, "robin", "sam")
    await pair(chat, "kit", "robin")
    await chat.send("robin", "/outcall KX482B | 14 Hollow Lane | 1h")
    clock = chat.app.clock
    assert isinstance(clock, ManualClock)
    clock.advance(minutes=75)
    chat.app.engine.tick()
    await chat.app.dispatcher.drain()
    assert "Robin missed their check-in" in "\n".join(t for to, t in chat.console.transcript)

    await chat.send("robin", "/settings")
    explained = await pick(chat, "robin", "Delete my account")
    assert "buddy pairings" in explained and "can't be undone" in explained
    assert "current PIN" in await pick(chat, "robin", "Yes, delete everything")
    assert "Your account is deleted" in await chat.send("robin", PIN)

    sam = [t for to, t in chat.console.transcript if to == "sam"]
    kit = [t for to, t in chat.console.transcript if to == "kit"]
    assert any("that person deleted their account" in t for t in sam[-2:])
    assert "deleted their account" in kit[-1] and "Robin" not in kit[-1]
    with chat.app.db.transaction() as session:
        assert session.scalars(select(Outcall)).all() == []
    chat.app.db.dispose()
    disk = raw_bytes(tmp_path / "b.db")
    assert b"Robin" not in disk and b"robin" not in disk
    assert b"Sam" in disk  # the scan does see the people who stayed


async def test_deleting_an_account_needs_the_pin(tmp_path: Path) -> None:
    chat = await make_chat(tmp_path)
    await register(chat, "robin")
    await chat.send("robin", "/settings")
    await pick(chat, "robin", "Delete my account")
    await pick(chat, "robin", "Yes, delete everything")
    assert "Wrong PIN" in await chat.send("robin", "905172")
    assert "Welcome back, Robin" in await chat.send("robin", "/start")
