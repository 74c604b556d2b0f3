"""The Telegram channel, end to end: the real App and python-telegram-bot over HTTP against
the local Bot API emulator, with people tapping buttons the way they would on a phone."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.channels.base import ChannelLimits, DeliveryError, Outbound
from bot.channels.telegram import PinKeypads, Press, build_channel, keyboard
from bot.config import ConfigError
from bot.conversation import STEP_TTL
from checkins.messages import Button, Identity
from storage.tables import OutboxMessage
from tests.channels.telegram_harness import (
    BOT_USERNAME,
    ESCALATION,
    PIN,
    STEP,
    TOKEN,
    Harness,
    fast_settings,
    free_port,
    running,
)
from tests.emulators.telegram_api import SimUser, TelegramApiEmulator

ALICE, BOB, CAROL = 1001, 1002, 1003
PLATE, ADDRESS = "KX-482-B", "14 Hollow Lane, flat 3"
SECRET = "hook-secret_1"


pytestmark = pytest.mark.usefixtures("ptb_timedelta")


async def paired(bot: Harness) -> tuple[SimUser, SimUser]:
    return await bot.alice_and_bob(ALICE, BOB)


def user_texts(user: SimUser) -> list[str]:
    """Everything the person themselves wrote in the chat, deleted messages included."""
    return [m.text for m in user.history() if not m.from_bot]


# -- onboarding and buddies ----------------------------------------------------------------


async def test_onboarding_sets_the_pin_on_a_keypad_so_it_never_enters_the_chat(
    bot: Harness,
) -> None:
    alice = bot.api.user(ALICE, "Alice")
    await bot.onboard(alice, "Alice")
    assert not any(PIN in text for text in user_texts(alice)), "the PIN was typed into the chat"
    assert not any(PIN in m.text for m in alice.history()), "a bot message showed the PIN"
    prompts = [m for m in alice.messages() if "PIN" in m.text and "•" in m.text]
    assert prompts, "the keypad prompts show dots for the digits"
    assert all("••••••" in m.text and not m.buttons() for m in prompts), "used keypads close"
    commands = bot.api.calls_to("setMyCommands")
    assert commands and "outcall" in str(commands[0].params["commands"])


async def test_a_typed_pin_also_works_and_is_deleted_from_the_chat(bot: Harness) -> None:
    bob = bot.api.user(BOB, "Bob")
    await bot.say(bob, "/start", "Choose your language")
    await bot.say(bob, "English", "choose a nickname")
    await bot.say(bob, "Bob", "choose a PIN")
    await bot.say(bob, PIN, "same PIN")
    await bot.say(bob, PIN, "Welcome, Bob")
    typed = [m for m in bob.history() if not m.from_bot and m.text == PIN]
    assert len(typed) == 2 and all(m.deleted for m in typed)


async def test_deleting_the_account_with_a_typed_pin_keeps_nothing_for_the_chat(
    bot: Harness,
) -> None:
    """The typed PIN is deleted quietly: a notice after the account is gone would leave a
    reply to the deleted person's chat queued with their address."""
    alice = bot.api.user(ALICE, "Alice")
    await bot.onboard(alice, "Alice")
    await bot.say(alice, "/forgetme", "This deletes your account")
    await bot.press(alice, "Yes, delete everything", "Send your current PIN")
    await bot.say(alice, PIN, "Your account is deleted")
    typed = [m for m in alice.history() if not m.from_bot and m.text == PIN]
    assert len(typed) == 1
    await wait_deleted(alice, typed[0].message_id)
    with bot.app.db.transaction() as session:
        queued = session.scalars(
            select(OutboxMessage).where(OutboxMessage.address == str(ALICE))
        ).all()
    assert not queued, "a message to the deleted account's chat was left in the outbox"


