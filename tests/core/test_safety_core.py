"""The attacks a phone-holder can try on an SOS or duress outcall, driven through the real
conversation: each once silenced an alarm, took over a buddy's keys or revealed a duress PIN.

Robin is the worker (check-in PIN and duress PIN on), Sam and Kit her buddies.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from checkins.messages import Identity
from storage.tables import Alert, Envelope, Member, OutboxMessage, Outcall, SealedKey
from tests.chat import Chat, make_chat
from tests.conftest import PIN
from tests.core.test_duress import DURESS, settings

NEW_PIN = "640271"
PLATE, ADDRESS = "KX482B", "14 Hollow Lane"


async def robin_sam_kit(path: Path, *, duress: bool = True) -> Chat:
    chat = await make_chat(path)
    for person in ("robin", "sam", "kit"):
        await chat.register(person)
    await chat.pair("robin", "sam")
    await chat.pair("robin", "kit")
    if duress:
        await settings(chat, "robin", "Ask for my PIN", PIN)
        await settings(chat, "robin", "Set a duress PIN", PIN, DURESS, DURESS)
    assert "sealed" in await chat.send("robin", f"/outcall {PLATE} | {ADDRESS} | 1h")
    return chat


def the_outcall(chat: Chat) -> Outcall:
    with chat.app.db.transaction() as session:
        row = session.scalars(select(Outcall).order_by(Outcall.id)).first()
        assert row is not None
        session.expunge(row)
        return row


def sealed_rows(chat: Chat) -> int:
    with chat.app.db.transaction() as session:
        return len(session.scalars(select(Envelope)).all())


def to(chat: Chat, person: str, since: int = 0) -> list[str]:
    return [t for who, t in chat.console.transcript[since:] if who == person]


async def duress_check_in(chat: Chat) -> None:
    await chat.send("robin", "SAFE")
    assert "Glad you're safe" in await chat.send("robin", DURESS)
    assert the_outcall(chat).duress


async def test_reset_new_pin_and_forgetme_after_duress_never_silence_it(tmp_path: Path) -> None:
    chat = await robin_sam_kit(tmp_path)
    await duress_check_in(chat)
    mark = len(chat.console.transcript)

    # Whoever holds the phone: "I forgot my PIN", then delete the account.
    await chat.send("robin", "/settings")
    reply = await chat.pick("robin", "I forgot my PIN")
    assert "duress" not in reply.lower()
    reply = await chat.pick("robin", "Start the PIN reset")
    assert "takes effect at" in reply and "duress" not in reply.lower()
    await chat.send("robin", "/forgetme")
    await chat.pick("robin", "Yes, delete everything")
    refused = await chat.send("robin", PIN)
    assert "can't delete your account" in refused and "duress" not in refused.lower()

    # The alarm still stands: the outcall is open, its details sealed, no one was told
    # "closed", and the buddies can still unlock it.
    outcall = the_outcall(chat)
    assert outcall.state == "overdue" and outcall.ended_at is None
    assert sealed_rows(chat) == 1
    for buddy in ("sam", "kit"):
        assert not any("closed" in t for t in to(chat, buddy, mark))
    await chat.send("sam", "UNLOCK")
    assert PLATE in await chat.send("sam", PIN)


async def test_account_deletion_with_a_duress_outcall_open_waits_until_a_buddy_settles_it(
    tmp_path: Path,
) -> None:
    chat = await robin_sam_kit(tmp_path)
    await duress_check_in(chat)
    await chat.send("robin", "/forgetme")
    await chat.pick("robin", "Yes, delete everything")
    assert "Your account is deleted" in await chat.send("robin", PIN)  # reads as usual
    # Her chat is detached at once: she could register anew...
    assert "choose a nickname" in (await chat.start("robin")).lower()
    # ...but the alert still reaches the buddies and can be unlocked and settled.
    assert the_outcall(chat).ended_at is None
    chat.clock.advance(minutes=30)
    chat.app.engine.tick()
    await chat.app.dispatcher.drain()
    await chat.send("kit", "UNLOCK")
    assert PLATE in await chat.send("kit", PIN)
    assert "Are you sure Robin is safe?" in await chat.send("kit", "SAFE")
    assert "You confirmed Robin is safe" in await chat.pick("kit", "Yes — I know for certain")
    chat.app.conversation.security.housekeeping()
    with chat.app.db.transaction() as session:
        aliases = [m.alias for m in session.scalars(select(Member))]
        assert aliases.count("Robin") == 0  # the old row is gone now it is settled
        assert session.scalars(select(Envelope)).first() is None


async def test_worker_chat_cannot_end_weaken_or_strip_an_sos(tmp_path: Path) -> None:
    chat = await robin_sam_kit(tmp_path, duress=False)
    assert "SOS sent" in await chat.send("robin", "SOS")
    sam_before = len(to(chat, "sam"))

    assert "SOS stays open" in await chat.send("robin", "/cancel")
    assert "SOS stays open" in await chat.send("robin", "SAFE")
    assert "can't add time" in await chat.send("robin", "+30")
    assert any("now says they're safe" in t for t in to(chat, "sam")[sam_before:])
    # Removing every buddy from her chat doesn't take them off the open SOS.
    for _buddy in ("Sam", "Kit"):
        await chat.send("robin", "/buddies")
        await chat.pick("robin", "Remove")
        await chat.pick("robin", "Yes, remove")
    with chat.app.db.transaction() as session:
        alerted = session.scalars(select(Alert.member_id)).all()
        copies = session.scalars(select(SealedKey.member_id)).all()
    assert len(alerted) == 2 and len(copies) == 2
    outcall = the_outcall(chat)
    assert outcall.state == "overdue" and outcall.sos
    assert "Are you sure Robin is safe?" in await chat.send("sam", "SAFE")
    assert "You confirmed Robin is safe" in await chat.pick("sam", "Yes — I spoke to Robin")
    assert the_outcall(chat).state == "resolved"


async def test_the_duress_pin_works_during_a_check_in_lockout(tmp_path: Path) -> None:
    chat = await robin_sam_kit(tmp_path)
    mark = len(chat.console.transcript)
    for _try in range(5):
        await chat.send("robin", "SAFE")
        wrong = await chat.send("robin", "905172")
    assert "You are not checked in" in wrong and "paused" in wrong
    assert "unlocking" not in wrong.lower()  # check-in wording, not the unlock one
    # The buddies are told quietly; nothing on Robin's screen says so.
    assert any("wrong too many times" in t for t in to(chat, "sam", mark))
    assert not any("wrong too many times" in t for t in to(chat, "robin", mark))
    # The real PIN is held back by the lockout, and never counts as safe...
    await chat.send("robin", "SAFE")
    assert "paused until" in await chat.send("robin", PIN)
    assert the_outcall(chat).state == "active"
    # ...but the duress PIN is honoured at once.
    await duress_check_in(chat)
    assert any("danger PIN" in t for t in to(chat, "sam", mark))


async def test_check_in_and_unlock_pins_are_counted_apart(tmp_path: Path) -> None:
    chat = await robin_sam_kit(tmp_path)
    for _try in range(5):
        await chat.send("robin", "SAFE")
        await chat.send("robin", "905172")
    # Robin is locked out of checking in with the PIN, not out of her settings.
    await chat.send("robin", "/settings")
    await chat.pick("robin", "Change my PIN")
    await chat.send("robin", PIN)
    await chat.send("robin", NEW_PIN)
    assert "Your PIN is changed" in await chat.send("robin", NEW_PIN)


async def test_pin_change_keeps_the_duress_pin_and_never_mentions_it(tmp_path: Path) -> None:
    chat = await robin_sam_kit(tmp_path)
    changed = await settings(chat, "robin", "Change my PIN", PIN, NEW_PIN, NEW_PIN)
    assert "Your PIN is changed" in changed and "duress" not in changed.lower()
    await duress_check_in(chat)


async def test_settings_read_the_same_with_or_without_a_duress_pin(tmp_path: Path) -> None:
    with_pin = await robin_sam_kit(tmp_path / "with")
    without = await robin_sam_kit(tmp_path / "without", duress=False)
    await settings(without, "robin", "Ask for my PIN", PIN)
    assert await with_pin.send("robin", "/settings") == await without.send("robin", "/settings")


async def test_duress_confirmation_deletes_itself_and_is_never_stored(tmp_path: Path) -> None:
    chat = await make_chat(tmp_path)
    await chat.register("robin")
    sent: list[int | None] = []
    original = chat.console.send

    async def recording(message):  # type: ignore[no-untyped-def]
        if "Duress PIN saved" in message.text:
            sent.append(message.delete_after_seconds)
        return await original(message)

    chat.console.send = recording  # type: ignore[method-assign]
    await settings(chat, "robin", "Set a duress PIN", PIN, DURESS, DURESS)
    assert sent and sent[0] is not None and sent[0] <= 120
    with chat.app.db.transaction() as session:
        texts = session.scalars(select(OutboxMessage.text)).all()
    assert not any("Duress" in t for t in texts)


async def test_forgotten_pin_waits_a_cooling_off_and_everyone_relying_is_told(
    tmp_path: Path,
) -> None:
    chat = await robin_sam_kit(tmp_path, duress=False)
    assert "Glad you're safe" in await chat.send("robin", "SAFE")
    mark = len(chat.console.transcript)
    # Whoever holds Sam's phone asks for a reset.
    await chat.send("sam", "/settings")
    await chat.pick("sam", "I forgot my PIN")
    assert "takes effect at" in await chat.pick("sam", "Start the PIN reset")
    assert any("Sam asked to reset their PIN" in t for t in to(chat, "robin", mark))
    # Meanwhile nothing that protects Sam can be removed, and the old keys still work.
    await chat.send("sam", "/forgetme")
    await chat.pick("sam", "Yes, delete everything")
    assert "can't delete your account" in await chat.send("sam", PIN)
    # A new outcall is still sealed to Sam's old key, not to anything the holder chose.
    await chat.send("robin", f"/outcall {PLATE} | {ADDRESS} | 1h")
    chat.clock.advance(hours=24, minutes=1)
    chat.app.conversation.security.housekeeping()
    await chat.app.dispatcher.drain()
    assert any("old keys are destroyed" in t for t in to(chat, "sam", mark))
    # The holder now chooses a new PIN: Robin is told Sam's key changed.
    reply = await chat.send("sam", "hello")
    assert "Choose a new PIN" in reply
    await chat.send("sam", NEW_PIN)
    await chat.send("sam", NEW_PIN)
    assert any("PIN and keys were reset" in t for t in to(chat, "robin", mark))


async def test_a_reset_can_be_stopped_and_the_buddies_hear_so(tmp_path: Path) -> None:
    chat = await robin_sam_kit(tmp_path, duress=False)
    await chat.send("robin", "SAFE")
    await chat.send("sam", "/settings")
    await chat.pick("sam", "I forgot my PIN")
    await chat.pick("sam", "Start the PIN reset")
    await chat.send("sam", "/settings")
    assert "PIN reset is stopped" in await chat.pick("sam", "Stop my PIN reset")
    assert "stopped their PIN reset" in to(chat, "robin")[-1]
    chat.clock.advance(hours=25)
    chat.app.conversation.security.housekeeping()
    await chat.app.dispatcher.drain()
    await chat.send("robin", f"/outcall {PLATE} | {ADDRESS} | 10m")
    chat.clock.advance(minutes=30)
    chat.app.engine.tick()
    await chat.app.dispatcher.drain()
    await chat.send("sam", "UNLOCK")
    assert PLATE in await chat.send("sam", PIN)  # the old keys were kept


async def test_an_unlock_racing_a_check_in_returns_nothing(tmp_path: Path) -> None:
    chat = await robin_sam_kit(tmp_path, duress=False)
    chat.clock.advance(hours=1, minutes=30)
    chat.app.engine.tick()
    await chat.app.dispatcher.drain()
    service = chat.app.service
    ref = the_outcall(chat).ref
    original = service.sealer.unwrap

    def unwrap_while_robin_checks_in(*args):  # type: ignore[no-untyped-def]
        key = original(*args)
        service.check_in(Identity("console", "robin"))  # lands during Sam's Argon2id
        return key

    service.sealer.unwrap = unwrap_while_robin_checks_in  # type: ignore[method-assign]
    try:
        service.unlock(Identity("console", "sam"), ref, PIN)
    except Exception as refusal:
        assert "no longer active" in str(refusal)
    else:
        raise AssertionError("details were returned after the worker checked in")
