"""Where Argon2id runs: a few threads of its own, so PIN work never holds up safety actions.

Argon2id is slow and memory-hungry on purpose (`KdfCost.mem` per run, most of a second of
a core at the default cost). Run on the threads every request shares, a dozen members
changing their PIN filled them all and another worker's SOS waited behind. So:

- the pool has as many threads as `memory_budget // cost.mem` allows (at least two), and
  no more for general work than the cores but one (one core is left for everything else);
- a quarter of them (at least one) is kept for PIN checks that are safety actions
  themselves (a check-in PIN, which may be the duress PIN, and unlocking an alert's
  details): they never queue behind settings;
- everything else (registration, PIN changes, settings) is charged to the member doing it:
  at most `BUDGET_RUNS` runs in `BUDGET_SECONDS`, beyond which `Argon2Budget` says how long
  to wait. One person hammering PIN changes gets their share and then a pause.

Which lane a run belongs to is set by the caller that knows why it runs (the conversation,
`bot/executors.py`) in `ARGON2_LANE`; callers that set nothing (the command line, tests)
share the general lane, unbudgeted.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass

BUDGET_RUNS = 10
BUDGET_SECONDS = 600.0
DEFAULT_MEMORY_BUDGET = 512 * 2**20


@dataclass(frozen=True)
class Argon2Lane:
    """Whose Argon2 run this is (`owner`, e.g. their chat) and whether it is a safety action."""

    owner: Hashable | None = None
    urgent: bool = False


ARGON2_LANE: ContextVar[Argon2Lane | None] = ContextVar("argon2_lane", default=None)


class Argon2Budget(Exception):
    """This member has used their Argon2 runs for now; `retry_after` seconds until the next."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"Argon2 budget spent; retry after {retry_after:.0f} s")
        self.retry_after = retry_after


class Argon2Pool:
    """Runs Argon2id work on bounded threads, safety first, other work budgeted per member."""

    def __init__(
        self,
        memory_per_run: int,
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
        cores: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        runs = max(2, memory_budget // max(1, memory_per_run))  # at least one of each
        spare = max(1, (cores or os.cpu_count() or 1) - 1)
        self.urgent_threads = max(1, min(runs // 4, spare // 2))
        self.other_threads = max(1, min(runs - self.urgent_threads, spare))
        self._urgent = ThreadPoolExecutor(self.urgent_threads, thread_name_prefix="argon2-safety")
        self._other = ThreadPoolExecutor(self.other_threads, thread_name_prefix="argon2")
        self._clock = clock
        self._spent: dict[Hashable, deque[float]] = {}
        self._lock = threading.Lock()
        self._waiting = 0

    @property
    def waiting(self) -> int:
        """Runs asked for and not finished (running or queued), for `/metrics`."""
        return self._waiting

    def close(self) -> None:
        """At stop: no new runs; one already running finishes on its thread."""
        for pool in (self._urgent, self._other):
            pool.shutdown(wait=False, cancel_futures=True)

    def run(self, work: Callable[[], bytes]) -> bytes:
        """Run `work` (one Argon2id call) in the caller's lane and wait for its result."""
        lane = ARGON2_LANE.get() or Argon2Lane()
        if not lane.urgent and lane.owner is not None:
            self._charge(lane.owner)
        pool = self._urgent if lane.urgent else self._other
        with self._lock:
            self._waiting += 1
        try:
            return pool.submit(work).result()
        finally:
            with self._lock:
                self._waiting -= 1

    def _charge(self, owner: Hashable) -> None:
        """Count one run against `owner`'s budget, or raise `Argon2Budget` if it is spent."""
        now = self._clock()
        with self._lock:
            runs = self._spent.setdefault(owner, deque(maxlen=BUDGET_RUNS))
            if len(runs) == BUDGET_RUNS and now - runs[0] < BUDGET_SECONDS:
                raise Argon2Budget(BUDGET_SECONDS - (now - runs[0]))
            runs.append(now)
            if len(self._spent) > 10_000:  # forget members whose window has passed
                self._spent = {o: r for o, r in self._spent.items() if now - r[-1] < BUDGET_SECONDS}
