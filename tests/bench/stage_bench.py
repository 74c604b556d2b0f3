"""Engine benchmark: how many buddy-alert stages a tick runs per second in a storm.

    python -m tests.bench.stage_bench --outcalls 1000 --runs 3

Fills a fresh database with `--outcalls` running outcalls (sealed envelope and keys, two
buddies each, `tests.bench.engine_bench.fill`) due within ten seconds of each other, runs
the reminder and the worker's own stage, then times the one `Engine.tick()` that alerts
every buddy (two alerts, two outbox rows and two alert rows per outcall). Prints the
stages per second of each run, then the median and min–max. SQLite, a fresh file per run.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from tests.bench import engine_bench
from tests.conftest import ManualClock, make_world


def one_run(url: str, outcalls: int) -> float:
    """Stages per second of the tick that alerts the buddies of `outcalls` outcalls."""
    clock = ManualClock()
    world = make_world(url, clock)
    try:
        engine_bench.SPREAD = timedelta(seconds=10)
        engine_bench.fill(world, outcalls)
        for minutes in (11, 10):  # the reminder, then the worker's own stage at the due time
            clock.advance(minutes=minutes)
            world.engine.tick(max_batches=10_000)
        clock.advance(minutes=10)  # the buddies' stage
        began = time.perf_counter()
        advanced = world.engine.tick(max_batches=10_000)
        return advanced / (time.perf_counter() - began)
    finally:
        world.db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outcalls", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rates = []
    for _run in range(args.runs):
        with tempfile.TemporaryDirectory() as directory:
            rates.append(one_run(f"sqlite:///{Path(directory) / 'bench.db'}", args.outcalls))
        print(f"run {len(rates)}: {rates[-1]:.0f} stages/s")
    print(
        f"median {statistics.median(rates):.0f} stages/s, "
        f"min-max {min(rates):.0f}-{max(rates):.0f} ({args.outcalls} outcalls, 2 buddies each)"
    )


if __name__ == "__main__":
    main()
