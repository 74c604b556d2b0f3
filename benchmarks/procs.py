"""Starting, sampling and stopping the processes under test, from /proc (Linux only)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
SAMPLE_SECONDS = 0.5
# No run lasts four hours (the longest, 100k, is its fill, 5 minutes and the grace).
MAX_SAMPLES = int(4 * 3600 / SAMPLE_SECONDS)
STOP_SECONDS = 10.0
# Keep proxy settings from sending loopback traffic elsewhere.
LOOPBACK_ENV = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
# `python -m benchmarks...` and `tests.emulators` resolve from the repository's root.
ROOT = Path(__file__).resolve().parents[1]


def start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    """A child process with its output in `log` (appended: a restart keeps the first's)."""
    env = {**os.environ, **LOOPBACK_ENV}
    with log.open("ab") as out:
        return subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
            args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT
        )


def python(*module_args: str) -> list[str]:
    """This interpreter running a module, so the venv's packages are the ones used."""
    return [sys.executable, "-m", *module_args]


def buddycheck() -> str:
    """The installed `buddycheck` command next to this interpreter: what operators run."""
    return str(Path(sys.executable).with_name("buddycheck"))


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not exited within STOP_SECONDS."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(STOP_SECONDS)


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time of `pid`, or None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mib(pid: int) -> float | None:
    """Resident memory of `pid` in MiB, or None once it is gone."""
    try:
        resident = Path(f"/proc/{pid}/statm").read_text().split()[1]
    except OSError:
        return None
    return int(resident) * PAGE_KIB / 1024


@dataclass
class Usage:
    """What the sampler saw: peak memory, CPU per process, the highest 1-minute load."""

    peak_rss_mib: float = 0.0
    cpu: dict[int, float] = field(default_factory=dict)
    peak_load: float = 0.0
    began: float = field(default_factory=time.time)
    ended: float = 0.0

    def cpu_percent(self) -> float:
        """CPU used over the sampled time, as a percentage of one core."""
        wall = max(self.ended - self.began, 1e-9)
        return 100 * sum(self.cpu.values()) / wall


class Sampler:
    """Samples the current process of a run every SAMPLE_SECONDS (a restart swaps it)."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.usage = Usage()
        self._baseline: dict[int, float] = {}

    def sample(self) -> None:
        """Record one sample of memory, CPU and load."""
        pid = self.process.pid
        cpu, rss = cpu_seconds(pid), rss_mib(pid)
        if cpu is not None:
            first = self._baseline.setdefault(pid, cpu)
            self.usage.cpu[pid] = cpu - first
        if rss is not None:
            self.usage.peak_rss_mib = max(self.usage.peak_rss_mib, rss)
        self.usage.peak_load = max(self.usage.peak_load, os.getloadavg()[0])
        self.usage.ended = time.time()

    async def run(self, until: asyncio.Event) -> None:
        """Sample until `until` is set (at most MAX_SAMPLES times)."""
        for _n in range(MAX_SAMPLES):
            if until.is_set():
                break
            self.sample()
            try:
                await asyncio.wait_for(until.wait(), SAMPLE_SECONDS)
            except TimeoutError:
                continue
        self.sample()
