"""Check-in PIN and duress PIN, end to end through the conversation.

A duress PIN must look exactly like the real PIN to whoever holds the worker's phone, while
the buddies are alerted as SOS and told not to contact the worker.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from storage.tables import Envelope, Outcall
from tests.chat import Chat, make_chat
from tests.conftest import PIN

DURESS = "731946"
PLATE, ADDRESS = "KX482B", "14 Hollow Lane"


async def settings(chat: Chat, person: str, entry: str, *answers: str) -> str:
    """Open /settings, pick `entry`, and answer its questions; return the last reply."""
    await chat.send(person, "/settings")
    reply = await chat.pick(person, entry)
    for answer in answers:
        reply = await chat.send(person, answer)
    return reply


async def worker_with_duress_pin(path: Path) -> Chat:
    chat = await make_chat(path)
    for person in ("robin", "sam"):
        await chat.register(person)
    await chat.pair("robin", "sam")
    assert "ask for your PIN" in await settings(chat, "robin", "Ask for my PIN", PIN)
    assert "Duress PIN saved" in await settings(
        chat, "robin", "Set a duress PIN", PIN, DURESS, DURESS
    )
    assert "sealed" in await chat.send("robin", f"/outcall {PLATE} | {ADDRESS} | 1h")
    return chat


async def check_in_transcript(chat: Chat, pin: str) -> list[str]:
    """What the worker's chat shows for: I'm safe, the PIN, /status, SAFE again."""
    mark = len(chat.console.transcript)
    for text in ("SAFE", pin, "/status", "SAFE"):
        await chat.send("robin", text)
    return [t for to, t in chat.console.transcript[mark:] if to == "robin"]


def outcall(chat: Chat) -> Outcall:
    with chat.app.db.transaction() as session:
        row = session.scalars(select(Outcall)).one()
        session.expunge(row)
        return row


async def test_duress_pin_looks_like_a_check_in_and_alerts_buddies_as_sos(
    tmp_path: Path,
) -> None:
    real = await worker_with_duress_pin(tmp_path / "real")
    forced = await worker_with_duress_pin(tmp_path / "forced")

    normal = await check_in_transcript(real, PIN)
    duress = await check_in_transcript(forced, DURESS)

    assert normal == duress
    assert "Send your PIN to check in" in normal[0]
    assert "Glad you're safe" in normal[1]
    assert "No outcall is running" in normal[-2]

    alert = [t for to, t in forced.console.transcript if to == "sam"][-1]
    assert "danger PIN" in alert
    assert "Do NOT message or call Robin" in alert
    assert outcall(forced).duress and outcall(forced).state == "overdue"
    assert outcall(real).state == "safe" and not outcall(real).duress
    assert not any("danger PIN" in t for to, t in real.console.transcript if to == "sam")


async def test_buddies_can_unlock_a_duress_outcall_and_the_worker_hears_nothing(
    tmp_path: Path,
) -> None:
    chat = await worker_with_duress_pin(tmp_path)
    await check_in_transcript(chat, DURESS)
    robin_mark = len([1 for to, _t in chat.console.transcript if to == "robin"])
    with chat.app.db.transaction() as session:
        assert session.get(Envelope, outcall(chat).id) is not None

    await chat.send("sam", "UNLOCK")
    details = await chat.send("sam", PIN)
    assert PLATE in details and ADDRESS in details

    for _hour in range(3):  # the ladder runs on and repeats; none of it reaches the worker
        chat.clock.advance(hours=1)
        chat.app.engine.tick()
        await chat.app.dispatcher.drain()
    assert "Robin is safe" in await chat.send("sam", "ON IT")
    asked = await chat.pick("sam", "Robin is safe")  # the second tap never says "call them"
    assert "Are you sure" in asked and "Do NOT message or call Robin" in asked
    assert "spoke to" not in asked
    assert "confirmed" in await chat.pick("sam", "Yes — I know for certain Robin is safe")

    assert outcall(chat).state == "resolved"
    robin_after = [t for to, t in chat.console.transcript if to == "robin"][robin_mark:]
    assert robin_after == []
    with chat.app.db.transaction() as session:
        assert session.get(Envelope, outcall(chat).id) is None


async def test_wrong_checkin_pin_counts_and_ends_nothing(tmp_path: Path) -> None:
    chat = await worker_with_duress_pin(tmp_path)
    await chat.send("robin", "SAFE")
    assert "4 tries left" in await chat.send("robin", "905172")
    assert outcall(chat).state == "active"
    for _try in range(4):
        await chat.send("robin", "SAFE")
        reply = await chat.send("robin", "905172")
    assert "paused" in reply
    await chat.send("robin", "SAFE")
    assert "paused" in await chat.send("robin", PIN)  # locked out: even the right PIN waits
    assert outcall(chat).state == "active"


async def test_locked_out_worker_can_ask_buddies_to_confirm_instead_of_being_trapped(
    tmp_path: Path,
) -> None:
    chat = await worker_with_duress_pin(tmp_path)
    await chat.send("robin", "SAFE")
    reply = await chat.pick("robin", "I can't give my PIN")
    assert "asked your buddies to confirm" in reply
    assert outcall(chat).state == "overdue"  # not ended: alerts can't be silenced this way
    alert = [t for to, t in chat.console.transcript if to == "sam"][-1]
    assert "couldn't give their PIN" in alert
    assert "Robin confirmed" not in alert
    assert "Are you sure" in await chat.pick("sam", "Robin is safe")
    assert "confirmed" in await chat.pick("sam", "Yes — I spoke to Robin")
    assert outcall(chat).state == "resolved"


async def test_checkin_pin_off_keeps_one_tap_safe(tmp_path: Path) -> None:
    chat = await make_chat(tmp_path)
    for person in ("robin", "sam"):
        await chat.register(person)
    await chat.pair("robin", "sam")
    await chat.send("robin", f"/outcall {PLATE} | {ADDRESS} | 1h")
    assert "Glad you're safe" in await chat.send("robin", "SAFE")


async def test_duress_pin_must_differ_from_the_pin_and_be_strong(tmp_path: Path) -> None:
    chat = await make_chat(tmp_path)
    await chat.register("robin")
    assert "different from your PIN" in await settings(
        chat, "robin", "Set a duress PIN", PIN, PIN, PIN
    )
    assert "too easy" in await settings(chat, "robin", "Set a duress PIN", PIN, "111111")
    assert "didn't match" in await settings(
        chat, "robin", "Set a duress PIN", PIN, DURESS, "731947"
    )
