"""Markup in what people type stays text: a nickname or an outcall note written in Telegram
HTML or Markdown, or in Signal's styling, reaches the buddy exactly as typed.

If the bot ever sent with a `parse_mode` (Telegram) or `text_mode: styled` (Signal), a worker's
alias or a client's note could turn into a hidden link (`tg://user?id=…`, a phishing URL),
bold "official-looking" text, or a message that fails to send at all because it doesn't parse
— and a failed alert is a missed alert. Each test drives the real client library over HTTP
against the local emulator and reads what went over the wire.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.channels.base import ChannelLimits
from bot.channels.console import ConsoleChannel
from bot.channels.signal import build_channel as build_signal_channel
from checkins.messages import Identity
from tests.channels.telegram_harness import BOT_USERNAME, STEP, TOKEN, running
from tests.channels.test_signal import (
    PIN,
    WAIT,
    ask,
    fast,
    signal_settings,
)
from tests.emulators.signal_api import SignalApiEmulator
from tests.emulators.telegram_api import ApiCall, TelegramApiEmulator

ALICE, BOB = 2001, 2002
# Aliases are at most 32 characters.
TG_WORKER = '<a href="tg://user?id=1">Al</a>'
TG_BUDDY = "*Bob* [x](https://evil.example)"
TG_PLATE = "<b>KX482B</b>"
TG_ADDRESS = "<i>14 Hollow Lane</i> _flat_ 3"
TG_NOTES = '[call me](https://evil.example) <a href="tg://user?id=1">x</a> `code` *bold*'


pytestmark = pytest.mark.usefixtures("ptb_timedelta")


def sent_as_plain_text(call: ApiCall) -> bool:
    """No parse mode and no entities: Telegram shows the text exactly as sent."""
    params = call.params
    return not params.get("parse_mode") and not params.get("entities")


async def test_telegram_markup_in_aliases_and_details_reaches_the_buddy_literally(
    tmp_path: Path,
) -> None:
    async with (
        TelegramApiEmulator(token=TOKEN, bot_username=BOT_USERNAME) as api,
        running(api, tmp_path) as bot,
    ):
        alice, bob = api.user(ALICE, "Alice"), api.user(BOB, "Bob")
        await bot.onboard(alice, TG_WORKER)  # waits for "Welcome, <a href=…" verbatim
        await bot.onboard(bob, TG_BUDDY)
        await bot.pair(alice, bob, TG_WORKER)
        await alice.wait_for_message(f"{TG_BUDDY} is now your buddy", timeout=STEP)
        sent = await alice.send_text(f"/outcall {TG_PLATE} | {TG_ADDRESS} | {TG_NOTES} | 1h")
        await alice.wait_for_message("Saved and sealed", after=sent, timeout=STEP)
        await bot.say(alice, "SOS", "SOS sent")

        alert = await bob.wait_for_message(f"🆘 {TG_WORKER} pressed SOS", timeout=STEP)
        assert f"{TG_WORKER} is safe 💚" in [b["text"] for b in alert.buttons()]
        prompt = await bot.press(bob, "Unlock details 🔓", "Send your PIN", alert)
        await bot.keypad(bob, prompt)
        details = await bob.wait_for_message(TG_NOTES, after=prompt.message_id, timeout=STEP)
        await bot.press(bob, "I'm on it 🙋", f"You are handling {TG_WORKER}'s alert", alert)

    assert details.text.split("\n")[:4] == [
        f"🔓 {TG_WORKER}'s details:",
        f"Car plate: {TG_PLATE.upper()}",  # plates are kept in capitals, tags and all
        f"Address: {TG_ADDRESS}",
        f"Notes: {TG_NOTES}",
    ]
    writes = api.calls_to("sendMessage") + api.calls_to("editMessageText")
    assert len(writes) > 10
    assert all(sent_as_plain_text(call) for call in writes), [c.params for c in writes]
    texts = [str(call.params.get("text", "")) for call in writes]
    for literal in (TG_WORKER, TG_BUDDY, TG_NOTES):
        assert any(literal in text for text in texts), literal
    assert api.calls_to("sendMessage")[0].status == 200


# -- Signal ---------------------------------------------------------------------------------

SIG_WORKER = "**Robin** ||x|| ~y~"
SIG_BUDDY = "`Sam` *i* [x](https://e.example)"
SIG_NOTES = (
    "**bold** ~strike~ `mono` <b>x</b> [link](https://evil.example)"  # no "|": it splits the form
)


@pytest.fixture
async def signal_app(tmp_path: Path) -> AsyncIterator[tuple[SignalApiEmulator, App]]:
    async with SignalApiEmulator(number="+15550000001") as api:
        settings = signal_settings(f"sqlite:///{tmp_path / 'buddycheck.db'}", api.service)
        channel = fast(build_signal_channel(settings))
        channel.limits = ChannelLimits(per_second=100.0, per_chat_interval=0.0)
        console = ConsoleChannel(printer=lambda _line: None)
        app = App(settings, secrets.token_bytes(32), {"signal": channel, "console": console})
        await app.start()
        try:
            await api.wait_connected(timeout=WAIT)
            yield api, app
        finally:
            await app.stop()
        assert api.unhandled == []


def unstyled(body: dict[str, Any]) -> bool:
    """Sent as plain text: no styled text mode, no mentions that would become entities."""
    return body.get("text_mode") in (None, "normal") and not body.get("mentions")


async def test_signal_styling_in_aliases_and_details_reaches_the_buddy_literally(
    signal_app: tuple[SignalApiEmulator, App],
) -> None:
    api, app = signal_app
    robin, sam = api.user(name="Robin"), api.user(name="Sam")
    # Registered and paired directly (onboarding over Signal is tested in test_signal.py);
    # everything the buddy is sent still goes out through the Signal channel.
    worker, buddy = Identity("signal", robin.uuid), Identity("signal", sam.uuid)
    app.service.register(worker, SIG_WORKER, PIN)
    app.service.register(buddy, SIG_BUDDY, PIN)
    app.service.accept_invite(buddy, app.service.create_invite(worker))
    app.poke()
    await robin.wait_for_message(f"{SIG_BUDDY} is now your buddy", timeout=WAIT)
    await ask(robin, f"/outcall KX482B | 14 Hollow Lane | {SIG_NOTES} | 1h", "Saved and sealed")
    await ask(robin, "SOS", "SOS sent")
    alert = await sam.wait_for_message(f"🆘 {SIG_WORKER} pressed SOS", timeout=WAIT)
    assert f"3 for {SIG_WORKER} is safe 💚" in alert.text
    await ask(sam, "UNLOCK", "Send your PIN")
    details = await ask(sam, PIN, SIG_NOTES)
    assert f"Notes: {SIG_NOTES}" in details.split("\n")

    bodies = [dict(m.body) for m in api.sent]
    assert len(bodies) >= 8  # every reply, the alert, the unlocked details
    assert all(unstyled(body) for body in bodies), bodies
