"""The Telegram channel, end to end: the real App and python-telegram-bot over HTTP against
the local Bot API emulator, with people tapping buttons the way they would on a phone."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.channels.base import ChannelLimits, DeliveryError, Outbound
from bot.channels.telegram import PinKeypads, Press, TelegramChannel, build_channel, keyboard
from bot.config import ConfigError
from checkins.messages import Button
from tests.channels.telegram_harness import (
    BOT_USERNAME,
    CODE,
    ESCALATION,
    PIN,
    STEP,
    TOKEN,
    Harness,
    fast_settings,
    free_port,
    running,
)
from tests.emulators.telegram_api import SECRET_HEADER, SimUser, TelegramApiEmulator

ALICE, BOB, CAROL = 1001, 1002, 1003
PLATE, ADDRESS = "KX-482-B", "14 Hollow Lane, flat 3"
SECRET = "hook-secret_1"


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep proxies off loopback traffic; run PTB with its timedelta API like production will."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def api() -> AsyncIterator[TelegramApiEmulator]:
    async with TelegramApiEmulator(token=TOKEN, bot_username=BOT_USERNAME) as emulator:
        yield emulator


@pytest.fixture
async def bot(api: TelegramApiEmulator, tmp_path: Path) -> AsyncIterator[Harness]:
    async with running(api, tmp_path) as harness:
        yield harness


async def paired(bot: Harness) -> tuple[SimUser, SimUser]:
    """Alice (a worker) and Bob (her buddy), both on Telegram."""
    alice, bob = bot.api.user(ALICE, "Alice"), bot.api.user(BOB, "Bob")
    await bot.onboard(alice, "Alice")
    await bot.onboard(bob, "Bob")
    await bot.pair(alice, bob, "Alice")
    return alice, bob


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
    await bot.say(bob, "/start", "choose a nickname")
    await bot.say(bob, "Bob", "choose a PIN")
    await bot.say(bob, PIN, "same PIN")
    await bot.say(bob, PIN, "Welcome, Bob")
    typed = [m for m in bob.history() if not m.from_bot and m.text == PIN]
    assert len(typed) == 2 and all(m.deleted for m in typed)
