"""Rate limits. Outgoing: per channel, a global rate and a minimum gap between messages to
one chat; obeyed, never fought: a message that would break one waits, and the outbox sends
something else meanwhile (alerts still first). Incoming: per person, how many commands they
may send a minute and an hour (`CommandLimiter`), so one person can't flood the bot or,
through it, their buddies.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass

from bot.channels.base import ChannelLimits


class RateGate:
    """Decides whether a message to `address` may go now, and if not, how long to wait.

    The global limit is a token bucket, kept as its theoretical next-send time (GCRA): a
    sustained `per_second` rate `r`, and up to `burst` `b` messages at once after an idle
    spell, so the buddies of one stage go out together instead of one interval apart. In
    any one second at most r + b messages go (for whole r and b; ⌊r + b + ½⌋ otherwise):
    the bucket holds b, and r more drip in. Per chat: at least `per_chat_interval` between
    two messages to one chat, whatever the bucket holds.
    """

    def __init__(self, limits: ChannelLimits) -> None:
        self._interval = 1.0 / limits.per_second
        # How far ahead of its schedule a send may go: the burst, plus half an interval so
        # that a pacer waking a little after the gate opened (it always does, by a few ms)
        # loses nothing: a late send is counted from when it was due, not from when it
        # went, and the rate is reached. Half an interval can never fit one more message
        # into a second, which is what keeps the bound above.
        self._tolerance = (limits.burst - 1 + 0.5) * self._interval
        self._per_chat = limits.per_chat_interval
        self._schedule = 0.0  # when the next message would go if each went at the rate
        self._next_chat: dict[str, float] = {}
        self._paused_until = 0.0

    def ready_in(self, now: float) -> float:
        """Seconds until the channel may send its next message to anyone."""
        opens = max(self._schedule - self._tolerance, self._paused_until)
        return max(0.0, opens - now)

    def gated_chats(self, now: float) -> dict[str, float]:
        """Every chat still inside its gap, with the seconds left."""
        return {a: t - now for a, t in self._next_chat.items() if t > now}

    def take(self, address: str, now: float) -> None:
        """Record a send to `address` at `now` (the caller asked `ready_in` first)."""
        self._schedule = max(self._schedule, now) + self._interval
        self._next_chat[address] = now + self._per_chat
        if len(self._next_chat) > 10_000:  # forget chats whose gap has long passed
            self._next_chat = {a: t for a, t in self._next_chat.items() if t > now}

    def pause(self, seconds: float, now: float) -> None:
        """The messenger asked us to slow down (HTTP 429): hold every send on this channel.

        The bucket is emptied as well: once the pause is over, sends resume at the rate,
        not with a burst into a messenger that has just said "too many"."""
        self._paused_until = max(self._paused_until, now + seconds)
        self._schedule = max(self._schedule, self._paused_until + self._tolerance)


@dataclass(frozen=True)
class Window:
    """At most `events` in any `seconds`."""

    events: int
    seconds: float


COMMAND_WINDOWS = (Window(20, 60.0), Window(200, 3600.0))


@dataclass(frozen=True)
class Verdict:
    """Whether an event may be handled; if not, how long to wait and whether to say so."""

    allowed: bool
    wait: float = 0.0
    tell: bool = False


class CommandLimiter:
    """Per-person limits on what people send, in memory only.

    Each window keeps the times of the last `events` events, so memory per person is bounded.
    A person over a limit is told once per blocked stretch, so the limiter can't flood either.
    """

    def __init__(self, windows: tuple[Window, ...] = COMMAND_WINDOWS, max_people: int = 50_000):
        self._windows = windows
        self._max_people = max_people
        self._seen: dict[Hashable, list[deque[float]]] = {}
        self._told_until: dict[Hashable, float] = {}

    def check(self, who: Hashable, now: float) -> Verdict:
        """Count one event from `who` at `now` (monotonic seconds) unless it is over a limit."""
        history = self._seen.get(who)
        if history is None:
            self._forget_idle(now)
            history = self._seen[who] = [deque(maxlen=w.events) for w in self._windows]
        wait = max(
            (times[0] + w.seconds - now if len(times) == w.events else 0.0)
            for w, times in zip(self._windows, history, strict=True)
        )
        if wait > 0:
            tell = now >= self._told_until.get(who, 0.0)
            if tell:
                self._told_until[who] = now + wait
            return Verdict(False, wait, tell)
        for times in history:
            times.append(now)
        return Verdict(True)

    def _forget_idle(self, now: float) -> None:
        """Drop people idle for longer than the longest window once the table is full."""
        if len(self._seen) < self._max_people:
            return
        longest = max(w.seconds for w in self._windows)
        self._seen = {
            who: history
            for who, history in self._seen.items()
            if any(times and times[-1] > now - longest for times in history)
        }
        self._told_until = {w: t for w, t in self._told_until.items() if t > now}
