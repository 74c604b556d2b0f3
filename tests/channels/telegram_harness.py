"""The real buddycheck App with its Telegram channel pointed at the local Bot API emulator.

Tests act as Telegram users through the emulator (and as console users for cross-channel
pairs) and assert on what went over the wire. Time runs in seconds: a check-in can be due
in 2 s and buddies are alerted 1 s later. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import App
from bot.channels.base import ChannelLimits
from bot.channels.console import ConsoleChannel
from bot.channels.telegram import TelegramChannel, build_channel
from bot.config import Settings, settings_from
from storage.tables import Envelope, SealedKey
from tests.emulators.telegram_api import ChatMessage, SimUser, TelegramApiEmulator

TOKEN = "123:ABC"
PIN = "482913"
BOT_USERNAME = "buddycheck_test_bot"
CODE = re.compile(r"[0-9A-Z]{4}-[0-9A-Z]{4}")
STEP = 8.0  # seconds any single step may take
ESCALATION = 15.0  # seconds a missed check-in may take to reach a buddy
# Most tests send several replies to one chat in well under a second; the real per-chat gap
# (1 s, `TelegramChannel.limits`) would only slow them down. Tests of limits keep it.
FAST_LIMITS = ChannelLimits(per_second=1000.0, per_chat_interval=0.0)


def fast_settings(directory: Path, base_url: str, **telegram: Any) -> Settings:
    """Seconds-scale ladder: reminder 2 s before due, buddies 1 s after it."""
    return settings_from(
        {
            "service": {"default_jurisdiction": "fast", "min_duration": "1s"},
            "database": {"url": f"sqlite:///{directory / 'buddycheck.db'}"},
            "crypto": {"kdf": "insecure-fast"},
            "security": {"unlocked_details_visible": "1s"},
            "outbox": {"max_backoff": "1s"},
            "telegram": {"token": TOKEN, "base_url": base_url, **telegram},
            "jurisdictions": {
                "fast": {
                    "legal_model": "criminalised",
                    "timezone": "UTC",
                    "reminder_before": "2s",
                    "ack_timeout": "30s",
                    "ladder": [
                        {"after": "0s", "notify": "worker"},
                        {"after": "1s", "notify": "buddies"},
                        {"after": "60s", "notify": "responders"},
                    ],
                }
            },
        },
        "telegram test settings",
    )


def free_port() -> int:
    """A loopback port nobody listens on right now, for the webhook server."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Harness:
    """A running App with Telegram (on the emulator) and console channels."""

    api: TelegramApiEmulator
    app: App
    telegram: TelegramChannel
    console: ConsoleChannel

    # -- Telegram people ----------------------------------------------------------------

    async def say(
        self, user: SimUser, text: str, expect: str, timeout: float = STEP
    ) -> ChatMessage:
        """`user` sends `text` and waits for a bot reply containing `expect`."""
        sent = await user.send_text(text)
        return await user.wait_for_message(expect, after=sent, timeout=timeout)

    async def press(
        self, user: SimUser, button: str, expect: str, message: ChatMessage | None = None
    ) -> ChatMessage:
        """`user` presses a button and waits for a new bot message containing `expect`."""
        newest = user.last_message()
        mark = newest.message_id if newest else 0
        await user.press(button, message)
        return await user.wait_for_message(expect, after=mark, timeout=STEP)

    async def keypad(self, user: SimUser, prompt: ChatMessage, pin: str = PIN) -> None:
        """Tap a PIN on the inline keypad under `prompt`, then OK."""
        for digit in pin:
            await user.press(f"k:{digit}", prompt)
        await user.press("k:ok", prompt)

    async def onboard(self, user: SimUser, alias: str) -> None:
        """/start, choose an alias, set the PIN twice on the keypad."""
        await self.say(user, "/start", "Choose your language")
        await self.say(user, "English", "choose a nickname")
        prompt = await self.say(user, alias, "choose a PIN")
        await self.keypad(user, prompt)
        again = await user.wait_for_message("same PIN", after=prompt.message_id, timeout=STEP)
        await self.keypad(user, again)
        await user.wait_for_message(f"Welcome, {alias}", after=again.message_id, timeout=STEP)

    async def invite_code(self, worker: SimUser) -> tuple[str, str]:
        """The worker's /invite: the code as shown and the deep link."""
        invite = await self.say(worker, "/invite", "Your buddy code")
        code = CODE.search(invite.text)
        link = re.search(r"https://t\.me/\S+", invite.text)
        assert code is not None and link is not None, invite.text
        return code[0], link[0]

    async def pair(self, worker: SimUser, buddy: SimUser, worker_alias: str) -> None:
        code, _link = await self.invite_code(worker)
        await self.say(buddy, f"/accept {code}", f"You are now {worker_alias}'s buddy")

    async def alice_and_bob(self, alice_id: int, bob_id: int) -> tuple[SimUser, SimUser]:
        """Alice (a worker) and Bob (her buddy), registered and paired on Telegram."""
        alice, bob = self.api.user(alice_id, "Alice"), self.api.user(bob_id, "Bob")
        await self.onboard(alice, "Alice")
        await self.onboard(bob, "Bob")
        await self.pair(alice, bob, "Alice")
        return alice, bob

    # -- console people -----------------------------------------------------------------

    async def console_say(self, person: str, text: str, expect: str) -> str:
        mark = len(self.console.transcript)
        await self.console.feed(person, text)
        return await self.console_wait(person, expect, mark)

    async def console_wait(
        self, person: str, expect: str, since: int = 0, timeout: float = STEP
    ) -> str:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            for address, text in self.console.transcript[since:]:
                if address == person and expect in text:
                    return text
            await asyncio.sleep(0.05)
        raise AssertionError(f"{person} never got {expect!r}: {self.console.transcript[since:]}")

    async def console_onboard(self, person: str, alias: str) -> None:
        await self.console_say(person, "/start", "Choose your language")
        await self.console_say(person, "English", "choose a nickname")
        await self.console_say(person, alias, "PIN")
        await self.console_say(person, PIN, "same PIN")
        await self.console_say(person, PIN, f"Welcome, {alias}")

    # -- the database -------------------------------------------------------------------

    def sealed_rows(self) -> int:
        with self.app.db.transaction() as session:
            return sum(
                session.scalar(select(func.count()).select_from(table)) or 0
                for table in (Envelope, SealedKey)
            )


@asynccontextmanager
async def running(
    api: TelegramApiEmulator,
    directory: Path,
    *,
    limits: ChannelLimits = FAST_LIMITS,
    send_timeout: float | None = None,
    **telegram: Any,
) -> AsyncIterator[Harness]:
    """Start the App on the emulator (and the console); stop it afterwards, bounded."""
    settings = fast_settings(directory, api.base_url, **telegram)
    channel = build_channel(settings)
    if send_timeout is not None:
        channel = TelegramChannel(settings.telegram, send_timeout=send_timeout)
    channel.limits = limits
    console = ConsoleChannel(printer=lambda _text: None)
    app = App(settings, secrets.token_bytes(32), {"telegram": channel, "console": console})
    await asyncio.wait_for(app.start(), STEP)
    try:
        yield Harness(api, app, channel, console)
    finally:
        await asyncio.wait_for(app.stop(), STEP)


@pytest.fixture
async def telegram(tmp_path: Path) -> AsyncIterator[Harness]:
    """The App with the real Telegram adapter over the local Bot API emulator."""
    async with (
        TelegramApiEmulator(token=TOKEN, bot_username=BOT_USERNAME) as api,
        running(api, tmp_path) as harness,
    ):
        yield harness
