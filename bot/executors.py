"""Where the conversation's blocking work runs, and what a person hears when the database
cannot take it.

**Threads.** Service calls block (SQLAlchemy, and Argon2id inside PIN checks), so the
conversation runs them on threads, and never on asyncio's default executor, which the
engine, the outbox dispatcher and the app's jobs use. Two pools:

- `safety`: everything done for a safety action (`Lane.safety`): SAFE and its PIN, SOS,
  +30, cancel, "I'm on it", "is safe", unlock and its PIN, "I can't give my PIN". Their
  Argon2 runs take the Argon2 pool's safety lane (`checkins/argon2_pool.py`).
- `requests`: everything else. PIN changes and registrations wait here for their Argon2
  runs, which are charged to the person.

A queue of PIN changes can fill `requests` and the Argon2 pool, and never reaches an SOS,
an alert or the engine.

**Database trouble.** A transaction waits `[database] lock_timeout` for a lock and then
fails; so does one that finds the disk full or the connection gone. `transient()` says
which failures may pass. A safety action's calls are retried on them, with growing pauses,
until `[database] safety_retry` has passed since the event arrived; at the first one the
person is told straight in the chat (the outbox is in the same database) that it is taking
longer. If the time runs out the error reaches the conversation, which tells them, again
straight in the chat, that it was NOT recorded and what to do (`not_recorded`). Any other
request gets one try and, if it fails, a plain "something went wrong" (`went_wrong`).

A retried call is a transaction that was rolled back, so it happens once. The exception is
a PostgreSQL connection lost during COMMIT, when the first try may have been recorded: the
action is then done twice (a second SOS alerts again; a second SAFE is told the outcall has
ended).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from checkins.actions import Verb
from checkins.argon2_pool import ARGON2_LANE, Argon2Lane
from checkins.i18n import _
from checkins.messages import Identity
from storage.db import transient

log = logging.getLogger(__name__)
T = TypeVar("T")

SAFETY_THREADS = 4
REQUEST_THREADS = 8
DEFAULT_SAFETY_RETRY = 60.0
FIRST_PAUSE, MAX_PAUSE = 0.1, 5.0


@dataclass
class Lane:
    """The event being handled: who sent it, the safety action it is (None: any other
    request), when retrying must stop, how to tell them it is taking longer, and the
    language to tell them in (the conversation sets it once it knows the member)."""

    who: Identity
    safety: Verb | None
    deadline: float
    on_delay: Callable[[Lane], Awaitable[None]]
    locale: str = ""
    delayed: bool = False


class Executors:
    """The conversation's thread pools and its retrying of safety actions."""

    def __init__(self, safety_retry: float = DEFAULT_SAFETY_RETRY) -> None:
        self.safety_retry = safety_retry
        self._safety = ThreadPoolExecutor(SAFETY_THREADS, thread_name_prefix="safety")
        self._requests = ThreadPoolExecutor(REQUEST_THREADS, thread_name_prefix="requests")
        self._lane: contextvars.ContextVar[Lane | None] = contextvars.ContextVar(
            "lane", default=None
        )

    def close(self) -> None:
        """At stop: the pools take no more work; what runs finishes on its own threads."""
        for pool in (self._safety, self._requests):
            pool.shutdown(wait=False, cancel_futures=True)

    @contextmanager
    def lane(
        self, who: Identity, safety: Verb | None, on_delay: Callable[[Lane], Awaitable[None]]
    ) -> Iterator[Lane]:
        """Every `run` inside this block works for `who`'s event."""
        lane = Lane(who, safety, time.monotonic() + self.safety_retry, on_delay)
        token = self._lane.set(lane)
        try:
            yield lane
        finally:
            self._lane.reset(token)

    async def run(self, call: Callable[..., T], *args: Any) -> T:
        """`call(*args)` on the current event's pool; a safety action's is retried through
        transient database failures until its deadline (then the failure is raised)."""
        lane = self._lane.get()
        retrying = lane if lane is not None and lane.safety is not None else None
        pool = self._safety if retrying else self._requests
        argon2 = Argon2Lane(lane.who if lane else None, urgent=retrying is not None)
        pause = FIRST_PAUSE
        while True:
            context = contextvars.copy_context()
            context.run(ARGON2_LANE.set, argon2)
            work = functools.partial(context.run, call, *args)
            try:
                return await asyncio.get_running_loop().run_in_executor(pool, work)
            except Exception as error:
                if retrying is None or not transient(error):
                    raise
                if time.monotonic() + pause > retrying.deadline:
                    raise
                log.warning("database unavailable (%s); retrying", reason(error))
            if not retrying.delayed:
                retrying.delayed = True
                await retrying.on_delay(retrying)
            await asyncio.sleep(pause)
            pause = min(pause * 2, MAX_PAUSE)


def reason(error: BaseException) -> str:
    """A failure's kind for the log, never its message (which may quote parameters)."""
    orig = getattr(error, "orig", None)
    return type(orig or error).__name__


def taking_longer() -> str:
    return _("⏳ Saving this is taking longer than usual. I'm still trying, please wait.")


def not_recorded(safety: Verb | None) -> str:
    """The database could not take it: say plainly that nothing happened, and what to do."""
    if safety is None:
        return went_wrong()
    if safety is Verb.SOS:
        return _(
            "⚠️ Your SOS was NOT sent: the server can't save anything right now. "
            "Call your buddies or someone you trust directly now. "
            "Then send SOS again in a minute."
        )
    if safety is Verb.ON_IT:
        return _(
            '⚠️ Your "I\'m on it" was NOT recorded, so the others were not told: the server '
            "can't save anything right now. Contact them directly if you can, and send "
            "ON IT again in a minute."
        )
    if safety is Verb.CONFIRM_SAFE:
        return _(
            "⚠️ That was NOT recorded, so the alert is still open: the server can't save "
            "anything right now. Try again in a minute."
        )
    if safety is Verb.UNLOCK:
        return _(
            "⚠️ I couldn't open the details: the server can't work right now. Try again in "
            "a minute. If someone is in danger, act on the alert without the details."
        )
    if safety is Verb.EXTEND:
        return _(
            "⚠️ Your extra time was NOT added: the server can't save anything right now. "
            "Send it again in a minute. If you are in danger, call your buddy directly."
        )
    if safety is Verb.CANCEL:
        return _(
            "⚠️ Your outcall was NOT cancelled: the server can't save anything right now. "
            "Send /cancel again in a minute."
        )
    return _(
        "⚠️ Your check-in was NOT recorded: the server can't save anything right now. "
        "Send SAFE again in a minute. If you are in danger, call your buddy directly."
    )


def went_wrong() -> str:
    return _(
        "⚠️ Something went wrong on the server, so this may not have been saved. "
        "Please try again in a few minutes."
    )


def unsure() -> str:
    """Something other than the database failed: we cannot tell whether it was recorded."""
    return _(
        "⚠️ Something went wrong on the server. Send /status to see whether it was recorded. "
        "If you are in danger, call your buddy directly."
    )
