"""`/healthz` and `/metrics` of a real `buddycheck run`, through HTTP, healthy and degraded:
Signal's receiving stopped, the database locked, an alert that cannot be sent. Neither
endpoint ever shows who anyone is or what they wrote (canaries), and `buddycheck status`
says the same in words, with its exit code.

The process talks to the Telegram and Signal emulators on loopback, as in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from bot.app import App
from bot.config import load_config, load_pepper
from checkins.messages import Identity
from checkins.service import CheckinService
from tests.channels.telegram_harness import free_port
from tests.conftest import PIN
from tests.emulators.signal_api import SignalApiEmulator
from tests.emulators.telegram_api import TelegramApiEmulator
from tests.process.test_chaos import PEPPER, RUN

TOKEN = "4242:health-token"
BOT_NUMBER = "+15550000001"
WAIT = 30.0  # seconds any one state may take to show
# What must never appear: a nickname, messenger ids, the details of an outcall.
CANARY_ALIAS, CANARY_PLATE, CANARY_ADDRESS = "Zephyrine", "QX7CANARY", "77 Canary Row"
WORKER_CHAT, BUDDY_CHAT = 918273645, 564738291

CONFIG = """\
[service]
default_jurisdiction = "north"
min_duration = "1s"
[database]
url = "sqlite:///{db}"
lock_timeout = "2s"
[telegram]
token = "{token}"
base_url = "{base_url}"
[signal]
service = "{signal}"
phone_number = "{number}"
connection_mode = "http"
[crypto]
pepper_file = "{pepper}"
kdf = "interactive"
argon2_memory_mib = 128
[outbox]
max_backoff = "1s"
[health]
listen = "127.0.0.1:{port}"
alert_age = "3s"
[jurisdictions.north]
legal_model = "criminalised"
timezone = "UTC"
reminder_before = "0m"
ladder = [{{ after = "0m", notify = "buddies" }}]
"""


def get(port: int, path: str) -> tuple[int, str]:
    url = f"http://127.0.0.1:{port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as failing:
        return failing.code, failing.read().decode()
    except urllib.error.URLError:  # not listening (yet, or any more)
        return 0, ""


def failing(body: str) -> dict[str, str]:
    """The failed checks of a /healthz body, by name, with their details."""
    report = json.loads(body)
    return {check["name"]: check["detail"] for check in report["checks"] if not check["ok"]}


async def until(port: int, wanted: Callable[[int, str], bool]) -> tuple[int, str]:
    """Poll /healthz (bounded) until its answer is the one wanted."""
    async with asyncio.timeout(WAIT):
        while True:
            status, body = await asyncio.to_thread(get, port, "/healthz")
            if wanted(status, body):
                return status, body
            await asyncio.sleep(0.1)


def healthy(status: int, body: str) -> bool:
    return status == 200


class Running:
    """The `buddycheck run` process, its config, and its health port."""

    def __init__(self, directory: Path, telegram: TelegramApiEmulator, signal: SignalApiEmulator):
        self.port = free_port()
        self.db = directory / "b.db"
        pepper = directory / "pepper"
        pepper.write_text(PEPPER, encoding="utf-8")
        pepper.chmod(0o600)
        self.config = directory / "config.toml"
        self.config.write_text(
            CONFIG.format(
                db=self.db,
                token=TOKEN,
                base_url=telegram.base_url,
                signal=signal.service,
                number=BOT_NUMBER,
                pepper=pepper,
                port=self.port,
            ),
            encoding="utf-8",
        )
        self.log = directory / "bot.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-c", RUN, "run", "--config", str(self.config)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def status(self) -> tuple[int, str]:
        """`buddycheck status` against this process: exit code and output."""
        done = subprocess.run(
            [sys.executable, "-c", RUN, "status", "--config", str(self.config)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return done.returncode, done.stdout + done.stderr

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture
async def running(
    tmp_path: Path,
) -> AsyncIterator[tuple[Running, TelegramApiEmulator, SignalApiEmulator]]:
    async with (
        TelegramApiEmulator(token=TOKEN, bot_username="health_bot") as telegram,
        SignalApiEmulator(BOT_NUMBER) as signal,
    ):
        bot = Running(tmp_path, telegram, signal)
        try:
            yield bot, telegram, signal
        finally:
            await asyncio.to_thread(bot.stop)
        assert "Traceback" not in bot.log.read_text(encoding="utf-8", errors="replace")


@contextlib.contextmanager
def service_of(config: Path) -> Iterator[CheckinService]:
    """The check-in service on the running bot's database, as another process would use it."""
    settings = load_config(config)
    pepper = load_pepper(settings)
    assert pepper is not None
    app = App(settings, pepper, {})
    try:
        app.db.migrate()
        yield app.service
    finally:
        app.db.dispose()


