"""Scrub benchmark: what removing shredded details from the files costs, by database size.

    python -m tests.bench.scrub_bench --active 1000 --runs 7 [--url URL]

Fills a fresh database with `--active` running outcalls (envelope and two sealed keys each,
as `engine_bench` does), then `--runs` times: shreds one outcall and times the scrub that
follows. On SQLite it times the per-minute scrub (truncating the WAL) and the hourly one
(`VACUUM` of the whole file) separately; on PostgreSQL the scrub is always the same
(`VACUUM FULL` of the sealed tables). Prints median, p99 and min–max in milliseconds.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from sqlalchemy import delete, func, select

from storage.scrub import REBUILD_SECONDS, Scrubber
from storage.tables import Envelope, Outcall, SealedKey
from tests.bench.engine_bench import Timing, fill, timed
from tests.conftest import ManualClock, World, make_world


def shred_one(world: World) -> None:
    """Destroy the oldest open outcall's details, as "I'm safe" does."""
    with world.db.transaction() as session:
        outcall_id = session.scalar(select(func.min(Envelope.outcall_id)))
        session.execute(delete(SealedKey).where(SealedKey.outcall_id == outcall_id))
        session.execute(delete(Envelope).where(Envelope.outcall_id == outcall_id))
        session.execute(delete(Outcall).where(Outcall.id == outcall_id))


def run(url: str, active: int, runs: int) -> list[Timing]:
    world = make_world(url, ManualClock())
    monotonic = [0.0]
    scrubber = Scrubber(world.db, clock=lambda: monotonic[0])
    try:
        fill(world, active)
        scrubber.run()

        def shred_then(rebuild: bool) -> None:
            shred_one(world)
            if rebuild:
                monotonic[0] += REBUILD_SECONDS
            assert scrubber.run()

        timings = []
        for rebuild in (False, True) if world.db.is_sqlite else (False,):
            name = "scrub (VACUUM)" if rebuild else "scrub (every minute)"
            # Each sample includes one shred (a few ms); the scrub is most of it.
            timings.append(timed(name, runs, lambda rebuild=rebuild: shred_then(rebuild)))
        return timings
    finally:
        world.db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--active", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--url", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        url = args.url or f"sqlite:///{Path(directory) / 'bench.db'}"
        timings = run(url, args.active, args.runs)
        size = sum(p.stat().st_size for p in Path(directory).iterdir())
    files = f"  files: {size / 2**20:.1f} MiB" if not args.url else ""
    print(f"database: {url.split(':', 1)[0]}  active: {args.active}{files}")
    for timing in timings:
        print(timing.row())


if __name__ == "__main__":
    main()
