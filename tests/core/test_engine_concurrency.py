"""Two engine processes on one PostgreSQL never send the same stage twice."""

from __future__ import annotations

import threading

from sqlalchemy import text

from checkins.engine import Engine
from checkins.messages import Identity
from storage.db import Database
from tests.conftest import PIN, ManualClock, make_world

WORKERS = 40


def test_two_engines_never_alert_the_same_stage_twice(postgres_url: str) -> None:
    clock = ManualClock()
    world = make_world(postgres_url, clock)
    for index in range(WORKERS):
        worker = Identity("console", f"worker{index}")
        world.service.register(worker, f"W{index}", PIN)
        world.pair(worker, world.buddy)
        world.service.start_outcall(worker, "KX482B", "14 Hollow Lane", "", "30m")
    clock.advance(minutes=41)
    engines = [Engine(Database(postgres_url), world.engine.policy, clock) for _ in range(2)]
    barrier = threading.Barrier(2)
    counts: list[int] = []

    def run(engine: Engine) -> None:
        barrier.wait(timeout=10)
        counts.append(engine.tick())

    threads = [threading.Thread(target=run, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(counts) == WORKERS  # every outcall advanced exactly once between them
    with world.db.transaction() as session:
        alerts = session.execute(
            text(
                "SELECT text, count(*) FROM outbox WHERE address = 'sam' "
                "AND text LIKE '%missed their check-in%' GROUP BY text"
            )
        ).all()
    assert len(alerts) == WORKERS
    assert all(count == 1 for _text, count in alerts)
