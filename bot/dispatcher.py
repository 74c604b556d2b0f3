"""The outbox dispatcher: delivers queued messages through the channels, alerts first.

Each channel has a lane: a small in-memory queue of claimed messages, ordered by priority,
and a pacer that sends the most urgent one each time the channel's rate gate opens. The
queue is refilled from the database before it runs dry (one query and one update claim the
most urgent message of each recipient who may get one now), so the gate is kept busy and a
newly queued alert overtakes every queued reminder; what is sent to someone who has just
written goes early, within a share (`bot/lane.py`). The queue holds about a second of
sending, so nothing claimed waits long, and a restart or another process loses little.

Transient failures (429, 5xx, timeouts) are retried with exponential back-off (or the
messenger's own `retry_after`); permanent ones (blocked, unknown recipient) are settled and
handed to the engine to fail over. Nothing is dropped, only delayed.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.channels.base import Channel, DeliveryError, Outbound
from bot.lane import Lane, Queued
from bot.ratelimit import RateGate
from bot.waits import wait_for_event
from checkins.context import Clock
from checkins.engine import Engine
from checkins.messages import Button, Kind
from storage import outbox, queries
from storage.db import Database
from storage.outbox import Claim, Claimed
from storage.tables import Member

log = logging.getLogger(__name__)
# A claim another process may take over once its owner is gone for good. A restarted
# process frees its own claims at once (`recover`); a queued message is never held for
# more than half of this (`Lane.take_stale`).
LEASE = timedelta(seconds=60)
_BASE_BACKOFF = 2.0
_REFILL_AT = 0.5  # refill when the queue holds less than this fraction of its depth
_IDLE_POLL = 1.0  # seconds between looks at the database when nothing is known to be due
_STOP_WAIT = 5.0  # seconds `stop` waits for sends already in flight
# Failed sends in a row after which an alert's recipient counts as unreachable for now:
# with the back-off (2, 4, 8 s) about 15 s of failing, short against any ladder step.
STUBBORN_FAILURES = 4


@dataclass
class DrainResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0

    def count(self, result: str) -> None:
        setattr(self, result, getattr(self, result) + 1)


class Dispatcher:
    """Sends what the outbox holds: `run()` as a service, `drain()` as one bounded pass."""

    def __init__(
        self,
        db: Database,
        engine: Engine,
        channels: dict[str, Channel],
        clock: Clock,
        workers: int = 8,
        max_backoff: timedelta = timedelta(minutes=5),
        owner: str = "main",
    ) -> None:
        self.db = db
        self.engine = engine
        self.clock = clock
        self.max_backoff = max_backoff
        self.owner = owner
        self._lanes = {
            name: Lane(name, channel, RateGate(channel.limits), asyncio.Semaphore(workers))
            for name, channel in channels.items()
        }
        self._result = DrainResult()
        # Sends by channel and result ("sent", "retried", "failed") since start, for /metrics.
        self.outcomes: Counter[tuple[str, str]] = Counter()

    # -- running -------------------------------------------------------------------------

    def recover(self) -> int:
        """Give back what this instance held when it last stopped or died, so it is retried
        now rather than when its lease runs out (at most one duplicate: a send that reached
        the messenger just before the crash, not yet marked sent)."""
        with self.db.transaction() as session:
            return outbox.release_owned(session, self.owner)

    def wake(self) -> None:
        """Something was queued: every lane looks at the database now."""
        for lane in self._lanes.values():
            lane.wake.set()

    def wrote(self, channel: str, address: str) -> None:
        """A person just wrote: what they are sent next is an answer and goes early."""
        lane = self._lanes.get(channel)
        if lane is not None:
            lane.wrote(address, time.monotonic())

    async def run(self) -> None:
        """Send for as long as the service runs, every channel at its own pace."""
        await asyncio.gather(*(self._pace(lane) for lane in self._lanes.values()))

    async def drain(self, max_rounds: int = 1000) -> DrainResult:
        """Send everything that may go now and return (tests and the demo, on their own
        clock), including what those sends queue in turn (a failed alert tells the worker).
        A message held back by its chat's gap is left for the next call."""
        self._result = DrainResult()
        for lane in self._lanes.values():
            await self._pace(lane, max_rounds)
        return self._result

    async def stop(self) -> None:
        """Drop what is queued, let sends in flight finish (bounded), then give back every
        claim this instance still holds (the queued ones among them)."""
        for lane in self._lanes.values():
            lane.clear()
        flying: list[asyncio.Task[Any]] = [
            task for lane in self._lanes.values() for task in lane.in_flight.values()
        ]
        flying += [lane.refilling for lane in self._lanes.values() if lane.refilling]
        if flying:
            await asyncio.wait(flying, timeout=_STOP_WAIT)
        await asyncio.to_thread(self.recover)

    # -- a lane --------------------------------------------------------------------------

    async def _pace(self, lane: Lane, max_rounds: int | None = None) -> None:
        """Send the most urgent queued message each time the gate opens, refilling ahead.

        As a service (`max_rounds` None) it never returns; a failing round is logged and
        the next one starts a moment later. For `drain` it returns once nothing is left.
        """
        rounds = 0
        while max_rounds is None or rounds < max_rounds:
            rounds += 1
            try:
                if not await self._pace_once(lane, drain=max_rounds is not None):
                    return
            except Exception as error:  # the lane must outlive any one failure
                log.error("the %s outbox lane failed: %s", lane.name, type(error).__name__)
                await asyncio.sleep(_IDLE_POLL)

    async def _pace_once(self, lane: Lane, *, drain: bool) -> bool:
        """One step of the pacer; False when draining and nothing is left to send."""
        if not lane.pending:
            retry_in = await self._refill_task(lane)
            if not lane.pending:
                if drain:
                    return await self._settle_lane(lane)
                await self._idle(lane, retry_in)
                return True
        elif lane.pending < lane.depth * _REFILL_AT or lane.wake.is_set():
            self._refill_task(lane)
        wait = lane.gate.ready_in(time.monotonic())
        if wait > 0:
            await asyncio.sleep(wait)
            return True
        await lane.slots.acquire()  # a free sender first, then the most urgent message
        self._send_next(lane)
        return True

    def _send_next(self, lane: Lane) -> None:
        now = time.monotonic()
        stale = lane.take_stale(now, LEASE.total_seconds() / 2)
        if stale:  # held past half the lease (a long 429 pause): give back, claim anew
            self._spawn_release(lane, [item.message_id for item in stale])
        item = lane.pop()
        if item is None:
            lane.slots.release()
            return
        lane.gate.take(item.message.address, now)
        task = asyncio.get_running_loop().create_task(self._send_one(lane, item))
        lane.in_flight[item.message.address] = task

    def _refill_task(self, lane: Lane) -> asyncio.Task[float | None]:
        """The lane's one refill: a running one is joined, never doubled (two at once could
        each claim a message for the same chat)."""
        if lane.refilling is None or lane.refilling.done():
            lane.refilling = asyncio.get_running_loop().create_task(self._refill(lane))
        return lane.refilling

    async def _refill(self, lane: Lane) -> float | None:
        """Claim more, answers and the most urgent first. Returns when to look again if
        recipients were skipped only for their chat's gap (None if nothing waits for that)."""
        lane.wake.clear()
        now = time.monotonic()
        busy, answering = lane.busy(now), lane.waiting_for_answer(now)
        room = lane.depth - lane.pending
        worst = lane.worst_queued()
        rest = Claim(
            channel=lane.name,
            limit=room if room > 0 else lane.depth,
            owner=self.owner,
            lease=LEASE,
            skip=busy | answering,
            # A full queue still takes a newly queued alert, never another reminder.
            more_urgent_than=worst if room <= 0 else None,
        )
        wants = [rest]
        if answering - busy:
            answers = replace(
                rest, limit=len(answering), skip=busy, only=answering, more_urgent_than=None
            )
            wants.append(answers)
        try:
            claims, locales = await asyncio.to_thread(self._claim, wants)
        except Exception as error:  # a locked or failing database: try again shortly
            log.error("claiming outbox messages failed: %s", type(error).__name__)
            return _IDLE_POLL
        claimed_at = time.monotonic()
        for answer, claimed in zip((False, True), claims, strict=False):
            for message in claimed:
                locale = locales.get(message.member_id) if message.member_id else message.locale
                item = Queued(message.priority, message.id, message, locale, claimed_at)
                lane.push(item, answer=answer)
        gaps = lane.gate.gated_chats(claimed_at)
        return min(gaps.values()) if gaps else None

    async def _idle(self, lane: Lane, retry_in: float | None) -> None:
        """Nothing to send: wait to be woken, for a chat's gap to pass, or to poll."""
        timeout = _IDLE_POLL if retry_in is None else min(_IDLE_POLL, retry_in)
        await wait_for_event(lane.wake, timeout)

    async def _settle_lane(self, lane: Lane) -> bool:
        """Wait for the lane's sends and releases, then look once more (the last claim may
        have skipped recipients who were queued or in flight); True if that found any."""
        flying = [*lane.in_flight.values(), *lane.releasing]
        if flying:
            await asyncio.wait(flying)
        await self._refill_task(lane)
        return bool(lane.pending)

    def _spawn_release(self, lane: Lane, message_ids: list[int]) -> None:
        task = asyncio.get_running_loop().create_task(asyncio.to_thread(self._release, message_ids))
        lane.releasing.add(task)
        task.add_done_callback(lane.releasing.discard)

    # -- one message ---------------------------------------------------------------------

    async def _send_one(self, lane: Lane, item: Queued) -> None:
        try:
            await self._deliver(lane, item.message, item.locale)
        except Exception as error:  # settling failed: the claim's lease brings it back
            log.error("settling a %s message failed: %s", lane.name, type(error).__name__)
        finally:
            lane.in_flight.pop(item.message.address, None)
            lane.slots.release()

    async def _deliver(self, lane: Lane, message: Claimed, locale: str | None) -> None:
        try:
            if message.kind == Kind.EMERGENCY and not await asyncio.to_thread(
                self.engine.may_send, message.outcall_id
            ):
                log.error("refused to send a %s message: not allowed here", message.kind)
                await asyncio.to_thread(self._settle_failed, message, "refused_by_policy")
                self._count(message, "failed")
                return
            await lane.channel.send(to_outbound(message, locale))
        except DeliveryError as error:
            await self._on_failure(lane, message, error)
            return
        except Exception as error:  # an adapter bug must not lose the message
            log.error("channel %s raised %s", message.channel, type(error).__name__)
            await self._on_failure(lane, message, DeliveryError("adapter_error"))
            return
        await asyncio.to_thread(self._settle_sent, message)
        self._count(message, "sent")

    async def _on_failure(self, lane: Lane, message: Claimed, error: DeliveryError) -> None:
        log.warning("delivery to a %s recipient failed: %s", message.channel, error)
        if error.permanent:
            await asyncio.to_thread(self._settle_failed, message, error.reason)
            await asyncio.to_thread(
                self.engine.undeliverable, message.member_id, message.kind, message.outcall_id
            )
            self._count(message, "failed")
            return
        if error.retry_after is not None:
            lane.gate.pause(error.retry_after, time.monotonic())
        if _not_getting_through(message, error):
            await asyncio.to_thread(
                self.engine.undeliverable,
                message.member_id,
                message.kind,
                message.outcall_id,
                for_good=False,
            )
        delay = self.backoff(message.attempts, error.retry_after)
        await asyncio.to_thread(self._settle_retry, message, self.clock() + delay, error.reason)
        self._count(message, "retried")

    def _count(self, message: Claimed, result: str) -> None:
        self._result.count(result)
        self.outcomes[(message.channel, result)] += 1

    def backoff(self, attempts: int, retry_after: float | None) -> timedelta:
        """Exponential back-off with jitter, capped; the messenger's own wait when it gives one."""
        if retry_after is not None:
            return timedelta(seconds=retry_after)
        ceiling = min(self.max_backoff.total_seconds(), _BASE_BACKOFF * 2**attempts)
        return timedelta(seconds=random.uniform(ceiling / 2, ceiling))  # noqa: S311 - jitter

    # -- the database --------------------------------------------------------------------

    def _claim(self, wants: list[Claim]) -> tuple[list[list[Claimed]], dict[int, str]]:
        """Claim messages, with each recipient member's language (for adapter texts)."""
        with self.db.transaction() as session:
            now = self.clock()
            claims = [outbox.claim(session, now, want) for want in wants]
            members = {m.member_id for claimed in claims for m in claimed if m.member_id}
            return claims, _locales(session, members)

    def _settle_sent(self, message: Claimed) -> None:
        """Sent: the row and the recipient's reachability in one transaction (one writer
        turn per send, which the engine shares on SQLite)."""
        with self.db.transaction() as session:
            outbox.mark_sent(session, message.id, self.clock())
            if message.member_id is not None:
                queries.mark_reachable(session, message.member_id)

    def _settle_retry(self, message: Claimed, at: datetime, reason: str) -> None:
        with self.db.transaction() as session:
            outbox.retry_later(session, message.id, at, reason)

    def _settle_failed(self, message: Claimed, reason: str) -> None:
        with self.db.transaction() as session:
            outbox.mark_failed(session, message.id, reason)

    def _release(self, message_ids: list[int]) -> None:
        with self.db.transaction() as session:
            outbox.release(session, message_ids)