async def test_invite_deep_link_onboards_a_newcomer_and_accept_works_too(bot: Harness) -> None:
    alice, bob = bot.api.user(ALICE, "Alice"), bot.api.user(BOB, "Bob")
    carol = bot.api.user(CAROL, "Carol")
    await bot.onboard(alice, "Alice")
    code, link = await bot.invite_code(alice)
    assert link.startswith(f"https://t.me/{BOT_USERNAME}?start=")
    start_param = link.split("start=", 1)[1]
    assert start_param == code.replace("-", "")
    # Opening the link makes Telegram send "/start CODE"; the newcomer registers first.
    await bot.say(bob, f"/start {start_param}", "Choose your language")
    prompt = await bot.say(bob, "English", "choose a nickname")
    prompt = await bot.say(bob, "Bob", "choose a PIN")
    await bot.keypad(bob, prompt)
    again = await bob.wait_for_message("same PIN", after=prompt.message_id)
    await bot.keypad(bob, again)
    await bob.wait_for_message("You are now Alice's buddy", after=again.message_id, timeout=STEP)
    await alice.wait_for_message("Bob is now your buddy")
    await bot.onboard(carol, "Carol")
    code, _link = await bot.invite_code(alice)
    await bot.say(carol, f"/accept {code}", "You are now Alice's buddy")
    await bot.say(carol, f"/accept {code}", "That code doesn't work")
    listing = await bot.say(alice, "/buddies", "Bob is your buddy")
    assert "Carol is your buddy" in listing.text
    assert {b["text"] for b in listing.buttons()} == {"Remove Bob", "Remove Carol"}
    asked = await bot.press(alice, "Remove Carol", "Remove Carol? Alerts between you stop", listing)
    assert [b["text"] for b in asked.buttons()] == ["No, keep Carol", "Yes, remove Carol"]
    await bot.press(alice, "No, keep Carol", "Stopped", asked)
    assert "Carol is your buddy" in (await bot.say(alice, "/buddies", "Bob is your buddy")).text


# -- outcalls ------------------------------------------------------------------------------


async def test_one_message_outcall_is_sealed_and_the_details_message_deleted(bot: Harness) -> None:
    alice, _bob = await paired(bot)
    sent = await alice.send_text(f"/outcall {PLATE} | {ADDRESS} | 1h")
    sealed = await alice.wait_for_message("Saved and sealed", after=sent, timeout=STEP)
    assert [b["text"] for b in sealed.buttons()] == ["I'm safe ✅", "+30 min", "SOS 🆘"]
    await alice.wait_for_message("I deleted your messages", after=sent)
    original = next(m for m in alice.history() if m.message_id == sent)
    assert original.deleted, "the message with the plate and address is gone from the chat"
    assert not any(PLATE in m.text for m in alice.messages())
    assert bot.sealed_rows() == 2
    await bot.press(alice, "I'm safe ✅", "Glad you're safe", sealed)
    assert bot.sealed_rows() == 0


async def test_guided_outcall_with_buttons_back_and_stop_at_any_step(bot: Harness) -> None:
    alice, _bob = await paired(bot)
    plate_prompt = await bot.say(alice, "/outcall", "car plate")
    assert [b["text"] for b in plate_prompt.buttons()] == ["Stop"]
    await bot.press(alice, "Stop", "Stopped. Nothing was saved.", plate_prompt)
    await bot.say(alice, "/outcall", "car plate")
    await bot.say(alice, PLATE, "What is the address")
    notes = await bot.say(alice, ADDRESS, "Anything else")
    assert [b["text"] for b in notes.buttons()] == ["Skip", "Back", "Stop"]
    due = await bot.press(alice, "Skip", "How long until you check in", notes)
    assert [b["text"] for b in due.buttons()] == ["30 min", "1 hour", "2 hours", "Back", "Stop"]
    notes = await bot.press(alice, "Back", "Anything else", due)  # the notes asked again
    due = await bot.press(alice, "Skip", "How long until you check in", notes)
    sealed = await bot.press(alice, "1 hour", "Saved and sealed", due)
    # The outbox may deliver "Saved and sealed" while the deletions are still under way.
    await alice.wait_for_message("I deleted your messages", after=due.message_id, timeout=STEP)
    typed = [m for m in alice.history() if not m.from_bot and m.text in (PLATE, ADDRESS)]
    assert len(typed) == 2 and all(m.deleted for m in typed)
    # Old form buttons are dead now; "other" durations are typed.
    await bot.press(alice, "2 hours", "no longer active", due)
    await bot.press(alice, "+30 min", "Check in by", sealed)
    await bot.say(alice, "/cancel", "Cancelled")
    await bot.say(alice, "/outcall", "car plate")
    await bot.say(alice, PLATE, "What is the address")
    await bot.say(alice, ADDRESS, "Anything else")
    due = await bot.say(alice, "blue golf", "How long")
    await bot.say(alice, "soon-ish", "couldn't read")
    await bot.press(alice, "Stop", "Stopped", due)
    assert bot.sealed_rows() == 0


