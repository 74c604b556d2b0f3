"""/forgetme (Settings → Delete my account): the member leaves no trace in the database."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from storage.tables import Outcall
from tests.chat import make_chat
from tests.conftest import PIN
from tests.core.test_wipe import raw_bytes


async def test_deleting_an_account_leaves_no_trace_and_tells_the_others(tmp_path: Path) -> None:
    chat = await make_chat(tmp_path)
    for person in ("robin", "sam", "kit"):
        await chat.register(person)
    await chat.pair("robin", "sam")
    await chat.pair("kit", "robin")
    await chat.send("robin", "/outcall KX482B | 14 Hollow Lane | 1h")
    chat.clock.advance(minutes=75)
    chat.app.engine.tick()
    await chat.app.dispatcher.drain()
    assert "Robin missed their check-in" in "\n".join(t for to, t in chat.console.transcript)

    await chat.send("robin", "/settings")
    explained = await chat.pick("robin", "Delete my account")
    assert "buddy pairings" in explained and "can't be undone" in explained
    assert "current PIN" in await chat.pick("robin", "Yes, delete everything")
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
    await chat.register("robin")
    await chat.send("robin", "/settings")
    await chat.pick("robin", "Delete my account")
    await chat.pick("robin", "Yes, delete everything")
    assert "Wrong PIN" in await chat.send("robin", "905172")
    assert "Welcome back, Robin" in await chat.send("robin", "/start")


async def test_forgetme_asks_first_and_deletes_nothing_until_confirmed(tmp_path: Path) -> None:
    chat = await make_chat(tmp_path)
    await chat.register("robin")
    explained = await chat.send("robin", "/forgetme")
    assert "can't be undone" in explained and "Yes, delete everything" in explained
    assert "Welcome back, Robin" in await chat.send("robin", "/start")  # not confirmed: kept
    await chat.send("robin", "/forgetme")
    assert "current PIN" in await chat.pick("robin", "Yes, delete everything")
    assert "Your account is deleted" in await chat.send("robin", PIN)
    assert "Choose your language" in await chat.send("robin", "hello")  # gone: a stranger again
