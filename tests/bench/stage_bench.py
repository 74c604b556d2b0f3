"""Engine benchmark: how many buddy-alert stages a tick runs per second in a storm.

    python -m tests.bench.stage_bench --outcalls 1000 --runs 3 [--sending]

Fills a fresh database with `--outcalls` running outcalls (sealed envelope and keys, two
buddies each, `tests.bench.engine_bench.fill`) due within ten seconds of each other, runs
the reminder and the worker's own stage, then times the one `Engine.tick()` that alerts
every buddy (two alerts, two outbox rows and two alert rows per outcall). With `--sending`
the outbox's dispatcher runs meanwhile in another thread, sending the queued reminders at
Telegram's default gate (28/s) to a channel that records them, so the engine contends for
the database and the interpreter as it does in `buddycheck run`. Prints the stages per
second of each run, then the median and min–max. SQLite, a fresh file per run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from bot.channels.base import ChannelLimits
from bot.dispatcher import Dispatcher
from tests.bench import engine_bench
from tests.conftest import ManualClock, World, make_world
from tests.core.test_dispatch import Recorder


def one_run(url: str, outcalls: int, sending: bool) -> float:
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
        with dispatching(world) if sending else contextlib.nullcontext():
            began = time.perf_counter()
            advanced = world.engine.tick(max_batches=10_000)
            elapsed = time.perf_counter() - began
        return advanced / elapsed
    finally:
        world.db.dispose()


@contextlib.contextmanager
def dispatching(world: World) -> Iterator[None]:
    """The dispatcher sending the queued messages in its own thread, as long as this lasts."""
    channel = Recorder(ChannelLimits(per_second=28.0), name="console")
    dispatcher = Dispatcher(world.db, world.engine, {"console": channel}, world.clock)
    stop = threading.Event()

    async def send_until_stopped() -> None:
        task = asyncio.create_task(dispatcher.run())
        while not stop.is_set():
            await asyncio.sleep(0.05)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await dispatcher.stop()

    thread = threading.Thread(target=asyncio.run, args=(send_until_stopped(),))
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not channel.sent and time.monotonic() < deadline:  # sending has begun
            time.sleep(0.01)
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outcalls", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sending", action="store_true", help="run the dispatcher meanwhile")
    args = parser.parse_args()
    rates = []
    for _run in range(args.runs):
        with tempfile.TemporaryDirectory() as directory:
            url = f"sqlite:///{Path(directory) / 'bench.db'}"
            rates.append(one_run(url, args.outcalls, args.sending))
        print(f"run {len(rates)}: {rates[-1]:.0f} stages/s")
    print(
        f"median {statistics.median(rates):.0f} stages/s, "
        f"min-max {min(rates):.0f}-{max(rates):.0f} ({args.outcalls} outcalls, 2 buddies each"
        f"{', dispatcher sending' if args.sending else ''})"
    )


if __name__ == "__main__":
    main()