# A second set of details per way the form can end, and what a person types in a wrong slot.
ENDINGS = {
    "asked again, then stopped": ("STOPPLATE61", "61 Stopped Row"),
    "cancelled": ("CANCELPLATE62", "62 Cancel Close"),
    "refused": ("REFUSEDPLATE63" + "x" * 300, "63 Refused Road"),
    "left to time out": ("TIMEOUTPLATE64", "64 Timeout Terrace"),
}
NOTE_AS_TIME, TYPED_TIME, UNKNOWN_COMMAND = "note-where-the-time-goes", "7 Elm Row", "plate65zq"


async def test_a_stopped_refused_or_timed_out_outcall_leaves_no_detail_in_the_chat(
    bot: Harness,
) -> None:
    """However the form ends, the messages with the plate and address leave the chat as after
    a sealed outcall, and no reply repeats what was typed."""
    alice, bob = await paired(bot)
    plate, address = ENDINGS["asked again, then stopped"]
    sent = await alice.send_text(f"/outcall {plate} | {address} | {NOTE_AS_TIME}")
    # A note where the time belongs is kept as a note, and only the time is asked for.
    due = await alice.wait_for_message("How long until you check in", after=sent, timeout=STEP)
    await bot.say(alice, TYPED_TIME, "couldn't read")
    await bot.press(alice, "Stop", "I deleted your messages", due)
    plate, address = ENDINGS["cancelled"]
    await bot.say(alice, "/outcall", "car plate")
    await bot.say(alice, plate, "What is the address")
    await bot.say(alice, address, "Anything else")
    await bot.say(alice, "/cancel", "I deleted your messages")
    plate, address = ENDINGS["refused"]
    await bot.say(alice, f"/outcall {plate} | {address} | 1h", "I deleted your messages")
    await bot.say(alice, f"/{UNKNOWN_COMMAND}", "don't know that command")
    plate, address = ENDINGS["left to time out"]
    await bot.say(alice, "/outcall", "car plate")
    asked = await bot.say(alice, plate, "What is the address")
    pending = bot.app.conversation.pending(Identity("telegram", str(ALICE)))
    assert pending is not None
    pending.started -= STEP_TTL + 1  # the step has waited longer than allowed
    await bot.say(bob, "/help", "What you can send")  # anyone's message sweeps stale steps
    await alice.wait_for_message("nothing was saved", after=asked.message_id, timeout=STEP)
    await alice.wait_for_message("I deleted your messages", after=asked.message_id, timeout=STEP)
    for ending, details in ENDINGS.items():
        kept = [m.text for m in alice.history() if not m.from_bot and not m.deleted]
        assert not any(d[:20] in text for d in details for text in kept), f"{ending}: {kept}"
    typed = (*(d[:20] for details in ENDINGS.values() for d in details), NOTE_AS_TIME)
    sent_texts = [
        str(call.params.get("text", ""))
        for method in ("sendMessage", "editMessageText")
        for call in bot.api.calls_to(method)
    ]
    for secret in (*typed, TYPED_TIME, UNKNOWN_COMMAND):
        assert not any(secret in text for text in sent_texts), f"a reply repeated {secret!r}"
    assert bot.sealed_rows() == 0


