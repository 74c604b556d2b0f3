"""The outbox under load: the gate is kept busy but never broken, alerts go first, a person
who writes is answered through a backlog, and a crashed process's claims come back at once."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from bot.channels.base import Channel, ChannelLimits, InboundHandler, Outbound
from bot.dispatcher import LEASE, Dispatcher
from bot.lane import ANSWER_SHARE
from checkins.messages import Identity, Kind, Message, enqueue
from storage import outbox
from storage.outbox import Claim
from storage.tables import OutboxMessage
from tests.conftest import ManualClock, World, make_world

WAIT = 20.0  # seconds any one test may wait for sends


@dataclass
class Recorder(Channel):
    """A channel that records when each message arrived (monotonic seconds)."""

    limits: ChannelLimits
    name: str = "rec"
    sent: list[tuple[float, str, str]] = field(default_factory=list)

    async def start(self, on_inbound: InboundHandler) -> None:
        """Nothing to receive."""

    async def stop(self) -> None:
        """Nothing to release."""

    async def send(self, message: Outbound) -> None:
        self.sent.append((time.monotonic(), message.address, message.text))

    async def until(self, count: int) -> None:
        """Wait (bounded) until `count` messages have arrived."""
        async with asyncio.timeout(WAIT):
            while len(self.sent) < count:
                await asyncio.sleep(0.01)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    made = make_world(f"sqlite:///{tmp_path}/b.db", ManualClock())
    yield made
    made.db.dispose()


def queue(world: World, kind: Kind, addresses: list[str], text: str = "") -> None:
    with world.db.transaction() as session:
        for address in addresses:
            message = Message(text or f"{kind} for {address}", kind=kind)
            enqueue(session, Identity("rec", address), message, world.clock())


@contextlib.asynccontextmanager
async def running(dispatcher: Dispatcher) -> AsyncIterator[None]:
    """The dispatcher as the service runs it, stopped (claims given back) afterwards."""
    task = asyncio.create_task(dispatcher.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await dispatcher.stop()


def dispatcher_for(world: World, channel: Recorder, owner: str = "main") -> Dispatcher:
    return Dispatcher(world.db, world.engine, {"rec": channel}, world.clock, owner=owner)


def gaps(times: list[float]) -> list[float]:
    return [later - earlier for earlier, later in itertools.pairwise(times)]


def busiest_second(times: list[float]) -> int:
    """The most messages that arrived within any one second."""
    return max(sum(start <= t < start + 1.0 for t in times) for start in times)


async def test_the_gate_is_kept_busy_but_never_broken(world: World) -> None:
    rate, burst = 40.0, 3
    channel = Recorder(ChannelLimits(per_second=rate, per_chat_interval=1.0, burst=burst))
    queue(world, Kind.ALERT, [f"buddy{i}" for i in range(60)])
    async with running(dispatcher_for(world, channel)):
        await channel.until(60)
    times = [at for at, _to, _text in channel.sent]
    # Never more than the rate plus the burst in any second (one more for the clocks'
    # jitter: these are arrival times, not the gate's) ...
    assert busiest_second(times) <= rate + burst + 1
    # ... and no idling: 60 messages take about 60 gate slots (1.5 s), far from twice that.
    assert times[-1] - times[0] < 2.0 * 60 / rate
    assert {to for _at, to, _text in channel.sent} == {f"buddy{i}" for i in range(60)}


async def test_one_chat_gets_one_message_per_gap_while_others_go_at_once(world: World) -> None:
    channel = Recorder(ChannelLimits(per_second=100.0, per_chat_interval=0.3))
    queue(world, Kind.ALERT, ["sam", "sam", "sam", "kit", "ria"])
    async with running(dispatcher_for(world, channel)):
        await channel.until(5)
    to_sam = [at for at, to, _text in channel.sent if to == "sam"]
    assert min(gaps(to_sam)) >= 0.29
    first = channel.sent[0][0]
    # Every buddy of one stage is alerted in the same moment, not one per pass.
    assert {to for at, to, _text in channel.sent if at - first < 0.1} == {"sam", "kit", "ria"}


async def test_a_stages_buddies_are_sent_together_at_telegrams_pace(world: World) -> None:
    """At Telegram's default gate (27/s) a stage's three buddies go out in the same
    moment, not one gate interval (37 ms) after another."""
    channel = Recorder(ChannelLimits(per_second=27.0, per_chat_interval=1.0, burst=3))
    async with running(dispatcher_for(world, channel)):
        await asyncio.sleep(0.2)  # the bucket is full, as it is between stages
        queue(world, Kind.ALERT, ["sam", "kit", "ria"])
        await channel.until(3)
    arrived = [at for at, _to, _text in channel.sent]
    assert max(arrived) - min(arrived) < 1 / 27.0


async def test_an_alert_overtakes_every_queued_reminder(world: World) -> None:
    channel = Recorder(ChannelLimits(per_second=20.0, per_chat_interval=0.0))
    queue(world, Kind.REMINDER, [f"worker{i}" for i in range(60)])
    dispatcher = dispatcher_for(world, channel)
    async with running(dispatcher):
        await channel.until(10)
        queue(world, Kind.ALERT, ["sam", "kit", "ria"])
        dispatcher.wake()
        mark = len(channel.sent)
        await channel.until(63)
    order = [text.split(" ")[0] for _at, _to, text in channel.sent[mark:]]
    # At most the one send already under way goes before the alerts.
    assert order.index("alert") <= 1 and order[: order.index("alert") + 3].count("alert") == 3


async def test_someone_who_writes_is_answered_through_a_backlog_of_alerts(world: World) -> None:
    channel = Recorder(ChannelLimits(per_second=20.0, per_chat_interval=0.0))
    queue(world, Kind.ALERT, [f"buddy{i}" for i in range(200)])
    dispatcher = dispatcher_for(world, channel)
    async with running(dispatcher):
        await channel.until(5)
        dispatcher.wrote("rec", "robin")  # Robin sent SAFE
        queue(world, Kind.REPLY, ["robin"], text="You're checked in")
        dispatcher.wake()
        asked = time.monotonic()
        await channel.until(len(channel.sent) + ANSWER_SHARE + 2)
        answered = next(at for at, to, _text in channel.sent if to == "robin")
        assert answered - asked < 1.0
        # Answers take a share of the gate, never all of it: alerts keep flowing.
        for i in range(5):
            dispatcher.wrote("rec", f"typist{i}")
        queue(world, Kind.REPLY, [f"typist{i}" for i in range(5)])
        dispatcher.wake()
        mark = len(channel.sent)
        await channel.until(mark + 15)
    burst = [to for _at, to, _text in channel.sent[mark : mark + 15]]
    assert sum(to.startswith("typist") for to in burst) <= 15 // ANSWER_SHARE + 1
    assert sum(to.startswith("buddy") for to in burst) >= 15 - (15 // ANSWER_SHARE + 1)


async def test_a_dead_processs_claims_are_resent_at_once_after_its_restart(world: World) -> None:
    queue(world, Kind.ALERT, ["sam", "kit"])
    queue(world, Kind.ALERT, ["ria"])
    with world.db.transaction() as session:  # "main" claimed two and died; "other" is alive
        mine = Claim(channel="rec", limit=2, owner="main", lease=LEASE)
        assert len(outbox.claim(session, world.clock(), mine)) == 2
        theirs = Claim(channel="rec", limit=1, owner="other", lease=LEASE)
        assert len(outbox.claim(session, world.clock(), theirs)) == 1
    channel = Recorder(ChannelLimits(per_second=100.0, per_chat_interval=0.0))
    restarted = dispatcher_for(world, channel, owner="main")
    assert restarted.recover() == 2
    await restarted.drain()
    assert sorted(to for _at, to, _text in channel.sent) == ["kit", "sam"]
    # The live process's claim is left to it (or to its lease running out).
    world.clock.advance(seconds=LEASE.total_seconds() + 1)
    await restarted.drain()
    assert sorted(to for _at, to, _text in channel.sent) == ["kit", "ria", "sam"]


async def test_stopping_gives_back_what_was_queued_and_not_sent(world: World) -> None:
    channel = Recorder(ChannelLimits(per_second=5.0, per_chat_interval=0.0))
    queue(world, Kind.ALERT, [f"buddy{i}" for i in range(20)])
    async with running(dispatcher_for(world, channel)):
        await channel.until(2)
    with world.db.transaction() as session:
        rows = session.query(OutboxMessage).filter(OutboxMessage.channel == "rec")
        held = rows.filter(OutboxMessage.claimed_by.is_not(None)).count()
        pending = rows.filter(OutboxMessage.state == "pending").count()
    assert held == 0 and pending == 20 - len(channel.sent)
    later = Recorder(ChannelLimits(per_second=1000.0, per_chat_interval=0.0))
    await dispatcher_for(world, later).drain()
    assert len(channel.sent) + len(later.sent) == 20  # nothing lost, nothing twice
    assert not {to for _a, to, _t in channel.sent} & {to for _a, to, _t in later.sent}


def test_claim_takes_one_message_per_recipient_most_urgent_first(world: World) -> None:
    queue(world, Kind.REPLY, ["sam"])
    queue(world, Kind.ALERT, ["sam", "kit"])
    queue(world, Kind.REMINDER, ["robin"])
    with world.db.transaction() as session:
        want = Claim(channel="rec", limit=10, owner="main", lease=timedelta(seconds=60))
        claimed = outbox.claim(session, world.clock(), want)
    assert [(m.address, m.kind) for m in claimed] == [
        ("sam", "alert"),
        ("kit", "alert"),
        ("robin", "reminder"),
    ]