def _locales(session: Session, member_ids: set[int]) -> dict[int, str]:
    if not member_ids:
        return {}
    rows = session.execute(select(Member.id, Member.locale).where(Member.id.in_(member_ids)))
    return {member_id: locale for member_id, locale in rows}


def _not_getting_through(message: Claimed, error: DeliveryError) -> bool:
    """An alert has failed `STUBBORN_FAILURES` times in a row for a reason that may be the
    recipient's (not a rate limit): the engine treats them as unreachable for now — the
    worker is told and the next stage runs if nobody alerted can be reached — while the
    message keeps being retried. Without this, a messenger that words a recipient who left
    as a transient failure (signal-cli's bare "Failed to send message" in json-rpc mode)
    would hold an alert back forever, and nobody would know."""
    return (
        message.kind == Kind.ALERT.value
        and message.attempts + 1 == STUBBORN_FAILURES
        and error.reason != "rate_limited"
    )


def to_outbound(message: Claimed, locale: str | None) -> Outbound:
    """The neutral message a channel renders, in `locale`: the recipient member's, or for a
    newcomer who is not a member yet, the one the message was written in."""
    return Outbound(
        channel=message.channel,
        address=message.address,
        text=message.text,
        buttons=tuple(
            tuple(Button(label, action) for label, action in row) for row in message.buttons
        ),
        input_hint=message.input_hint,
        locale=locale,
    )
