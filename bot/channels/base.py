"""The one interface every messenger adapter implements, and the neutral events they exchange.

The core never sees a Telegram update or a Signal envelope: adapters translate those into
`Inbound` and render `Outbound` back (opsdroid's connector shape, healthchecks' transport
errors).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from checkins.locations import Location
from checkins.messages import Button


@dataclass(frozen=True)
class Inbound:
    """Something a person did: typed `text`, or pressed a button carrying `action`.

    `message_ref` identifies the person's message on the messenger, so the adapter can delete
    it after sealing (Telegram) — it is never stored. `language` is the language the person's
    messenger app is set to (Telegram's `language_code`), when it says. `place` is a location
    the person shared (Telegram's location or venue), a detail like any other: never logged.
    """

    channel: str
    address: str
    text: str | None = None
    action: str | None = None
    message_ref: str | None = None
    display_name: str | None = None
    language: str | None = None
    place: Location | None = None


@dataclass(frozen=True)
class Outbound:
    """A message to one person. `input_hint="pin"` asks the adapter for a private PIN entry.

    `text` and button labels are already in the person's language; `locale` is that language,
    for the words an adapter adds itself (Signal's "Reply 1 for …", Telegram's keypad). None
    when the recipient is not a member: the adapter's default language then.
    """

    channel: str
    address: str
    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    input_hint: str | None = None
    delete_after_seconds: int | None = None
    locale: str | None = None


@dataclass
class DeliveryReceipt:
    """What the messenger returned for a sent message (its id, for later edits or deletion)."""

    message_ref: str | None = None


@dataclass
class DeliveryError(Exception):
    """A send that failed. `permanent` decides retry (False) versus give up and fail over (True).

    `retry_after` carries the messenger's own back-off (HTTP 429) in seconds. `reason` is a
    short classification (e.g. "blocked", "rate_limited", "network") — never message content.
    """

    reason: str
    permanent: bool = False
    retry_after: float | None = None

    def __str__(self) -> str:
        kind = "permanent" if self.permanent else "transient"
        return f"{kind} delivery failure: {self.reason}"


InboundHandler = Callable[[Inbound], Awaitable[None]]
RECEIVING, SEND_ONLY = "receiving", "send-only"
Ref = TypeVar("Ref")


class TimedDeletions(Generic[Ref]):
    """Messages the bot sent that must go after a while (unlocked details, a duress PIN's
    confirmation), for every adapter: each passes only its messenger's delete call.

    `delete` makes one attempt and says whether it worked; failures are tried again
    `attempts` times, waiting `pause`, then twice that, and so on. The timers live in
    memory: `flush()` at a clean stop deletes what is waiting now rather than never; a crash
    forgets them, and the message stays until the person (or the chat's disappearing timer)
    removes it.
    """

    def __init__(
        self, delete: Callable[[Ref], Awaitable[bool]], attempts: int = 3, pause: float = 5.0
    ) -> None:
        self._delete = delete
        self._attempts = attempts
        self._pause = pause
        self._waiting: dict[asyncio.Task[None], Ref] = {}

    def schedule(self, ref: Ref, seconds: float) -> None:
        """Delete `ref` after `seconds`."""
        task = asyncio.get_running_loop().create_task(self._later(ref, seconds))
        self._waiting[task] = ref
        task.add_done_callback(lambda done: self._waiting.pop(done, None))

    async def _later(self, ref: Ref, seconds: float) -> None:
        await asyncio.sleep(seconds)
        for attempt in range(self._attempts):
            if await self._delete(ref):
                return
            if attempt + 1 < self._attempts:
                await asyncio.sleep(self._pause * 2**attempt)

    async def flush(self, timeout: float = 10.0) -> None:
        """On stop: cancel the timers and delete what they waited for, one try each, now."""
        waiting = list(self._waiting.items())
        self._waiting.clear()
        for task, _ref in waiting:
            task.cancel()
        await asyncio.gather(*(task for task, _ref in waiting), return_exceptions=True)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                for _task, ref in waiting:
                    await self._delete(ref)


@dataclass
class ChannelLimits:
    """Sending limits the outbox obeys for a channel: messages per second overall (sustained),
    how many of them may go at once after a pause (`burst`; 1 = evenly spaced), and the
    seconds between two messages to one chat. `bot/ratelimit.py` says what they promise."""

    per_second: float = 25.0
    per_chat_interval: float = 1.0
    burst: int = 1


class Channel(abc.ABC):
    """A messenger adapter: receives inbound events, sends outbound messages."""

    name: str
    limits: ChannelLimits
    # The listed commands as (name, untranslated description), from the command table.
    commands: tuple[tuple[str, str], ...] = ()
    # Whether the messenger shows a command menu (Telegram's): without one, /help also
    # names each command's word in the reader's language (`bot/keywords.py`).
    has_command_menu: bool = False

    def set_commands(self, commands: tuple[tuple[str, str], ...]) -> None:
        """Learn the command list, for a messenger with a command menu (Telegram's)."""
        self.commands = commands

    @abc.abstractmethod
    async def start(self, on_inbound: InboundHandler) -> None:
        """Begin receiving; every event is passed to `on_inbound`."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Stop receiving and release connections."""

    @abc.abstractmethod
    async def send(self, message: Outbound) -> DeliveryReceipt:
        """Deliver one message or raise `DeliveryError`."""

    async def delete(self, address: str, message_ref: str) -> bool:
        """Delete a message in the person's chat where the messenger allows it."""
        return False

    def receive_state(self) -> str:
        """Whether messages from people reach us here, for `/healthz`: one of `RECEIVING`,
        "starting", "restarting", "failing", "stopped", or `SEND_ONLY` (another process
        receives this channel's updates; this one only sends)."""
        return RECEIVING

    async def probe(self, address: str) -> bool | None:
        """Whether the person can still be reached here, without sending them a message.

        True: reachable; False: the messenger says they are gone or blocked the bot;
        None: this messenger can't tell (the default), or the check itself failed.
        """
        return None

    def invite_link_template(self) -> str | None:
        """A link with `{code}` that opens a chat with the bot and sends an invite code.

        Only meaningful after `start()` (Telegram learns its @username then); None when the
        messenger has no such links.
        """
        return None
