"""One channel's send queue: claimed messages in the order they must go out.

Alerts go first, then reminders, then everything else — with one exception, so that a
backlog never makes the bot deaf: what is sent to a person who has just written to the bot
(the answer to their SAFE, SOS or "I'm on it") is an *answer*, and answers overtake the
rest. While alerts are waiting, answers may take only one send in `ANSWER_SHARE`, so people
typing can slow a storm of alerts by a third at most, never stop it. Pure bookkeeping, no
I/O: the dispatcher claims and sends.
"""

from __future__ import annotations

import asyncio
import heapq
from dataclasses import dataclass, field

from bot.channels.base import Channel
from bot.ratelimit import RateGate
from checkins.messages import Priority
from storage.outbox import Claimed

# Seconds after a person wrote during which what they are sent counts as an answer.
ANSWER_WINDOW = 10.0
# While alerts wait, at most one send in this many is an answer.
ANSWER_SHARE = 3
# How much sending the queue holds, in seconds of the channel's gate: enough to keep the
# gate busy while the next claim runs, little enough that a new alert is never far behind.
QUEUE_SECONDS = 1.0


@dataclass(order=True)
class Queued:
    """A claimed message waiting for its turn (ordered by priority, then age)."""

    priority: int
    message_id: int
    message: Claimed = field(compare=False)
    locale: str | None = field(compare=False)
    claimed_at: float = field(compare=False)


@dataclass
class Lane:
    """One channel's queues, its gate, who is waiting for an answer, and what is in flight."""

    name: str
    channel: Channel
    gate: RateGate
    slots: asyncio.Semaphore  # sends in flight at once on this channel
    queue: list[Queued] = field(default_factory=list)
    answers: list[Queued] = field(default_factory=list)
    answering: dict[str, float] = field(default_factory=dict)
    in_flight: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    refilling: asyncio.Task[float | None] | None = None
    releasing: set[asyncio.Task[None]] = field(default_factory=set)
    since_answer: int = ANSWER_SHARE

    @property
    def depth(self) -> int:
        """How many messages the queue should hold: a second of this channel's gate."""
        return max(1, round(self.channel.limits.per_second * QUEUE_SECONDS))

    @property
    def pending(self) -> int:
        return len(self.queue) + len(self.answers)

    def wrote(self, address: str, now: float) -> None:
        """`address` just wrote: what they are sent next is an answer."""
        self.answering[address] = now + ANSWER_WINDOW

    def waiting_for_answer(self, now: float) -> frozenset[str]:
        """Who wrote recently (and forget those whose window has closed)."""
        self.answering = {a: until for a, until in self.answering.items() if until > now}
        return frozenset(self.answering)

    def busy(self, now: float) -> frozenset[str]:
        """Recipients who must not get another message now: queued, in flight, or gapped."""
        queued = {item.message.address for item in (*self.queue, *self.answers)}
        return frozenset(queued | set(self.in_flight) | set(self.gate.gated_chats(now)))

    def worst_queued(self) -> int | None:
        return max((item.priority for item in self.queue), default=None)

    def push(self, item: Queued, *, answer: bool) -> None:
        heapq.heappush(self.answers if answer else self.queue, item)

    def pop(self) -> Queued | None:
        """The message to send now: an answer if one waits and its share allows, else the
        most urgent of the rest."""
        alert_waiting = bool(self.queue) and self.queue[0].priority == Priority.ALERT
        if self.answers and (not alert_waiting or self.since_answer >= ANSWER_SHARE - 1):
            if alert_waiting:
                self.since_answer = 0
            return heapq.heappop(self.answers)
        if not self.queue:
            return None
        self.since_answer += 1
        return heapq.heappop(self.queue)

    def take_stale(self, now: float, older_than: float) -> list[Queued]:
        """Remove and return what was claimed more than `older_than` seconds ago."""
        stale: list[Queued] = []
        for heap in (self.queue, self.answers):
            kept = [item for item in heap if now - item.claimed_at <= older_than]
            stale += [item for item in heap if now - item.claimed_at > older_than]
            heap[:] = kept
            heapq.heapify(heap)
        return stale

    def clear(self) -> None:
        """Empty both queues (their claims are given back by the owner's release)."""
        self.queue.clear()
        self.answers.clear()
