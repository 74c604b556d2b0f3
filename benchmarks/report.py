"""From what a run recorded to one row of the table, and the table to BENCHMARKS.md."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from benchmarks.fakeapi import FIRST
from benchmarks.harness import SECOND, Observed
from benchmarks.workloads import PROBE_CHATS, Workload


@dataclass(frozen=True)
class Row:
    """One subject's figures for one workload (seconds unless named otherwise)."""

    subject: str
    delivered: int
    expected: int
    duplicates: int
    p50: float | None
    p99: float | None
    worst: float | None
    last: float | None
    rate: float
    rss_mib: tuple[float, ...]  # peak, of each process
    cpu_percent: tuple[float, ...]  # of each process
    load: float
    startup: float | None
    resumed: float | None
    probe_p99: float | None
    answered: int
    probes: int
    # With two processes: the alerts each sent, and the second's start-up (to its getMe).
    shares: tuple[int, ...] = ()
    second_startup: float | None = None
    filled: float = 0.0
    postponed: int = 0  # seconds the deadlines were moved after an overrunning fill


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _first_poll_after(polls: list[float], at: float) -> float | None:
    """Seconds from `at` until the first getUpdates after it: when the bot began listening."""
    later = [t for t in polls if t >= at]
    return min(later) - at if later else None


def _probe_latencies(observed: Observed) -> list[float]:
    """In each probe user's chat, the k-th reply answers their k-th /help."""
    latencies: list[float] = []
    for chat in PROBE_CHATS:
        asked = sorted(at for at, who in observed.probes if who == chat)
        replies = sorted(t for t, to in observed.sends if to == chat)
        latencies += [reply - at for at, reply in zip(asked, replies, strict=False)]
    return latencies


def row(subject: str, observed: Observed) -> Row:
    """Latency from each alert's due time to its first arrival, and everything else."""
    alerts = [(t, chat) for t, chat in observed.sends if chat in observed.expected]
    counts = Counter(chat for _t, chat in alerts)
    first: dict[int, float] = {}
    for t, chat in sorted(alerts):
        first.setdefault(chat, t)
    latencies = [t - observed.expected[chat] for chat, t in first.items()]
    times = [t for t, _chat in alerts]
    span = max(times) - min(times) if len(times) > 1 else 0.0
    probes = _probe_latencies(observed)
    return Row(
        subject=subject,
        delivered=len(first),
        expected=len(observed.expected),
        duplicates=sum(n - 1 for n in counts.values()),
        p50=percentile(latencies, 0.5),
        p99=percentile(latencies, 0.99),
        worst=max(latencies, default=None),
        last=max(times) - observed.base if times else None,
        rate=len(times) / span if span else 0.0,
        rss_mib=tuple(u.peak_rss_mib for u in observed.usage),
        cpu_percent=tuple(u.cpu_percent() for u in observed.usage),
        load=max((u.peak_load for u in observed.usage), default=0.0),
        startup=_first_poll_after(observed.polls, observed.starts[0]),
        resumed=(
            _first_poll_after(observed.polls, observed.starts[-1])
            if len(observed.starts) > 1
            else None
        ),
        probe_p99=percentile(probes, 0.99),
        answered=len(probes),
        probes=len(observed.probes),
        shares=_shares(observed) if len(observed.usage) > 1 else (),
        second_startup=_second_startup(observed),
        filled=observed.filled,
        postponed=observed.postponed,
    )


def _shares(observed: Observed) -> tuple[int, int]:
    """How many alerts the first (receiving) and the second (send-only) process sent."""
    by = Counter(
        sender
        for (_t, chat), sender in zip(observed.sends, observed.senders, strict=True)
        if chat in observed.expected
    )
    return by[FIRST], by[SECOND]


def _second_startup(observed: Observed) -> float | None:
    """Seconds from the second process's start to its getMe (it never polls)."""
    if observed.second_start is None:
        return None
    at = [t for t, by in observed.connects if by == SECOND and t >= observed.second_start]
    return min(at) - observed.second_start if at else None


HEADER = (
    "| subject | delivered | dup | p50 | p99 | max | last at | msg/s | peak RSS | CPU | load "
    "| start-up | resumed | reply p99 (answered) |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def _s(value: float | None) -> str:
    """Seconds, to three significant places that matter here."""
    if value is None:
        return "—"
    return f"{value:.3f} s" if value < 1 else f"{value:.1f} s"


def markdown_row(r: Row) -> str:
    """One line of the table."""
    return (
        f"| {r.subject} | {r.delivered}/{r.expected} | {r.duplicates} | {_s(r.p50)} "
        f"| {_s(r.p99)} | {_s(r.worst)} | {_s(r.last)} | {r.rate:.1f} "
        f"| {' + '.join(f'{m:.0f}' for m in r.rss_mib)} MiB "
        f"| {' + '.join(f'{c:.0f}' for c in r.cpu_percent)} % | {r.load:.2f} "
        f"| {_s(r.startup)} | {_s(r.resumed)} | {_s(r.probe_p99)} ({r.answered}/{r.probes}) |"
    )


def two_processes(r: Row) -> str:
    """What a two-process row's cells cannot say."""
    first, second = r.shares
    return (
        f"{r.subject}: RSS and CPU are of the receiving process + the send-only one; the "
        f"receiving one sent {first} of the alerts, the send-only one {second}; start-up is "
        f"the receiving one's, the send-only one's (to its getMe: it never polls) "
        f"{_s(r.second_startup)}; the fill took {r.filled:.0f} s"
        + (f", after which every deadline was moved {r.postponed} s later." if r.postponed else ".")
    )


def table(workload: Workload, rows: list[Row], database: str) -> str:
    """A workload's heading and its table."""
    lines = [f"### {workload.name}: {workload.description} ({database})", "", HEADER]
    lines += [markdown_row(r) for r in rows]
    notes = [two_processes(r) for r in rows if r.shares]
    return "\n".join([*lines, *(["", *notes] if notes else [])])


def machine() -> str:
    """Where and on what the numbers were measured."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return (
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, commit {commit or 'unknown'}; load average at the "
        f"end {load}."
    )