async def test_reminders_carry_the_buttons_and_they_work(bot: Harness) -> None:
    alice, bob = await paired(bot)
    sent = await alice.send_text(f"/outcall {PLATE} | {ADDRESS} | 4s")
    await alice.wait_for_message("Saved and sealed", after=sent, timeout=STEP)
    reminder = await alice.wait_for_message("Your check-in is due", after=sent, timeout=STEP)
    assert [b["text"] for b in reminder.buttons()] == ["I'm safe ✅", "+30 min", "SOS 🆘"]
    await bot.press(alice, "+30 min", "Check in by", reminder)
    await bot.press(alice, "SOS 🆘", "SOS sent", reminder)
    alert = await bob.wait_for_message("pressed SOS", timeout=STEP)
    # After an SOS, the worker's I'm safe asks the buddies to confirm; Bob's confirmation ends it.
    await bot.press(alice, "I'm safe ✅", "SOS stays open", reminder)
    ask = await bob.wait_for_message("now says they're safe", after=alert.message_id, timeout=STEP)
    sure = await bot.press(bob, "Alice is safe 💚", "Are you sure Alice is safe?", ask)
    await bot.press(bob, "Yes — I spoke to Alice, they are safe", "You confirmed Alice", sure)


async def test_keywords_work_like_the_buttons(bot: Harness) -> None:
    alice, bob = await paired(bot)
    await bot.say(alice, f"/outcall {PLATE} | {ADDRESS} | 1h", "Saved and sealed")
    await bot.say(alice, "+30", "Check in by")
    await bot.say(alice, "sos", "SOS sent")
    await bob.wait_for_message("pressed SOS", timeout=STEP)
    await bot.say(bob, "ON IT", "You are handling Alice's alert")
    await bot.say(alice, "Safe!", "SOS stays open")
    sure = await bot.say(bob, "safe", "Are you sure Alice is safe?")
    await bot.press(bob, "Yes — I spoke to Alice, they are safe", "You confirmed Alice", sure)


async def test_a_buddys_safe_asks_first_and_her_own_sos_stays_hers(bot: Harness) -> None:
    """Bob is Alice's buddy and Alice is his. Alice's alert reaches Bob: his SAFE (he has no
    outcall) only asks; then, with his own outcall running, his SOS is his own SOS."""
    alice, bob = await paired(bot)
    await bot.pair(bob, alice, "Bob")
    await bot.say(alice, f"/outcall {PLATE} | {ADDRESS} | 1s", "Saved and sealed")
    alert = await bob.wait_for_message("Alice missed their check-in", timeout=ESCALATION)
    sure = await bot.say(bob, "SAFE", "Are you sure Alice is safe?")
    assert [b["text"] for b in sure.buttons()] == ["Yes — I spoke to Alice, they are safe"]
    assert bot.sealed_rows() == 2, "one tap closed nothing"

    mine = await bot.say(bob, f"/outcall {PLATE} | {ADDRESS} | 1h", "Saved and sealed")
    await bot.press(bob, "SOS 🆘", "SOS sent", mine)
    await alice.wait_for_message("Bob pressed SOS", timeout=STEP)
    await bot.press(bob, "I'm on it 🙋", "You are handling Alice's alert", alert)


# -- alerts --------------------------------------------------------------------------------


async def test_foreign_and_stale_buttons_are_refused(bot: Harness) -> None:
    alice, bob = await paired(bot)
    carol = bot.api.user(CAROL, "Carol")
    await bot.onboard(carol, "Carol")
    await bot.say(alice, f"/outcall {PLATE} | {ADDRESS} | 2s", "Saved and sealed")
    alert = await bob.wait_for_message("missed their check-in", timeout=ESCALATION)
    ref = alert.buttons()[0]["callback_data"].split(":")[1]
    # Carol is nobody's buddy: a copied button from Bob's alert grants her nothing.
    for forged in (f"ok:{ref}", f"onit:{ref}", f"unlock:{ref}"):
        await forge_press(bot, carol, forged, "This alert is no longer active")
    await forge_press(bot, carol, f"safe:{ref}", "You have no outcall running")
    await forge_press(bot, carol, "garbage:::", "This button is no longer active")
    assert bot.sealed_rows() == 2, "the outcall is still open"
    await bot.press(alice, "I'm safe ✅", "Glad you're safe")
    await bob.wait_for_message("Alice checked in", after=alert.message_id, timeout=STEP)
    await bot.press(bob, "I'm on it 🙋", "This alert is no longer active", alert)


