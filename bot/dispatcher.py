"""The outbox dispatcher: delivers queued messages through the channels, alerts first.

A small, bounded number of concurrent sends drains the queue in priority order, under each
channel's rate limits. Transient failures (429, 5xx, timeouts) are retried with exponential
back-off (or the messenger's own `retry_after`); permanent ones (blocked, unknown recipient)
are settled and handed to the engine to fail over. Nothing is dropped, only delayed.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.channels.base import Channel, DeliveryError, Outbound
from bot.ratelimit import RateGate
from checkins.context import Clock
from checkins.engine import Engine
from checkins.messages import Button
from storage import outbox
from storage.db import Database
from storage.outbox import Claimed
from storage.tables import Member

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=60)
_BASE_BACKOFF = 2.0


@dataclass
class DrainResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    deferred: int = 0
    wait: float | None = field(default=None)


class Dispatcher:
    """Sends what the outbox holds; `drain()` is one bounded pass."""

    def __init__(
        self,
        db: Database,
        engine: Engine,
        channels: dict[str, Channel],
        clock: Clock,
        workers: int = 4,
        max_backoff: timedelta = timedelta(minutes=5),
        batch: int = 100,
    ) -> None:
        self.db = db
        self.engine = engine
        self.channels = channels
        self.clock = clock
        self.max_backoff = max_backoff
        self.batch = batch
        self._slots = asyncio.Semaphore(workers)
        self._gates = {name: RateGate(ch.limits) for name, ch in channels.items()}

    async def drain(self, max_rounds: int = 100) -> DrainResult:
        """Send until nothing is due or only rate-limited messages are left."""
        total = DrainResult()
        for _round in range(max_rounds):
            claimed, locales = await asyncio.to_thread(self._claim)
            if not claimed:
                break
            result = await self._send_all(claimed, locales)
            for name in ("sent", "retried", "failed", "deferred"):
                setattr(total, name, getattr(total, name) + getattr(result, name))
            total.wait = result.wait
            if result.sent + result.retried + result.failed == 0:
                break
        return total

    def _claim(self) -> tuple[list[Claimed], dict[int, str]]:
        """Claim due messages, with each recipient member's language (for adapter texts)."""
        with self.db.transaction() as session:
            claimed = outbox.claim(session, self.clock(), self.batch, LEASE)
            return claimed, _locales(session, {m.member_id for m in claimed if m.member_id})

    async def _send_all(self, claimed: list[Claimed], locales: dict[int, str]) -> DrainResult:
        result = DrainResult()
        tasks = []
        for message in claimed:
            gate = self._gates.get(message.channel)
            now = time.monotonic()
            wait = gate.wait_time(message.address, now) if gate else 0.0
            if gate is None or wait > 0:
                result.deferred += 1
                if gate is not None:
                    result.wait = wait if result.wait is None else min(result.wait, wait)
                await asyncio.to_thread(self._settle_release, message.id)
                continue
            gate.take(message.address, now)
            locale = locales.get(message.member_id) if message.member_id else None
            tasks.append(self._send_one(message, locale, result))
        await asyncio.gather(*tasks)
        return result

    async def _send_one(self, message: Claimed, locale: str | None, result: DrainResult) -> None:
        async with self._slots:
            if not await asyncio.to_thread(self.engine.may_send, message.kind, message.outcall_id):
                log.error("refused to send a %s message: not allowed here", message.kind)
                await asyncio.to_thread(self._settle_failed, message, "refused_by_policy")
                result.failed += 1
                return
            try:
                await self.channels[message.channel].send(to_outbound(message, locale))
            except DeliveryError as error:
                await self._on_failure(message, error, result)
                return
            except Exception as error:  # an adapter bug must not lose the message
                log.error("channel %s raised %s", message.channel, type(error).__name__)
                await self._on_failure(message, DeliveryError("adapter_error"), result)
                return
            await asyncio.to_thread(self._settle_sent, message)
            result.sent += 1

    async def _on_failure(
        self, message: Claimed, error: DeliveryError, result: DrainResult
    ) -> None:
        log.warning("delivery to a %s recipient failed: %s", message.channel, error)
        if error.permanent:
            await asyncio.to_thread(self._settle_failed, message, error.reason)
            await asyncio.to_thread(
                self.engine.undeliverable, message.member_id, message.kind, message.outcall_id
            )
            result.failed += 1
            return
        if error.retry_after is not None:
            self._gates[message.channel].pause(error.retry_after, time.monotonic())
        delay = self.backoff(message.attempts, error.retry_after)
        await asyncio.to_thread(self._settle_retry, message, self.clock() + delay, error.reason)
        result.retried += 1

    def backoff(self, attempts: int, retry_after: float | None) -> timedelta:
        """Exponential back-off with jitter, capped; the messenger's own wait when it gives one."""
        if retry_after is not None:
            return timedelta(seconds=retry_after)
        ceiling = min(self.max_backoff.total_seconds(), _BASE_BACKOFF * 2**attempts)
        return timedelta(seconds=random.uniform(ceiling / 2, ceiling))  # noqa: S311 - jitter

    def _settle_sent(self, message: Claimed) -> None:
        with self.db.transaction() as session:
            outbox.mark_sent(session, message.id, self.clock())
        self.engine.delivered(message.member_id)

    def _settle_retry(self, message: Claimed, at: datetime, reason: str) -> None:
        with self.db.transaction() as session:
            outbox.retry_later(session, message.id, at, reason)

    def _settle_failed(self, message: Claimed, reason: str) -> None:
        with self.db.transaction() as session:
            outbox.mark_failed(session, message.id, reason)

    def _settle_release(self, message_id: int) -> None:
        with self.db.transaction() as session:
            outbox.release(session, message_id)

    def next_due(self) -> datetime | None:
        with self.db.transaction() as session:
            return outbox.next_due(session)


def _locales(session: Session, member_ids: set[int]) -> dict[int, str]:
    if not member_ids:
        return {}
    rows = session.execute(select(Member.id, Member.locale).where(Member.id.in_(member_ids)))
    return {member_id: locale for member_id, locale in rows}


def to_outbound(message: Claimed, locale: str | None) -> Outbound:
    """The neutral message a channel renders, in the recipient member's `locale`."""
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
