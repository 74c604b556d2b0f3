"""The workloads: how many check-ins, when their alerts fall due, what happens meanwhile."""

from __future__ import annotations

from dataclasses import dataclass, replace

from benchmarks.fill import CheckIn

BUDDIES = 3
WORKER_CHATS = 1_000_000
BUDDY_CHATS = 10_000_000
# The people who send /help while the alerts go out, in turn, one a second between them:
# ten, so none goes over buddycheck's per-person limit (20 a minute), which would drop
# their messages and measure the limiter instead of the bot.
PROBE_CHATS = tuple(range(990, 1000))


@dataclass(frozen=True)
class Workload:
    """`outcalls` alerts due evenly over `spread` seconds; `measured` seconds of them count.

    `kill_after`: seconds after the first due time at which the bot is SIGKILLed, and
    restarted `down` seconds later. `processes`: how many `buddycheck run` share the
    database (two: PostgreSQL only, the documented two-process topology). `prepare`: the
    seconds per outcall the fill is given before the first alert falls due, where the
    harness's defaults for the subject would be too short. `shared_buddies`: each worker's
    buddies are the workers of the outcalls a quarter, a half and three quarters of the
    spread later (around the end), so there are as many members as outcalls, not four
    times as many, and each buddy is alerted once within the measured window, provided it
    is shorter than a quarter of the spread.
    """

    name: str
    outcalls: int
    spread: float
    description: str
    measured: float | None = None
    kill_after: float | None = None
    down: float = 5.0
    processes: int = 1
    prepare: float | None = None
    shared_buddies: bool = False

    def scaled(self, fraction: float) -> Workload:
        """The same due rate with `fraction` of the outcalls (a small run of a big one)."""
        if fraction == 1:
            return self
        outcalls = max(1, round(self.outcalls * fraction))
        return replace(
            self,
            outcalls=outcalls,
            spread=self.spread * outcalls / self.outcalls,
            description=f"{self.description}; scaled to {outcalls:,} active",
        )

    @property
    def window(self) -> float:
        """Seconds of due times whose alerts are expected (all of them, unless measured)."""
        return self.spread if self.measured is None else min(self.measured, self.spread)

    def check_ins(self, base: float) -> list[CheckIn]:
        """Every check-in, its alert due at `base` plus its share of the spread."""
        if self.shared_buddies and self.window > self.spread / 8:
            raise ValueError("with shared buddies, measure at most an eighth of the spread")
        n = self.outcalls
        return [
            CheckIn(
                due=base + self.spread * i / n,
                worker_chat=WORKER_CHATS + i,
                buddy_chats=tuple(
                    WORKER_CHATS + (i + j * n // (BUDDIES + 1)) % n
                    if self.shared_buddies
                    else BUDDY_CHATS + BUDDIES * i + j - 1
                    for j in range(1, BUDDIES + 1)
                ),
            )
            for i in range(n)
        ]

    def expected(self, check_ins: list[CheckIn], base: float) -> dict[int, float]:
        """Each buddy chat that must get an alert, with the time it fell due."""
        return {
            chat: c.due for c in check_ins if c.due <= base + self.window for chat in c.buddy_chats
        }


def workloads(minutes: float) -> dict[str, Workload]:
    """The named workloads; `minutes` is how much of the 100k one is measured."""
    one_k = Workload("1k", 1000, 60.0, "1,000 check-ins × 3 buddies due evenly over 60 s")
    return {
        "smoke": Workload("smoke", 60, 5.0, "60 check-ins × 3 buddies due over 5 s (CI)"),
        "1k": one_k,
        "10k": Workload("10k", 10_000, 300.0, "10,000 check-ins × 3 buddies due over 300 s"),
        "100k": Workload(
            "100k",
            100_000,
            3 * 3600.0,
            f"100,000 active, due over 3 h; the first {minutes:g} min measured",
            measured=minutes * 60,
        ),
        # The same size with its due rate under Telegram's gate (21 alerts/s, not 28).
        "100k-4h": Workload(
            "100k-4h",
            100_000,
            4 * 3600.0,
            f"100,000 active, due over 4 h (21 alerts/s); the first {minutes:g} min measured",
            measured=minutes * 60,
        ),
        # A million active on PostgreSQL, with two `buddycheck run` processes sharing the
        # database (one receiving and sending, one send-only, 12/s plus a burst of 3 each):
        # due over 48 h, 17.4 alerts/s, under the 24/s the two send between them. Members
        # buddy each other (1M members, 3M buddy links), so the fill fits the time there is.
        "1m-pg": Workload(
            "1m-pg",
            1_000_000,
            48 * 3600.0,
            "1,000,000 active, due over 48 h (17.4 alerts/s), two processes; "
            f"the first {minutes:g} min measured",
            measured=minutes * 60,
            processes=2,
            # 33 min of lead: small runs filled in 2.0–2.7 ms an outcall beside other work.
            prepare=0.002,
            shared_buddies=True,
        ),
        "storm": Workload("storm", 1000, 10.0, "1,000 check-ins × 3 buddies due within 10 s"),
        "kill": Workload(
            "kill",
            1000,
            60.0,
            "the 1k workload, SIGKILL at 30 s, restarted 5 s later",
            kill_after=30.0,
        ),
    }
