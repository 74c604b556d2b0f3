"""Typing into the real conversation over the console channel, as the people of a test."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from bot.app import App
from bot.channels.console import ConsoleChannel
from bot.config import settings_from
from tests.conftest import PIN, ManualClock, core_config


class Chat:
    """The real conversation, outbox and dispatcher, read through the console channel."""

    def __init__(self, app: App, console: ConsoleChannel) -> None:
        self.app, self.console = app, console

    @property
    def clock(self) -> ManualClock:
        """The clock the app runs on, for the test to move."""
        assert isinstance(self.app.clock, ManualClock)
        return self.app.clock

    async def send(self, person: str, text: str) -> str:
        """Type a line as `person`; return everything they were sent in reply."""
        mark = len(self.console.transcript)
        await self.console.feed(person, text)
        await self.app.dispatcher.drain()
        return "\n".join(t for to, t in self.console.transcript[mark:] if to == person)

    async def start(self, person: str) -> str:
        """`person` sends /start, keeps English and picks North; return the nickname question."""
        for line in ("/start", "English"):
            await self.send(person, line)
        return await self.send(person, "north")

    async def register(self, person: str) -> None:
        """`person` joins with their name as nickname and the tests' PIN."""
        await self.start(person)
        for line in (person.title(), PIN, PIN):
            await self.send(person, line)

    async def pair(self, worker: str, buddy: str) -> None:
        """`buddy` accepts the buddy code `worker` asked for."""
        code = (await self.send(worker, "/invite")).split("Your buddy code: ")[1][:9]
        await self.send(buddy, f"/accept {code}")

    def choice(self, person: str, label: str) -> str:
        """The number that picks the menu line starting with `label` in the newest message
        to `person` that offers it (as a person scrolls back up to an alert)."""
        line = rf"^\s+(\d+)\. {re.escape(label)}"
        for to, text in reversed(self.console.transcript):
            found = re.search(line, text, re.MULTILINE) if to == person else None
            if found:
                return found.group(1)
        raise AssertionError(f"no {label!r} was ever offered to {person}")

    async def pick(self, person: str, label: str) -> str:
        """`person` picks the menu line starting with `label`; return the reply."""
        return await self.send(person, self.choice(person, label))


async def make_chat(
    directory: Path,
    url: str | None = None,
    *,
    pepper: bytes | None = None,
    kdf: str = "insecure-fast",
) -> Chat:
    """The app on a SQLite file in `directory` (or the database at `url`), on a manual clock,
    its console listening. The same `directory` and `pepper` again is the same service
    restarted (with another `kdf`, say)."""
    directory.mkdir(parents=True, exist_ok=True)
    console = ConsoleChannel(printer=lambda _text: None)
    config = core_config(url or f"sqlite:///{directory / 'b.db'}")
    config["crypto"]["kdf"] = kdf
    app = App(
        settings_from(config, "test settings"),
        pepper or secrets.token_bytes(32),
        {"console": console},
        clock=ManualClock(),
    )
    app.db.migrate()
    await console.start(app.conversation.handle)
    return Chat(app, console)
