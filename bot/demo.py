"""`buddycheck demo`: the whole service on a throwaway SQLite database and the console.

Robin (a worker) and two buddies, Sam and Kit, share the terminal; in the interactive demo
Ash is also there, the organisation's on-duty responder and admin. Time runs fast (a check-in
can be due in seconds and buddies are alerted 10 s later) so a missed check-in escalates
within about a minute. `--script` plays a full escalation by itself and exits 0 only if every
step happened.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import func, select

from bot.app import App
from bot.channels.console import ConsoleChannel
from bot.config import Settings, settings_from
from checkins.i18n import _
from storage.tables import Envelope, SealedKey

PEOPLE = ("robin", "sam", "kit")
RESPONDER = "ash"
DEMO_PIN = "482913"
STEP_TIMEOUT = 45.0


class Rewindable(Protocol):
    """A clock the caller moves (the tests' manual clock), instead of the wall clock."""

    def __call__(self) -> datetime: ...

    def advance(self, **kwargs: float) -> None: ...


def demo_settings(database_url: str) -> Settings:
    """A fast-clock configuration: seconds instead of minutes."""
    data: dict[str, Any] = {
        "service": {
            "default_jurisdiction": "demo",
            "min_duration": "5s",
            "max_duration": "2h",
        },
        "database": {"url": database_url},
        "crypto": {"kdf": "insecure-fast"},
        "health": {"listen": ""},  # nothing to watch in a throwaway demo
        "jurisdictions": {
            "demo": {
                "legal_model": "criminalised",
                "timezone": "UTC",
                "reminder_before": "0s",
                "ack_timeout": "30s",
                "ladder": [
                    {"after": "0s", "notify": "worker"},
                    {"after": "10s", "notify": "buddies"},
                    {"after": "40s", "notify": "responders"},
                ],
            }
        },
    }
    return settings_from(data, "demo settings")


class Demo:
    """The running demo: an App on the console channel, plus a way to type as anyone."""

    def __init__(
        self, directory: Path, printer: Callable[[str], None], clock: Rewindable | None = None
    ) -> None:
        self.quiet = False
        self.console = ConsoleChannel(lambda text: None if self.quiet else printer(text))
        settings = demo_settings(f"sqlite:///{directory / 'demo.db'}")
        pepper = secrets.token_bytes(32)
        self.clock = clock
        if clock is None:
            self.app = App(settings, pepper, {"console": self.console})
        else:
            self.app = App(settings, pepper, {"console": self.console}, clock=clock)

    async def say(self, person: str, text: str) -> None:
        await self.console.feed(person, text)

    async def wait_for(self, person: str, pattern: str, since: int) -> str:
        """Wait (bounded) until `person` receives a message matching `pattern`."""
        deadline = asyncio.get_running_loop().time() + STEP_TIMEOUT
        while asyncio.get_running_loop().time() < deadline:
            for address, text in self.console.transcript[since:]:
                if address == person and re.search(pattern, text):
                    return text
            if self.clock is None:
                await asyncio.sleep(0.1)
            else:  # the tests' clock: half a second passes each look, as fast as it can
                self.clock.advance(seconds=0.5)
                self.app.poke()
                await asyncio.sleep(0.01)
        raise TimeoutError(f"{person} never received a message matching {pattern!r}")

    def sealed_rows(self) -> int:
        with self.app.db.transaction() as session:
            envelopes = session.scalar(select(func.count()).select_from(Envelope)) or 0
            keys = session.scalar(select(func.count()).select_from(SealedKey)) or 0
        return envelopes + keys


async def run_script(
    printer: Callable[[str], None] = print, clock: Rewindable | None = None
) -> bool:
    """Play register → pair → outcall → miss → alert → unlock → on it → safe. On the real
    clock for people watching; on a `clock` moved by hand for tests (seconds, not 20 s)."""
    with tempfile.TemporaryDirectory(prefix="buddycheck-demo-") as directory:
        demo = Demo(Path(directory), printer, clock)
        await demo.app.start()
        try:
            await _scenario(demo, printer)
        except TimeoutError as error:
            printer(f"\n✗ demo failed: {error}")
            return False
        finally:
            await demo.app.stop()
    printer("\n✓ " + _("Every step happened: the missed check-in reached the buddies."))
    return True


async def _scenario(demo: Demo, printer: Callable[[str], None]) -> None:
    async def step(title: str, person: str, text: str, expect_to: str, pattern: str) -> str:
        printer(f"\n» {title}\n  {person} types: {text}")
        mark = len(demo.console.transcript)
        await demo.say(person, text)
        return await demo.wait_for(expect_to, pattern, mark)

    for person in PEOPLE:
        await step(f"{person} starts", person, "/start", person, "Choose your language")
        await step(f"{person} keeps English", person, "1", person, "choose a nickname")
        await step(f"{person} picks an alias", person, person.title(), person, "PIN")
        await step(f"{person} picks a PIN", person, DEMO_PIN, person, "same PIN")
        await step(f"{person} confirms the PIN", person, DEMO_PIN, person, "Welcome")
    for buddy in PEOPLE[1:]:
        invite = await step("robin asks for a buddy code", "robin", "/invite", "robin", "code")
        code = re.search(r"[0-9A-Z]{4}-[0-9A-Z]{4}", invite)
        if code is None:
            raise TimeoutError("the invite message carried no code")
        await step(f"{buddy} accepts", buddy, f"/accept {code[0]}", buddy, "You are now Robin")
    mark = len(demo.console.transcript)
    await step(
        "robin registers an outcall due in 8 seconds",
        "robin",
        "/outcall KX-482-B | 14 Hollow Lane, flat 3 | 8s",
        "robin",
        "sealed",
    )
    printer("\n» robin does not check in …")
    await demo.wait_for("robin", "has passed", mark)
    await demo.wait_for("sam", "missed their check-in", mark)
    await demo.wait_for("kit", "missed their check-in", mark)
    await step("sam replies 21: Unlock details", "sam", "21", "sam", "Send your PIN")
    await step("sam sends the PIN", "sam", DEMO_PIN, "sam", "KX-482-B")
    taken = len(demo.console.transcript)
    await step("sam sends ON IT", "sam", "ON IT", "kit", "Sam is handling")
    handling = await demo.wait_for("sam", "You are handling", taken)
    relay = re.search(r"(\d+)\. 💬 Message Robin through the bot", handling)
    if relay is None:
        raise TimeoutError("the person handling the alert was not offered to message Robin")
    await step("sam chooses Message Robin", "sam", relay[1], "sam", "Write your message")
    await step("sam writes to robin", "sam", "Are you OK?", "robin", "writes through the bot")
    await step("sam says Robin is safe", "sam", "SAFE", "sam", "Are you sure")
    await step("sam replies 24: yes, I spoke to Robin", "sam", "24", "robin", "Sam confirmed you")
    await demo.wait_for("kit", "confirmed Robin is safe", mark)
    if demo.sealed_rows():
        raise TimeoutError("sealed details were still stored after the outcall ended")
    printer("\n» " + _("The sealed details are destroyed: none are left in the database."))


async def run_interactive() -> None:
    """Type as anyone: `sam: ON IT`, or switch with `@sam`. Ctrl-D or `quit` to leave."""
    with tempfile.TemporaryDirectory(prefix="buddycheck-demo-") as directory:
        demo = Demo(Path(directory), print)
        await demo.app.start()
        demo.quiet = True
        for person in PEOPLE:
            await _quiet_register(demo, person)
        await _quiet_responder(demo)
        demo.quiet = False
        print(_banner())
        speaker = "robin"
        loop = asyncio.get_running_loop()
        try:
            while True:
                line = await loop.run_in_executor(None, _read, speaker)
                if line is None or line.strip() in ("quit", "exit"):
                    break
                speaker, text = _speaker_and_text(speaker, line)
                if text:
                    await demo.say(speaker, text)
                    await asyncio.sleep(0.3)
        finally:
            await demo.app.stop()


async def _quiet_register(demo: Demo, person: str) -> None:
    """Pre-register the demo people and pair the buddies with Robin, without the chatter."""
    for text in ("/start", "English", person.title(), DEMO_PIN, DEMO_PIN):
        await demo.say(person, text)
    if person != "robin":
        mark = len(demo.console.transcript)
        await demo.say("robin", "/invite")
        invite = await demo.wait_for("robin", "code", mark)
        code = re.search(r"[0-9A-Z]{4}-[0-9A-Z]{4}", invite)
        await demo.say(person, f"/accept {code[0] if code else ''}")
    await demo.app.dispatcher.drain()


async def _quiet_responder(demo: Demo) -> None:
    """Ash joins with server-made codes: on-duty responder and admin of the demo place."""
    for text in ("/start", "English", RESPONDER.title(), DEMO_PIN, DEMO_PIN):
        await demo.say(RESPONDER, text)
    mark = len(demo.console.transcript)
    for role in ("responder", "admin"):
        made = await asyncio.to_thread(demo.app.admin.server_invite, role, "demo")
        await demo.say(RESPONDER, f"/accept {made.code}")
    # The outbox's own pacer may hold the last welcome: wait for it before the banner.
    await demo.wait_for(RESPONDER, "Send /admin", mark)


def _banner() -> str:
    return "\n".join(
        [
            "",
            "═" * 64,
            _("buddycheck demo: Robin is a worker; Sam and Kit are Robin's buddies."),
            _(
                "Everyone's PIN is {pin}. Time runs fast: buddies are alerted 10 s after a "
                "missed check-in."
            ).format(pin=DEMO_PIN),
            _(
                "Ash is the organisation's on-duty responder and admin: alerted if Sam and Kit "
                "don't answer within 30 s."
            ),
            _("Type as Robin:   /outcall KX-482-B | 14 Hollow Lane | 20s"),
            _("Also try:        /drill   /settings   and as Ash: /admin"),
            _("Switch person:   @sam   (or prefix one line: kit: ON IT)"),
            _("Answer a menu by its number. /help lists commands. quit to leave."),
            "═" * 64,
        ]
    )


def _read(speaker: str) -> str | None:
    try:
        return input(f"[{speaker}] > ")
    except EOFError:
        return None


def _speaker_and_text(speaker: str, line: str) -> tuple[str, str]:
    line = line.strip()
    if line.startswith("@"):
        name, _sep, rest = line[1:].partition(" ")
        return name.lower() or speaker, rest.strip()
    name, sep, rest = line.partition(":")
    if sep and name.strip().lower() in (*PEOPLE, RESPONDER):
        return name.strip().lower(), rest.strip()
    return speaker, line


def main(script: bool) -> int:
    if script:
        return 0 if asyncio.run(run_script()) else 1
    try:
        asyncio.run(run_interactive())
    except KeyboardInterrupt:
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main("--script" in sys.argv))