async def test_the_alert_says_what_to_do_and_the_handler_messages_the_worker_by_button(
    bot: Harness,
) -> None:
    alice, bob = await paired(bot)
    await bot.say(alice, f"/outcall {PLATE} | {ADDRESS} | 2s", "Saved and sealed")
    alert = await bob.wait_for_message("missed their check-in", timeout=ESCALATION)
    assert "What to do:\n• Call or message Alice now" in alert.text
    taken = await bot.press(bob, "I'm on it 🙋", "You are handling Alice's alert", alert)
    await bot.press(bob, "💬 Message Alice through the bot", "Write your message", taken)
    await bot.say(bob, "Call me back when you can", "Sent to Alice")
    relayed = await alice.wait_for_message("writes through the bot", timeout=STEP)
    assert "Call me back when you can" in relayed.text
    await bot.press(alice, "💬 Message Bob through the bot", "Write your message", relayed)
    await bot.say(alice, "All good, phone was off", "Sent to Bob")
    back = await bob.wait_for_message("Alice answers through the bot", timeout=STEP)
    assert "All good, phone was off" in back.text
    for reader, other in ((relayed, BOB), (back, ALICE)):  # no Telegram id either way
        assert str(other) not in reader.text
        assert not any(str(other) in b["callback_data"] for b in reader.buttons())
    with bot.app.db.transaction() as session:
        kept = " ".join(session.scalars(select(OutboxMessage.text)))
    assert "Call me back" not in kept and "phone was off" not in kept
    sure = await bot.press(bob, "Alice is safe 💚", "Are you sure Alice is safe?", alert)
    await bot.press(bob, "Yes — I spoke to Alice, they are safe", "You confirmed Alice", sure)
    await bot.press(
        alice, "💬 Message Bob through the bot", "messages through the bot have stopped", relayed
    )


async def forge_press(bot: Harness, user: SimUser, data: str, expect: str) -> None:
    """Send a callback query with made-up data from the user's chat, as a modified client can."""
    newest = user.last_message()
    assert newest is not None
    query = bot.api._new_callback_query(user.info, newest, data)
    await bot.api.push_update({"callback_query": query})
    await user.wait_for_message(expect, after=newest.message_id, timeout=STEP)


async def test_unlock_on_the_keypad_shows_the_details_then_deletes_them(bot: Harness) -> None:
    alice, bob = await paired(bot)
    await bot.say(alice, f"/outcall {PLATE} | {ADDRESS} | 2s", "Saved and sealed")
    alert = await bob.wait_for_message("missed their check-in", timeout=ESCALATION)
    prompt = await bot.press(bob, "Unlock details 🔓", "Send your PIN", alert)
    await bot.keypad(bob, prompt)
    details = await bob.wait_for_message(PLATE, after=prompt.message_id, timeout=STEP)
    assert ADDRESS in details.text
    await wait_deleted(bob, details.message_id)  # security.unlocked_details_visible = 1s
    assert not any(PIN in m.text for m in bob.history())


async def test_a_buddy_who_mistypes_the_pin_types_it_again_and_sees_the_details(
    bot: Harness,
) -> None:
    """2 a.m., a cracked phone: Bob taps one wrong digit. The prompt stays open with a fresh
    keypad; his next, correct PIN opens the details. He never has to start again."""
    alice, bob = await paired(bot)
    await bot.say(alice, f"/outcall {PLATE} | {ADDRESS} | 2s", "Saved and sealed")
    alert = await bob.wait_for_message("missed their check-in", timeout=ESCALATION)
    prompt = await bot.press(bob, "Unlock details 🔓", "Send your PIN", alert)
    await bot.keypad(bob, prompt, "111119")
    again = await bob.wait_for_message("Wrong PIN", after=prompt.message_id, timeout=STEP)
    assert "tries left" in again.text and "Send your PIN to unlock the details" in again.text
    await bot.keypad(bob, again)  # the keypad under the same question, not a new start
    details = await bob.wait_for_message(PLATE, after=again.message_id, timeout=STEP)
    assert ADDRESS in details.text
    told = [m.text for m in bob.messages()]
    assert not any("didn't understand" in text or "What you can send" in text for text in told)
    assert not any("111119" in m.text or PIN in m.text for m in bob.history())


