"""Forgiving input on Telegram, end to end (the real python-telegram-bot against the Bot API
emulator): a shared location or venue as the address, a live location taken once, and the
keypad after a restart or a refused PIN."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.channels.telegram_harness import (
    ESCALATION,
    STEP,
    Harness,
    running,
)
from tests.emulators.telegram_api import ChatMessage, SimUser, TelegramApiEmulator

ALICE, BOB, LEE = 2001, 2002, 2003
PLATE = "KX482B"
UNLOCK = "Unlock details 🔓"
LATITUDE, LONGITUDE = 51.501364, -0.14189
MAP_LINK = "https://www.openstreetmap.org/?mlat=51.501364&mlon=-0.141890#map=18/51.501364/-0.141890"

pytestmark = pytest.mark.usefixtures("ptb_timedelta")


async def paired(bot: Harness) -> tuple[SimUser, SimUser]:
    return await bot.alice_and_bob(ALICE, BOB)


async def finish_and_call_for_help(bot: Harness, alice: SimUser, notes: ChatMessage) -> None:
    """Alice skips the notes, gives an hour, then sends SOS: Bob is alerted at once."""
    due = await bot.press(alice, "Skip", "How long until you check in", notes)
    await bot.press(alice, "1 hour", "Saved and sealed", due)
    await bot.say(alice, "SOS", "SOS sent")


async def bob_unlocks(bot: Harness, bob: SimUser) -> ChatMessage:
    alert = await bob.wait_for_message(
        lambda m: any(b.get("text") == UNLOCK for b in m.buttons()), timeout=ESCALATION
    )
    prompt = await bot.press(bob, UNLOCK, "Send your PIN", alert)
    await bot.keypad(bob, prompt)
    return await bob.wait_for_message(PLATE, after=prompt.message_id, timeout=STEP)


# -- 2.8: a shared location is the address -----------------------------------------------


async def test_a_worker_shares_her_location_instead_of_typing_the_address(
    bot: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    alice, bob = await paired(bot)
    await bot.say(alice, "/outcall", "car plate")
    await bot.say(alice, PLATE, "Or share your location instead")
    shared = await alice.send_location(LATITUDE, LONGITUDE)
    notes = await alice.wait_for_message("Anything else", after=shared, timeout=STEP)
    assert any("Got your location" in m.text for m in alice.messages())
    await finish_and_call_for_help(bot, alice, notes)
    await alice.wait_for_message("I deleted your messages", after=shared, timeout=STEP)
    location = next(m for m in alice.history() if m.message_id == shared)
    assert location.deleted, "the message saying where she is is gone from her chat"
    details = await bob_unlocks(bot, bob)
    assert f"Shared location: {MAP_LINK}" in details.text
    assert "Address:" not in details.text
    said = [m.text for m in alice.messages()] + [m.text for m in bob.messages() if m != details]
    assert not any("51.50" in text for text in said), "only the unlocked details show it"
    assert "51.50" not in caplog.text and "-0.141" not in caplog.text


async def test_a_venue_shared_first_starts_the_outcall_with_its_name_and_address(
    bot: Harness,
) -> None:
    alice, bob = await paired(bot)
    shared = await alice.send_venue(LATITUDE, LONGITUDE, "Hotel Rex", "12 Long Street")
    await alice.wait_for_message("car plate", after=shared, timeout=STEP)
    notes = await bot.say(alice, PLATE, "Anything else")  # the address is not asked
    await finish_and_call_for_help(bot, alice, notes)
    details = await bob_unlocks(bot, bob)
    assert "Address: Hotel Rex, 12 Long Street" in details.text
    assert f"Shared location: {MAP_LINK}" in details.text


async def test_a_live_location_is_sealed_where_it_started_and_its_moves_get_no_answer(
    bot: Harness,
) -> None:
    """docs/telegram.md: we take the point a live location starts at, never follow it."""
    alice, bob = await paired(bot)
    await bot.say(alice, "/outcall", "car plate")
    await bot.say(alice, PLATE, "What is the address")
    shared = await alice.send_location(LATITUDE, LONGITUDE, live_period=900)
    notes = await alice.wait_for_message("Anything else", after=shared, timeout=STEP)
    told = await alice.wait_for_message("not where you go next", after=shared, timeout=STEP)
    assert "share your live location with them directly" in told.text
    for step in (1, 2):
        await alice.move_live_location(shared, LATITUDE + step / 100, LONGITUDE)
    await finish_and_call_for_help(bot, alice, notes)
    details = await bob_unlocks(bot, bob)
    assert f"Shared location: {MAP_LINK}" in details.text  # where it started
    assert not any("edited" in m.text for m in alice.messages()), "moves are not answered"


# -- 2.10: the keypad --------------------------------------------------------------------


async def test_a_registration_cut_by_a_restart_begins_again_when_the_old_keypad_is_tapped(
    api: TelegramApiEmulator, tmp_path: Path
) -> None:
    lee, bob = api.user(LEE, "Lee"), api.user(BOB, "Bob")
    async with running(api, tmp_path) as bot:
        await bot.onboard(bob, "Bob")
        await bot.say(bob, "/settings", "What do you want to change")
        current = await bot.press(bob, "Change my PIN", "Send your current PIN")
        await bot.say(lee, "/start", "Choose your language")
        await bot.say(lee, "English", "choose a nickname")
        keypad = await bot.say(lee, "Lee", "choose a PIN")
    async with running(api, tmp_path) as bot:  # the bot restarted: the forms are forgotten
        await bob.press("k:4", current)
        ended = await bob.wait_for_message("That PIN question has ended", after=current.message_id)
        assert "Choose the button you began with again" in ended.text
        for digit in "48":  # a second tap before the answer arrives is not answered twice
            await lee.press(f"k:{digit}", keypad)
        again = await lee.wait_for_message("Choose your language", after=keypad.message_id)
        lost = [m.text for m in lee.messages() if "lost what you were typing" in m.text]
        assert len(lost) == 1 and "Let's start again" in lost[0]
        await bot.say(lee, "English", "choose a nickname")
        prompt = await bot.say(lee, "Lee", "choose a PIN")
        assert prompt.message_id > again.message_id
        await bot.keypad(lee, prompt)
        confirm = await lee.wait_for_message("same PIN", after=prompt.message_id, timeout=STEP)
        await bot.keypad(lee, confirm)
        await lee.wait_for_message("Welcome, Lee", after=confirm.message_id, timeout=STEP)


async def test_a_too_easy_pin_tapped_keeps_the_keypad_and_nothing_claims_a_deletion(
    bot: Harness,
) -> None:
    """The refusal comes with a fresh keypad under it; and a PIN that was only ever tapped
    was never a message, so no "I deleted the messages with your PIN" is said."""
    lee = bot.api.user(LEE, "Lee")
    await bot.say(lee, "/start", "Choose your language")
    await bot.say(lee, "English", "choose a nickname")
    prompt = await bot.say(lee, "Lee", "choose a PIN")
    await bot.keypad(lee, prompt, "123456")
    refused = await lee.wait_for_message("too easy", after=prompt.message_id, timeout=STEP)
    assert "k:1" in {b["callback_data"] for b in refused.buttons()}, "the keypad is still there"
    await bot.keypad(lee, refused)
    confirm = await lee.wait_for_message("same PIN", after=refused.message_id, timeout=STEP)
    await bot.keypad(lee, confirm)
    await lee.wait_for_message("Welcome, Lee", after=confirm.message_id, timeout=STEP)
    assert not any("I deleted" in m.text for m in lee.messages())