def book_canary_outcall(config: Path, due: str) -> None:
    """A worker with a canary nickname and details, and a buddy."""
    with service_of(config) as service:
        worker, buddy = (
            Identity("telegram", str(WORKER_CHAT)),
            Identity("telegram", str(BUDDY_CHAT)),
        )
        service.register(worker, CANARY_ALIAS, PIN)
        service.register(buddy, "Bea", PIN)
        service.accept_invite(buddy, service.create_invite(worker))
        service.start_outcall(worker, CANARY_PLATE, CANARY_ADDRESS, "", due)


def assert_no_canary(text: str) -> None:
    for canary in (CANARY_ALIAS, CANARY_PLATE, CANARY_ADDRESS, str(WORKER_CHAT), str(BUDDY_CHAT)):
        assert canary not in text, f"{canary!r} leaked"


async def test_health_follows_what_the_bot_can_do_and_never_names_anyone(
    running: tuple[Running, TelegramApiEmulator, SignalApiEmulator],
) -> None:
    bot, telegram, signal = running
    telegram.user(WORKER_CHAT, "P")
    bea = telegram.user(BUDDY_CHAT, "B")
    await asyncio.to_thread(book_canary_outcall, bot.config, "1h")
    bot.start()
    status, body = await until(bot.port, healthy)
    names = [check["name"] for check in json.loads(body)["checks"]]
    assert names == [
        "database",
        "engine",
        "channel:emergency",
        "channel:signal",
        "channel:telegram",
        "alerts",
    ]
    code, words = await asyncio.to_thread(bot.status)
    assert code == 0 and words.startswith("buddycheck is healthy."), words

    status, metrics = await asyncio.to_thread(get, bot.port, "/metrics")
    assert status == 200
    assert "buddycheck_outcalls_open 1.0" in metrics
    assert 'buddycheck_channel_receiving{channel="signal"} 1.0' in metrics
    assert "buddycheck_engine_round_seconds_count" in metrics
    assert_no_canary(metrics + body)

    # Signal: the websocket closed cleanly (signalbot would never receive again by itself).
    await signal.close_websocket_cleanly()
    _status, body = await until(bot.port, lambda s, b: s == 503 and "channel:signal" in failing(b))
    assert failing(body) == {"channel:signal": "restarting"}
    await until(bot.port, healthy)  # the adapter restarted receiving

    # The database locked by another program: the probe gives up after 3 s and says so.
    holder = sqlite3.connect(bot.db, timeout=1)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        status, body = await until(bot.port, lambda s, b: s == 503)
        assert "database" in failing(body) and "alerts" in failing(body)
        code, words = await asyncio.to_thread(bot.status)
        assert code == 1 and "The database does not answer" in words, words
    finally:
        holder.rollback()
        holder.close()
    await until(bot.port, healthy)

    # An alert nobody can deliver (Telegram fails every send to its recipient) waits too long.
    telegram.fail_next("sendMessage", chat_id=WORKER_CHAT, status=500, count=1000)
    await asyncio.to_thread(pair_the_other_way, bot.config)
    await bea.send_text("/outcall ZZ11ZZ | Somewhere 1 | | 1s")  # alerts the canary worker
    status, body = await until(bot.port, lambda s, b: s == 503 and "alerts" in failing(b))
    assert list(failing(body)) == ["alerts"]
    assert "oldest unsent alert waited" in failing(body)["alerts"]
    _status, metrics = await asyncio.to_thread(get, bot.port, "/metrics")
    assert 'buddycheck_outbox_pending{kind="alert"} 1.0' in metrics
    assert 'buddycheck_sends_total{channel="telegram",result="retried"}' in metrics
    code, words = await asyncio.to_thread(bot.status)
    assert code == 1 and "An alert is waiting too long to be sent" in words, words
    assert_no_canary(metrics + body + words)

    await asyncio.to_thread(bot.stop)  # the emulators, on this loop, answer its goodbye
    code, words = await asyncio.to_thread(bot.status)
    assert code == 2 and "Nothing answers on 127.0.0.1" in words, words


def pair_the_other_way(config: Path) -> None:
    """The canary worker becomes their buddy's buddy too."""
    with service_of(config) as service:
        worker, buddy = (
            Identity("telegram", str(WORKER_CHAT)),
            Identity("telegram", str(BUDDY_CHAT)),
        )
        service.accept_invite(worker, service.create_invite(buddy))