async def wait_deleted(user: SimUser, message_id: int, timeout: float = STEP) -> None:
    """Wait (bounded) until the bot deletes a message (its own or the person's) in the chat."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if next(m for m in user.history() if m.message_id == message_id).deleted:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"message {message_id} was not deleted within {timeout}s")


async def test_a_blocked_buddy_is_failed_over_and_the_worker_told(bot: Harness) -> None:
    alice, _bob = await paired(bot)
    carol = bot.api.user(CAROL, "Carol")
    await bot.onboard(carol, "Carol")
    await bot.pair(alice, carol, "Alice")
    bot.api.block(BOB)
    sent = await alice.send_text(f"/outcall {PLATE} | {ADDRESS} | 2s")
    await carol.wait_for_message("Alice missed their check-in", timeout=ESCALATION)
    await alice.wait_for_message("We couldn't reach Bob", after=sent, timeout=STEP)
    assert any(c.status == 403 for c in bot.api.calls_to("sendMessage"))


async def test_a_buddy_who_never_started_the_bot_counts_as_unreachable(bot: Harness) -> None:
    alice = bot.api.user(ALICE, "Alice")
    await bot.onboard(alice, "Alice")
    with pytest.raises(DeliveryError) as raised:
        await bot.telegram.send(Outbound("telegram", "424242", "hello"))
    assert raised.value.permanent and raised.value.reason == "unknown_chat"


# -- delivery failures ---------------------------------------------------------------------


async def test_flood_control_retry_after_is_obeyed_then_delivered(bot: Harness) -> None:
    alice = bot.api.user(ALICE, "Alice")
    await bot.onboard(alice, "Alice")
    bot.api.fail_next("sendMessage", chat_id=ALICE, status=429, retry_after=1)
    started = time.monotonic()
    await bot.say(alice, "/help", "What you can send")
    assert time.monotonic() - started >= 1.0, "the retry waited for retry_after"
    statuses = [c.status for c in bot.api.calls_to("sendMessage")]
    assert 429 in statuses and statuses[-1] == 200


async def test_server_errors_and_timeouts_are_retried(
    api: TelegramApiEmulator, tmp_path: Path
) -> None:
    async with running(api, tmp_path, send_timeout=0.5) as bot:
        alice = api.user(ALICE, "Alice")
        await bot.onboard(alice, "Alice")
        api.fail_next("sendMessage", chat_id=ALICE, status=502, count=2)
        await bot.say(alice, "/help", "What you can send")
        api.fail_next("sendMessage", chat_id=ALICE, status=None, delay=1.0)
        sent = await alice.send_text("/status")
        await alice.wait_for_message("No outcall is running", after=sent, timeout=STEP)
        statuses = [c.status for c in api.calls_to("sendMessage")]
        assert statuses.count(502) == 2


def test_failures_are_classified_for_the_outbox() -> None:
    from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

    from bot.channels.telegram import delivery_error

    assert delivery_error(Forbidden("Forbidden: bot was blocked by the user")).permanent
    assert delivery_error(BadRequest("Chat not found")).reason == "unknown_chat"
    assert not delivery_error(TimedOut()).permanent
    assert not delivery_error(NetworkError("Bad Gateway")).permanent
    assert delivery_error(RetryAfter(7)).retry_after == 7.0


# -- chats, edits, configuration -----------------------------------------------------------


async def test_in_a_group_the_bot_asks_for_a_private_chat(bot: Harness) -> None:
    alice = bot.api.user(ALICE, "Alice")
    group = bot.api.group(-100123, "Friends")
    sent = await group.send_text(alice, f"/outcall {PLATE} | {ADDRESS} | 1h")
    reply = await group.wait_for_message("Please talk to me in a private chat", after=sent)
    assert f"https://t.me/{BOT_USERNAME}" in reply.text
    assert not any(PLATE in m.text for m in group.messages())
    assert alice.messages() == [], "nothing happened in Alice's private chat"


async def test_an_edited_message_is_answered_but_not_acted_on(bot: Harness) -> None:
    alice, _bob = await paired(bot)
    message = alice.compose(f"/outcall {PLATE} | {ADDRESS} | 1h")
    message["edit_date"] = message["date"] + 5
    newest = alice.last_message()
    await bot.api.push_update({"edited_message": message})
    await alice.wait_for_message("edited messages", after=newest.message_id if newest else 0)
    await asyncio.sleep(0.3)
    assert bot.sealed_rows() == 0, "an edit never starts an outcall"


def test_webhook_mode_needs_a_url_and_a_shared_secret(tmp_path: Path) -> None:
    url = "http://127.0.0.1:1/bot"
    with pytest.raises(ConfigError, match="webhook_url"):
        build_channel(fast_settings(tmp_path, url, mode="webhook"))
    with pytest.raises(ConfigError, match="webhook_secret"):
        build_channel(fast_settings(tmp_path, url, mode="webhook", webhook_url="http://x/h"))
    channel = build_channel(fast_settings(tmp_path, url))
    # Telegram's documented ~30/s overall and 1/s per chat: 27 sustained plus a burst of 3
    # never puts more than 30 into one second.
    assert channel.limits == ChannelLimits(per_second=27, per_chat_interval=1.0, burst=3)
    assert channel.limits.per_second + channel.limits.burst <= 30
    assert channel.application.bot.base_url.startswith(url)
    raised = build_channel(
        fast_settings(tmp_path, url, messages_per_second=100, burst=1, chat_gap="3s")
    )
    assert raised.limits == ChannelLimits(per_second=100, per_chat_interval=3.0, burst=1)


async def test_a_send_only_process_sends_but_never_polls(
    api: TelegramApiEmulator, tmp_path: Path
) -> None:
    """The second process of a shared PostgreSQL deployment must not steal the first's
    updates (Telegram allows one poller), yet delivers alerts."""
    bob = api.user(BOB, "Bob")
    channel = build_channel(fast_settings(tmp_path, api.base_url, mode="send_only"))
    await channel.start(lambda _event: asyncio.sleep(0))
    try:
        await channel.send(Outbound("telegram", str(BOB), "Alice missed their check-in"))
        await bob.wait_for_message("Alice missed their check-in", timeout=STEP)
        assert api.calls_to("getUpdates") == [] and api.calls_to("setWebhook") == []
    finally:
        await channel.stop()


def test_keypad_memory_holds_digits_only_until_ok() -> None:
    pads = PinKeypads()
    keypad_rows = ((Button("Stop", "c:abort"),),)
    from bot.channels.telegram import Keypad

    pads.open("7", Keypad(10, "Send your PIN", keypad_rows))
    assert pads.press("7", 11, "1")[0] is Press.STALE, "another message's keypad is not this one"
    assert pads.press("7", 10, "ok")[0] is Press.EMPTY
    for digit in "4829":
        outcome, view, _digits = pads.press("7", 10, digit)
        assert outcome is Press.CHANGED and view is not None and "4" not in view.text
    assert pads.press("7", 10, "del")[1] is not None
    outcome, view, digits = pads.press("7", 10, "ok")
    assert (outcome, digits) == (Press.SUBMIT, "482")
    assert view is not None and view.text.endswith("•••") and not view.keys
    assert pads.press("7", 10, "1")[0] is Press.STALE, "the digits are gone after OK"


def test_buttons_render_as_callback_data_within_64_bytes() -> None:
    rows = ((Button("I'm safe ✅", "safe:abc123"), Button("too long", "x" * 65)),)
    markup = keyboard(rows, keypad=True)
    assert markup is not None
    data = [b.callback_data for row in markup.inline_keyboard for b in row]
    assert "safe:abc123" in data and "x" * 65 not in data
    assert data[:3] == ["k:1", "k:2", "k:3"]


# -- across channels and the whole story ---------------------------------------------------


async def test_a_telegram_worker_with_a_console_buddy(bot: Harness) -> None:
    alice = bot.api.user(ALICE, "Alice")
    await bot.onboard(alice, "Alice")
    await bot.console_onboard("sam", "Sam")
    code, _link = await bot.invite_code(alice)
    await bot.console_say("sam", f"/accept {code}", "You are now Alice's buddy")
    await alice.wait_for_message("Sam is now your buddy")
    mark = len(bot.console.transcript)
    await bot.say(alice, f"/outcall {PLATE} | {ADDRESS} | 1s", "Saved and sealed")
    await bot.console_wait("sam", "Alice missed their check-in", mark, timeout=ESCALATION)
    await bot.console_say("sam", "UNLOCK", "Send your PIN")
    details = await bot.console_say("sam", PIN, PLATE)
    assert ADDRESS in details
    await bot.console_say("sam", "ON IT", "You are handling Alice's alert")
    await bot.console_say("sam", "SAFE", "Are you sure Alice is safe?")
    newest = alice.last_message()
    await bot.console.feed("sam", "24")
    after = newest.message_id if newest else 0
    await alice.wait_for_message("Sam confirmed you are safe", after=after, timeout=STEP)
    assert bot.sealed_rows() == 0


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_full_scenario_over_http(
    api: TelegramApiEmulator, tmp_path: Path, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Onboard two people, pair, outcall, miss it, alert, unlock, I'm on it, she's safe."""
    caplog.set_level(logging.DEBUG)
    options: dict[str, object] = {}
    if mode == "webhook":
        port = free_port()
        options = {
            "mode": "webhook",
            "webhook_port": port,
            "webhook_url": f"http://127.0.0.1:{port}/telegram",
            "webhook_secret": SECRET,
        }
    async with running(api, tmp_path, **options) as bot:
        alice, bob = await paired(bot)
        sent = await alice.send_text(f"/outcall {PLATE} | {ADDRESS} | 1s")
        await alice.wait_for_message("Saved and sealed", after=sent, timeout=STEP)
        await alice.wait_for_message("has passed", after=sent, timeout=ESCALATION)
        alert = await bob.wait_for_message("Alice missed their check-in", timeout=ESCALATION)
        labels = [b["text"] for b in alert.buttons()]
        assert labels == ["Unlock details 🔓", "I'm on it 🙋", "Alice is safe 💚"]
        prompt = await bot.press(bob, "Unlock details 🔓", "Send your PIN", alert)
        await bot.keypad(bob, prompt)
        details = await bob.wait_for_message(PLATE, after=prompt.message_id, timeout=STEP)
        await bot.press(bob, "I'm on it 🙋", "You are handling Alice's alert", alert)
        # One tap closes nothing: it asks, and only the second tap ends it for everyone.
        sure = await bot.press(bob, "Alice is safe 💚", "Are you sure Alice is safe?", alert)
        assert bot.sealed_rows() == 2
        mark = alice.last_message()
        yes = "Yes — I spoke to Alice, they are safe"
        await bot.press(bob, yes, "You confirmed Alice is safe", sure)
        await alice.wait_for_message(
            "Bob confirmed you are safe", after=mark.message_id if mark else 0, timeout=STEP
        )
        assert bot.sealed_rows() == 0
        if mode == "webhook":
            assert bot.api.webhook_deliveries and bot.api.calls_to("setWebhook")
            forged = alice.compose("/sos")
            await bot.api.push_update({"message": forged}, secret_token="wrong")
            assert bot.api.webhook_deliveries[-1].status == 403
    assert next(m for m in bob.history() if m.message_id == details.message_id).deleted
    for secret in (PLATE, ADDRESS, PIN, TOKEN):
        assert secret not in caplog.text, "logs never carry details, PINs or the token"
