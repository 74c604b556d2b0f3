"""The Telegram emulator and the bot running against it, for the Telegram channel tests
(the Signal tests define their own `api`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.channels.telegram_harness import BOT_USERNAME, TOKEN, Harness, running
from tests.emulators.telegram_api import TelegramApiEmulator


@pytest.fixture
async def api() -> AsyncIterator[TelegramApiEmulator]:
    async with TelegramApiEmulator(token=TOKEN, bot_username=BOT_USERNAME) as emulator:
        yield emulator


@pytest.fixture
async def bot(api: TelegramApiEmulator, tmp_path: Path) -> AsyncIterator[Harness]:
    async with running(api, tmp_path) as harness:
        yield harness
