"""Chaos: `buddycheck run` killed with SIGKILL at random moments, again and again, while
check-ins come due. At the end every missed check-in reached every buddy, nothing was sent
about an outcall that was checked in safe, and a crash cost at most one duplicate. On
PostgreSQL the deployment is the documented two processes (one receives and sends, one only
escalates and sends), and each kill takes one of them at random.

The real process (`buddycheck run`, started as its console script does) talks HTTP to the
Bot API emulator on loopback. CI kills it `KILLS` times (20); the long run is

    BUDDYCHECK_CHAOS_KILLS=100 .venv/bin/python -m pytest -q tests/process/test_chaos.py
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.app import App
from bot.config import Settings, load_config, load_pepper
from checkins.messages import Identity
from tests.conftest import PIN
from tests.emulators.telegram_api import TelegramApiEmulator

TOKEN = "4242:chaos-token"
KILLS = int(os.environ.get("BUDDYCHECK_CHAOS_KILLS", "20"))
WORKERS, BUDDIES_EACH, POOL = 16, 2, 6
SAFE_EVERY = 4  # every fourth worker checks in safe shortly before their time
STARTED_WITHIN = 20.0  # seconds a (re)started process may take to reach Telegram
SETTLE = 90.0  # seconds after the last kill for every alert to arrive
RUN = "from bot.cli import main; main()"  # what the `buddycheck` script does
ALERT = re.compile(r"🚨 (W\d+) missed their check-in")

CONFIG = """\
[service]
default_jurisdiction = "chaos"
min_duration = "1s"
[database]
url = "{url}"
[telegram]
token = "{token}"
base_url = "{base_url}"
mode = "{mode}"
[crypto]
pepper_file = "{pepper}"
kdf = "interactive"
argon2_memory_mib = 128
[outbox]
max_backoff = "2s"
instance = "{instance}"
[health]
listen = ""
[jurisdictions.chaos]
legal_model = "criminalised"
timezone = "UTC"
reminder_before = "0m"
ack_timeout = "1h"
ladder = [{{ after = "0m", notify = "buddies" }}]
"""


@dataclass(frozen=True)
class Booking:
    chat: int  # the worker's Telegram chat
    worker: str  # the worker's nickname, which the alert names
    buddies: tuple[int, ...]
    due_in: float  # seconds after the start
    safe: bool


@pytest.fixture
async def api() -> AsyncIterator[TelegramApiEmulator]:
    async with TelegramApiEmulator(token=TOKEN, bot_username="chaos_bot") as emulator:
        yield emulator


PEPPER = secrets.token_hex(32)  # one deployment: every process has the same pepper


def write_config(
    directory: Path, base_url: str, url: str, mode: str = "polling", instance: str = "main"
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    pepper = directory / "pepper"
    pepper.write_text(PEPPER, encoding="utf-8")
    pepper.chmod(0o600)
    path = directory / "config.toml"
    text = CONFIG.format(
        url=url, token=TOKEN, base_url=base_url, pepper=pepper, mode=mode, instance=instance
    )
    path.write_text(text, encoding="utf-8")
    return path


def book(settings: Settings, bookings: list[Booking], pepper: bytes) -> App:
    """Register everyone and start every outcall through the project's own service."""
    app = App(settings, pepper, {})
    app.db.migrate()
    telegram = {chat: Identity("telegram", str(chat)) for b in bookings for chat in b.buddies}
    for chat, who in telegram.items():
        app.service.register(who, f"B{chat}", PIN)
    for booking in bookings:
        worker = Identity("telegram", str(booking.chat))
        app.service.register(worker, booking.worker, PIN)
        for chat in booking.buddies:
            app.service.accept_invite(telegram[chat], app.service.create_invite(worker))
    for booking in bookings:  # after every PIN is set, so the clocks start together
        worker = Identity("telegram", str(booking.chat))
        seconds = max(1, round(booking.due_in))
        app.service.start_outcall(worker, "KX482B", "14 Hollow Lane", "", f"{seconds}s")
    return app


def plan(rng: random.Random, spread: float) -> list[Booking]:
    pool = [2000 + n for n in range(POOL)]
    return [
        Booking(
            chat=3000 + n,
            worker=f"W{n:02d}",
            buddies=tuple(rng.sample(pool, BUDDIES_EACH)),
            due_in=5 + spread * n / WORKERS,
            safe=n % SAFE_EVERY == 0,
        )
        for n in range(WORKERS)
    ]


