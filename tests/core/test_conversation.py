"""Every input a person can send gets a clear reply; nothing typed is silently dropped."""

from __future__ import annotations

import asyncio

import pytest

from bot.conversation import STEP_TTL
from checkins.messages import Identity
from tests.chat import Chat
from tests.conftest import PIN


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello", "Choose your language"),
        ("/outcall", "not registered"),
        ("SAFE", "Choose your language"),
    ],
)
async def test_strangers_are_told_how_to_begin(chat: Chat, text: str, expected: str) -> None:
    assert expected in await chat.send("nobody", text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/frobnicate", "I don't know that command"),
        ("what now?", "didn't understand"),
        ("/accept", "Send the code with the command"),
        ("/accept ZZZZ-ZZZZ", "doesn't work"),
        ("SAFE", "no alert for you"),
        ("+30", "no outcall running"),
        ("ON IT", "no alert for you"),
        ("UNLOCK", "no alert for you"),
        ("/cancel", "no outcall running"),
        ("/status", "No outcall is running"),
        ("/buddies", "no buddies yet"),
        ("/outcall ABC123 | 1 Main St | 90m", "don't have a buddy"),
        ("x" * 3000, "too long"),
    ],
)
async def test_every_bad_input_gets_a_clear_reply(chat: Chat, text: str, expected: str) -> None:
    await chat.register("robin")
    assert expected in await chat.send("robin", text)


async def test_onboarding_refuses_weak_or_mismatched_pins(chat: Chat) -> None:
    await chat.start("robin")
    assert "phone number" in await chat.send("robin", "07700900123")
    await chat.send("robin", "Robin")
    assert "numbers only" in await chat.send("robin", "12ab56")
    assert "too easy" in await chat.send("robin", "123456")
    await chat.send("robin", PIN)
    assert "didn't match" in await chat.send("robin", "999999")
    await chat.send("robin", PIN)
    assert "Welcome, Robin" in await chat.send("robin", PIN)


async def test_guided_outcall_asks_for_each_missing_part_and_rereads_bad_times(
    chat: Chat,
) -> None:
    for person in ("robin", "sam"):
        await chat.register(person)
    invite = await chat.send("robin", "/invite")
    code = invite.split("Your buddy code: ")[1][:9]
    assert "You are now Robin's buddy" in await chat.send("sam", f"/accept {code}")
    assert "car plate" in await chat.send("robin", "/outcall")
    assert "address" in await chat.send("robin", "KX482B")
    assert "Anything else" in await chat.send("robin", "14 Hollow Lane")
    assert "How long" in await chat.send("robin", "1")  # 1 = Skip
    assert "couldn't read that as a time" in await chat.send("robin", "later")
    assert "sealed" in await chat.send("robin", "2")  # 2 = 1 hour
    assert "already have an outcall" in await chat.send("robin", "/outcall A | B | 1h")


async def test_one_message_form_with_a_bad_time_asks_only_for_the_time(chat: Chat) -> None:
    for person in ("robin", "sam"):
        await chat.register(person)
    await chat.pair("robin", "sam")
    assert "too far ahead" in await chat.send("robin", "/outcall KX482B | 14 Hollow Lane | 99h")
    assert "sealed" in await chat.send("robin", "45m")
    assert "Glad you're safe" in await chat.send("robin", "safe")


async def test_half_typed_details_are_forgotten_after_the_step_time_even_if_nobody_returns(
    chat: Chat,
) -> None:
    for person in ("robin", "sam"):
        await chat.register(person)
    await chat.pair("robin", "sam")
    await chat.send("robin", "/outcall")
    await chat.send("robin", "KX482B")  # the plate, held in memory only
    conversation, robin = chat.app.conversation, Identity("console", "robin")
    pending = conversation.pending(robin)
    assert pending is not None and pending.values == {"plate": "KX482B"}
    pending.started -= STEP_TTL + 1  # the step has been waiting longer than allowed
    await chat.send("sam", "/help")  # someone else's message sweeps it away
    assert robin not in conversation._pending
    assert not conversation._locks  # and no per-person lock is left behind either
    # Robin is told, so she never believes an unsaved outcall will alert anyone.
    for _wait in range(200):
        await chat.app.dispatcher.drain()
        if any("nothing was saved" in t for to, t in chat.console.transcript if to == "robin"):
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("robin was never told her outcall was not saved")


async def test_a_half_typed_outcall_replaced_by_another_step_is_said_to_be_unsaved(
    chat: Chat,
) -> None:
    """A worker typing an outcall who is alerted as a buddy and taps UNLOCK must not believe
    the half-typed outcall will alert anyone."""
    for person in ("robin", "sam"):
        await chat.register(person)
    await chat.pair("robin", "sam")
    await chat.pair("sam", "robin")
    await chat.send("sam", "SOS")
    await chat.send("robin", "/outcall")
    await chat.send("robin", "KX482B")
    reply = await chat.send("robin", "UNLOCK")
    assert "The outcall you were typing was not saved" in reply
    assert "Send your PIN" in reply


async def test_help_lists_the_command_table_and_its_buttons_start_an_outcall(chat: Chat) -> None:
    """/help is written from the command table, so a command can't be missing from it; on
    a messenger without buttons the everyday commands are numbered choices."""
    await chat.register("robin")
    shown = await chat.send("robin", "/help")
    for command in chat.app.conversation.commands.listed():
        assert f"/{command.name} — " in shown, f"/{command.name} is missing from /help"
    assert "/forgetme" not in shown  # unlisted: reached from /settings
    # It runs /outcall, which first says Robin has nobody to alert yet.
    assert "You don't have a buddy yet" in await chat.pick("robin", "Before a booking")


async def test_back_asks_the_previous_question_again_and_keeps_what_came_before(
    chat: Chat,
) -> None:
    for person in ("robin", "sam"):
        await chat.register(person)
    await chat.pair("robin", "sam")
    await chat.send("robin", "/outcall")
    await chat.send("robin", "KX482B")
    assert "Anything else" in await chat.send("robin", "14 Hollow Lane")
    assert "What is the address" in await chat.pick("robin", "Back")
    robin = Identity("console", "robin")
    pending = chat.app.conversation.pending(robin)
    assert pending is not None and pending.values == {"plate": "KX482B"}
    assert "Anything else" in await chat.send("robin", "15 Hollow Lane")
    assert "Stopped. Nothing was saved." in await chat.pick("robin", "Stop")


async def test_wrong_pins_keep_the_unlock_question_open_until_the_lockout_closes_it(
    chat: Chat,
) -> None:
    for person in ("robin", "sam"):
        await chat.register(person)
    await chat.pair("sam", "robin")
    await chat.send("sam", "/outcall KX482B | 14 Hollow Lane | 30m")
    chat.clock.advance(minutes=41)  # missed: robin, sam's buddy, is alerted
    chat.app.engine.tick()
    assert "Send your PIN" in await chat.send("robin", "UNLOCK")
    robin = Identity("console", "robin")
    for left in (4, 3, 2, 1):
        reply = await chat.send("robin", "902137")
        assert f"{left} tr" in reply and "Send your PIN to unlock the details" in reply
        assert chat.app.conversation.pending(robin) is not None
    assert "paused for" in await chat.send("robin", "902137")
    assert chat.app.conversation.pending(robin) is None  # locked out: the question is closed
