"""The engine benchmark's small variant: it runs, and every deadline it passes is acted on.

The full run (100k active) is a documented command, not a CI test: see docs/benchmarks.md.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from storage.db import Database
from storage.tables import OutboxMessage, Outcall
from tests.bench.engine_bench import run


def test_benchmark_smoke_leaves_no_passed_deadline_unhandled(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    report = run(url, active=2000, ticks=20)
    db = Database(url)
    try:
        with db.transaction() as session:
            reminders = session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.kind == "reminder")
            )
            left_behind = session.scalar(
                select(func.count())
                .select_from(Outcall)
                .where(Outcall.next_action_at <= report.finished_at)
            )
    finally:
        db.dispose()
    assert report.advanced > 0
    assert reminders == report.advanced  # one reminder per outcall whose time came
    assert left_behind == 0
    assert {t.name for t in report.timings} >= {"Engine.tick (1 min due)", "Engine.next_wakeup"}