def start_bot(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-c", RUN, "run", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def alerts(api: TelegramApiEmulator, chats: set[int]) -> Counter[tuple[str, int]]:
    """How many alerts each buddy got about each worker."""
    counted: Counter[tuple[str, int]] = Counter()
    for chat in chats:
        for message in api.history(chat):
            found = ALERT.match(message.text) if message.from_bot else None
            if found:
                counted[(found.group(1), chat)] += 1
    return counted


async def check_in_when_due(app: App, bookings: list[Booking], began: float) -> None:
    """The safe workers tap "I'm safe" two seconds before their time, whatever is running."""
    for booking in sorted((b for b in bookings if b.safe), key=lambda b: b.due_in):
        await asyncio.sleep(max(0.0, began + booking.due_in - 2 - time.monotonic()))
        await asyncio.to_thread(app.service.check_in, Identity("telegram", str(booking.chat)))


@dataclass
class Bot:
    """One `buddycheck run` process of the deployment, restarted after every kill."""

    config: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None

    async def start(self, api: TelegramApiEmulator) -> None:
        """Start it and wait (bounded) until it has connected to Telegram (getMe)."""
        seen = len(api.calls_to("getMe"))
        self.process = start_bot(self.config, self.log)
        async with asyncio.timeout(STARTED_WITHIN):
            while len(api.calls_to("getMe")) == seen:
                assert self.process.poll() is None, "buddycheck run exited on its own"
                await asyncio.sleep(0.05)

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(self.process.wait, 10)

    async def stop(self) -> int:
        """SIGTERM, as an operator's restart does; the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.to_thread(self.process.wait, 15)

    def reap(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()


def deployment(directory: Path, base_url: str, url: str | None) -> list[Bot]:
    """SQLite: one process. PostgreSQL: the documented two (one receives, one only sends)."""
    if url is None:
        config = write_config(directory, base_url, f"sqlite:///{directory / 'b.db'}")
        return [Bot(config, directory / "bot.log")]
    return [
        Bot(write_config(directory / name, base_url, url, mode, name), directory / f"{name}.log")
        for name, mode in (("first", "polling"), ("second", "send_only"))
    ]


@pytest.fixture(params=["sqlite", "postgresql"])
def topology(request: pytest.FixtureRequest) -> str | None:
    """None for SQLite, else a fresh PostgreSQL database's URL (skipped without one)."""
    if request.param == "sqlite":
        return None
    return str(request.getfixturevalue("postgres_url"))


async def test_killing_the_bot_at_random_loses_no_alert(
    api: TelegramApiEmulator, tmp_path: Path, topology: str | None
) -> None:
    rng = random.Random(int(os.environ.get("BUDDYCHECK_CHAOS_SEED", "1")))
    bots = deployment(tmp_path, api.base_url, topology)
    bookings = plan(rng, spread=KILLS * 2.0)
    for chat in {c for b in bookings for c in (b.chat, *b.buddies)}:
        api.user(chat, f"P{chat}")
    settings = load_config(bots[0].config)
    pepper = load_pepper(settings)
    assert pepper is not None
    app = await asyncio.to_thread(book, settings, bookings, pepper)
    check_ins = asyncio.create_task(check_in_when_due(app, bookings, time.monotonic()))
    chats = {chat for b in bookings for chat in b.buddies}
    expected = {(b.worker, chat) for b in bookings if not b.safe for chat in b.buddies}
    try:
        for bot in bots:
            await bot.start(api)
        for _kill in range(KILLS):  # one process dies at a random moment, and comes back
            await asyncio.sleep(rng.uniform(0.2, 2.5))
            victim = rng.choice(bots)
            await victim.kill()
            await victim.start(api)
        async with asyncio.timeout(SETTLE):
            while not expected <= set(alerts(api, chats)):
                await asyncio.sleep(0.2)
        await check_ins
        assert [await bot.stop() for bot in bots] == [0] * len(bots)
    finally:
        check_ins.cancel()
        for bot in bots:
            bot.reap()
        app.db.dispose()
    got = alerts(api, chats)
    safe = {b.worker for b in bookings if b.safe}
    assert not [key for key in got if key[0] in safe], "an alert about someone checked in safe"
    assert set(got) == expected
    duplicates = sum(count - 1 for count in got.values())
    assert duplicates <= KILLS, f"{duplicates} duplicates over {KILLS} crashes"
    for bot in bots:
        assert "Traceback" not in bot.log.read_text(encoding="utf-8", errors="replace")
