"""Engine benchmark: how long deadlines take to act on with many outcalls active.

    python -m tests.bench.engine_bench --active 100000 --ticks 200 [--url URL]

Fills a fresh database with `--active` running outcalls (sealed envelope and keys included)
whose deadlines are spread over 12 hours; 99 in 100 workers check in at their due time, the
rest escalate through the whole ladder. It moves a manual clock one minute per tick and
times `Engine.tick()` (everything due in that minute: reminders and alerts, written to the
outbox), `Engine.next_wakeup()`, an idle tick, and `CheckinService.start_outcall()` (fresh
workers) at that size. Prints
median, p99 and min–max in milliseconds. Without `--url` it uses SQLite in a temp directory.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update

from checkins.jurisdictions import effective
from checkins.lifecycle import State
from checkins.messages import Identity
from storage.tables import Envelope, Member, Outcall, SealedKey
from tests.conftest import PIN, ManualClock, World, make_world

SPREAD = timedelta(hours=12)
CHUNK = 5000


@dataclass(frozen=True)
class Timing:
    name: str
    samples_ms: list[float]

    def row(self) -> str:
        ordered = sorted(self.samples_ms)
        p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
        return (
            f"{self.name:<28} n={len(ordered):<5} median={statistics.median(ordered):8.2f}  "
            f"p99={p99:8.2f}  min={ordered[0]:8.2f}  max={ordered[-1]:8.2f}"
        )


@dataclass(frozen=True)
class Report:
    active: int
    fill_seconds: float
    advanced: int
    finished_at: datetime
    timings: list[Timing]


def fill(world: World, active: int) -> None:
    """Insert `active` running outcalls for the world's worker, sealed to both buddies."""
    now = world.clock()
    with world.db.transaction() as session:
        worker_id = session.scalar(select(Member.id).where(Member.address == world.worker.address))
        buddy_ids = list(session.scalars(select(Member.id).where(Member.id != worker_id)))
        snapshot = effective(session, world.service.policy, "north").ladder.to_json()
    assert worker_id is not None
    for start in range(0, active, CHUNK):
        count = min(CHUNK, active - start)
        rows = [
            _outcall_row(worker_id, snapshot, now + SPREAD * (i / active))
            for i in range(start, start + count)
        ]
        with world.db.transaction() as session:
            ids = session.scalars(insert(Outcall).returning(Outcall.id), rows).all()
            session.execute(
                insert(Envelope), [{"outcall_id": i, "ciphertext": os.urandom(552)} for i in ids]
            )
            session.execute(
                insert(SealedKey),
                [
                    {"outcall_id": i, "member_id": b, "sealed": os.urandom(80)}
                    for i in ids
                    for b in buddy_ids
                ],
            )


def _outcall_row(worker_id: int, snapshot: dict[str, Any], at: datetime) -> dict[str, Any]:
    """A running outcall due 20 minutes after `at` (its reminder 10 minutes after `at`)."""
    due = at + timedelta(minutes=20)
    return {
        "ref": secrets.token_hex(6),
        "worker_id": worker_id,
        "jurisdiction": "north",
        "state": State.ACTIVE.value,
        "ladder": snapshot,
        "due_at": due,
        "next_action_at": due - timedelta(minutes=10),
        "next_stage": 0,
        "reminded": False,
        "sos": False,
        "duress": False,
        "drill": False,
        "extended_minutes": 0,
        "created_at": at,
        "expires_at": at + timedelta(hours=48),
    }


def new_workers(world: World, count: int) -> list[Identity]:
    """Registered workers, each with a buddy, ready to start an outcall."""
    workers = [Identity("console", f"bench-{n}") for n in range(count)]
    for n, worker in enumerate(workers):
        world.service.register(worker, f"Bench{n}", PIN)
        world.pair(worker, world.buddy2)
    return workers


def check_in_most(world: World) -> None:
    """Workers check in at their due time, except every hundredth, who escalates."""
    now = world.clock()
    with world.db.transaction() as session:
        session.execute(
            update(Outcall)
            .where(Outcall.due_at <= now, Outcall.ended_at.is_(None), Outcall.id % 100 != 0)
            .values(state=State.SAFE.value, next_action_at=None, ended_at=now)
        )


def timed(name: str, runs: int, action: Callable[[], object]) -> Timing:
    samples = []
    for _run in range(runs):
        began = time.perf_counter()
        action()
        samples.append((time.perf_counter() - began) * 1000)
    return Timing(name, samples)


def run(url: str, active: int, ticks: int) -> Report:
    clock = ManualClock()
    world = make_world(url, clock)
    try:
        began = time.perf_counter()
        fill(world, active)
        fill_seconds = time.perf_counter() - began
        advanced = 0
        tick_samples: list[float] = []
        per_outcall: list[float] = []
        for _tick in range(ticks):
            clock.advance(minutes=1)
            started = time.perf_counter()
            count = world.engine.tick()
            tick_samples.append((time.perf_counter() - started) * 1000)
            advanced += count
            if count:
                per_outcall.append(tick_samples[-1] / count)
            check_in_most(world)
        workers = iter(new_workers(world, min(ticks, 100)))
        start = timed(
            "CheckinService.start_outcall",
            min(ticks, 100),
            lambda: world.service.start_outcall(next(workers), "AB12CDE", "1 Road", "", "2h"),
        )
        wakeup = timed("Engine.next_wakeup", ticks, world.engine.next_wakeup)
        idle = timed("Engine.tick (nothing due)", ticks, world.engine.tick)
        return Report(
            active,
            fill_seconds,
            advanced,
            clock(),
            [
                Timing("Engine.tick (1 min due)", tick_samples),
                Timing("  per advanced outcall", per_outcall),
                start,
                wakeup,
                idle,
            ],
        )
    finally:
        world.db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--active", type=int, default=100_000)
    parser.add_argument("--ticks", type=int, default=200)
    parser.add_argument("--url", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        url = args.url or f"sqlite:///{Path(directory) / 'bench.db'}"
        report = run(url, args.active, args.ticks)
    print(f"database: {url.split(':', 1)[0]}  active: {report.active}")
    print(f"fill: {report.fill_seconds:.1f} s; outcalls advanced: {report.advanced}")
    for timing in report.timings:
        print(timing.row())


if __name__ == "__main__":
    main()
