"""One measured run: a fresh fake Bot API, a fresh database or plan, one bot, one workload.

Every wait here is bounded: the fake must come up within START_SECONDS; the backlog counts
as drained when every expected alert has arrived or `grace` seconds after the last one fell
due, whichever comes first; then SETTLE_SECONDS catch duplicates, and at most
REPLY_SECONDS the replies to the probes sent while it drained. What arrived when is left in
the run's directory (`arrivals.json`: each expected chat's due time and every send as
[arrival, chat]), for a closer look with `--keep`.
"""

from __future__ import annotations

import asyncio
import json
import math
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, ClientTimeout

from benchmarks import procs
from benchmarks.config import write_config
from benchmarks.fakeapi import FIRST, TOKEN
from benchmarks.fill import CheckIn, fill, postpone
from benchmarks.workloads import PROBE_CHATS, Workload
from bot.config import load_config

START_SECONDS = 20.0
POLL_SECONDS = 0.05
SETTLE_SECONDS = 3.0
REPLY_SECONDS = 30.0
WATCH_SECONDS = 1.0
PROBE_SECONDS = 1.0
# Seconds before the first due time: for the bot to start, plus per outcall to prepare.
START_MARGIN = 10.0
PREPARE_SECONDS = {"buddycheck": 0.003, "store": 0.006, "memory": 0.0002}
# Per outcall, for moving the deadlines after a fill that overran (an UPDATE and ANALYZE).
POSTPONE_SECONDS = 0.0002
# With two processes: the second's name (in its `base_url` and `[outbox] instance`), and
# each process's share of Telegram's ~30 messages a second (docs/architecture.md).
SECOND = "second"
SHARE: dict[str, str | float] = {"messages_per_second": 12.0, "burst": 3}


@dataclass(frozen=True)
class Subject:
    """One implementation under test."""

    name: str
    kind: str  # "buddycheck", "store" (JobQueue, persistent) or "memory" (JobQueue)
    limiter: bool = False
    postgres: bool = False
    processes: int = 1  # buddycheck only: two share one PostgreSQL database


@dataclass
class Observed:
    """What one run recorded, in wall-clock seconds."""

    base: float
    expected: dict[int, float]
    sends: list[tuple[float, int]] = field(default_factory=list)
    senders: list[str] = field(default_factory=list)  # which process made each send
    polls: list[float] = field(default_factory=list)  # the first process's getUpdates
    connects: list[tuple[float, str]] = field(default_factory=list)  # each getMe, by whom
    probes: list[tuple[float, int]] = field(default_factory=list)  # (sent at, chat)
    starts: list[float] = field(default_factory=list)  # the first process's (re)starts
    second_start: float | None = None
    postponed: int = 0  # seconds every deadline was moved after a fill that overran its lead
    usage: list[procs.Usage] = field(default_factory=list)  # one per process
    filled: float = 0.0  # seconds the fill took


class FakeApi:
    """The fake Bot API process and the harness's client for its two bench methods."""

    def __init__(self, session: ClientSession, port: str) -> None:
        self.session = session
        self.base_url = f"http://127.0.0.1:{port}/bot"
        self._seen = 0
        self.sends: list[tuple[float, int]] = []
        self.senders: list[str] = []
        self.polls: list[float] = []
        self.connects: list[tuple[float, str]] = []

    async def call(self, method: str, params: dict[str, object]) -> dict[str, object]:
        async with self.session.post(f"{self.base_url}{TOKEN}/{method}", json=params) as answer:
            body = await answer.json()
        result: dict[str, object] = body["result"]
        return result

    async def refresh(self) -> None:
        """Fetch what arrived since the last refresh."""
        result: dict[str, Any] = await self.call("benchArrivals", {"since": self._seen})
        new = result["sends"]
        self.sends += [(float(t), int(chat)) for t, chat, _by in new]
        self.senders += [str(by) for _t, _chat, by in new]
        self._seen += len(new)
        self.polls = [float(t) for t, by in result["polls"] if by == FIRST]
        self.connects = [(float(t), str(by)) for t, by in result["connects"]]

    async def say(self, chat: int, text: str) -> float:
        """Probe user `chat` sends `text`; when it was handed to the bot."""
        result = await self.call("benchSay", {"user_id": chat, "text": text})
        return float(result["at"])  # type: ignore[arg-type]


@asynccontextmanager
async def fake_api(directory: Path) -> AsyncIterator[FakeApi]:
    """A fresh fake Bot API process for one run."""
    port_file = directory / "fakeapi.port"
    process = procs.start(
        procs.python("benchmarks.fakeapi", "--port-file", str(port_file)),
        directory / "fakeapi.log",
    )
    try:
        for _n in range(int(START_SECONDS / POLL_SECONDS)):
            if port_file.exists() or process.poll() is not None:
                break
            await asyncio.sleep(POLL_SECONDS)
        if not port_file.exists():
            raise RuntimeError(f"the fake Bot API did not start; see {directory}")
        async with ClientSession(timeout=ClientTimeout(total=30)) as session:
            yield FakeApi(session, port_file.read_text(encoding="utf-8"))
    finally:
        procs.stop(process)


def _command(
    subject: Subject, directory: Path, base_url: str, first: bool, config: str = "config.toml"
) -> list[str]:
    """How to start the subject; a restart of the baseline schedules nothing."""
    if subject.kind == "buddycheck":
        return [procs.buddycheck(), "run", "--config", str(directory / config)]
    args = ["benchmarks.baseline", "--base-url", base_url, "--plan", str(directory / "plan.json")]
    if subject.kind == "store":
        args += ["--store", f"sqlite:///{directory / 'jobs.db'}"]
    if subject.limiter:
        args.append("--limiter")
    if first:
        args.append("--schedule")
    return procs.python(*args)


def _prepare(
    subject: Subject, directory: Path, base_url: str, check_ins: list[CheckIn], url: str
) -> None:
    """The database (buddycheck) or the plan of jobs (the baseline) for this run."""
    if subject.kind != "buddycheck":
        plan = [[c.due, list(c.buddy_chats)] for c in check_ins]
        (directory / "plan.json").write_text(json.dumps(plan), encoding="utf-8")
        return
    pepper = directory / "pepper"
    pepper.write_text(secrets.token_hex(32), encoding="utf-8")
    pepper.chmod(0o600)
    if subject.processes == 1:
        config = write_config(directory, url, base_url, pepper)
    else:  # docs/architecture.md, "Two processes": one receives, the other only sends
        config = write_config(directory, url, base_url, pepper, instance=FIRST, telegram=SHARE)
        second: dict[str, str | float] = {**SHARE, "mode": "send_only"}
        root = base_url.removesuffix("/bot")
        write_config(
            directory,
            url,
            f"{root}/{SECOND}/bot",
            pepper,
            name=f"{SECOND}.toml",
            instance=SECOND,
            telegram=second,
        )
    workers = 2 if subject.postgres else 1  # SQLite takes one writer at a time
    fill(load_config(config), pepper.read_text(encoding="utf-8").encode(), check_ins, workers)


async def measure(
    subject: Subject,
    workload: Workload,
    directory: Path,
    url: str,
    grace: float,
    margin: float = START_MARGIN,
) -> Observed:
    """Run `subject` through `workload` and return what arrived when; the first alert falls
    due `margin` seconds (plus the time to prepare) from now."""
    directory.mkdir(parents=True, exist_ok=True)
    async with fake_api(directory) as api:
        lead = margin + workload.outcalls * (workload.prepare or PREPARE_SECONDS[subject.kind])
        base = time.time() + lead
        check_ins = workload.check_ins(base)
        observed = Observed(base, workload.expected(check_ins, base))
        began = time.time()
        await asyncio.to_thread(_prepare, subject, directory, api.base_url, check_ins, url)
        observed.filled = time.time() - began
        del check_ins
        late = time.time() - (base - margin)
        if late > 0 and subject.postgres:  # start as planned after the bot, not as a backlog
            shift = math.ceil(late + margin + workload.outcalls * POSTPONE_SECONDS)
            await asyncio.to_thread(postpone, url, shift)
            observed.postponed = shift
            observed.base += shift
            observed.expected = {chat: due + shift for chat, due in observed.expected.items()}
            print(
                f"the fill took {observed.filled:.0f} s, past its lead of {lead:.0f} s:"
                f" every deadline moved {shift} s later"
            )
        if time.time() > observed.base - margin / 2:
            print(f"warning: the fill took {observed.filled:.0f} s, past its lead of {lead:.0f} s")
        await _drive(subject, workload, directory, api, observed, grace)
        await api.refresh()
        observed.sends, observed.senders = api.sends, api.senders
        observed.polls, observed.connects = api.polls, api.connects
    record = {"base": base, "expected": observed.expected, "sends": observed.sends}
    (directory / "arrivals.json").write_text(json.dumps(record), encoding="utf-8")
    return observed


async def _drive(
    subject: Subject,
    workload: Workload,
    directory: Path,
    api: FakeApi,
    observed: Observed,
    grace: float,
) -> None:
    """Start the subject, probe it, kill it if the workload says so, watch until done."""
    log = directory / "bot.log"
    observed.starts.append(time.time())
    process = procs.start(_command(subject, directory, api.base_url, True), log)
    samplers = [procs.Sampler(process)]
    if subject.processes == 2:
        observed.second_start = time.time()
        second = _command(subject, directory, api.base_url, True, f"{SECOND}.toml")
        samplers.append(procs.Sampler(procs.start(second, directory / f"{SECOND}.log")))
    sampler = samplers[0]
    done, drained = asyncio.Event(), asyncio.Event()
    tasks = [asyncio.create_task(each.run(done)) for each in samplers]
    tasks.append(asyncio.create_task(_probe(api, observed, drained)))
    try:
        if workload.kill_after is not None:
            tasks.append(
                asyncio.create_task(
                    _kill(subject, workload, directory, api, sampler, observed, log)
                )
            )
        await _watch(api, observed, workload, grace, drained)
    finally:
        drained.set()
        done.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        for each in samplers:
            procs.stop(each.process)
        observed.usage = [each.usage for each in samplers]


async def _kill(
    subject: Subject,
    workload: Workload,
    directory: Path,
    api: FakeApi,
    sampler: procs.Sampler,
    observed: Observed,
    log: Path,
) -> None:
    """SIGKILL at base + kill_after, restart `down` seconds later."""
    assert workload.kill_after is not None
    await asyncio.sleep(max(0.0, observed.base + workload.kill_after - time.time()))
    sampler.process.kill()
    sampler.process.wait(procs.STOP_SECONDS)
    await asyncio.sleep(workload.down)
    observed.starts.append(time.time())
    sampler.process = procs.start(_command(subject, directory, api.base_url, False), log)


async def _probe(api: FakeApi, observed: Observed, done: asyncio.Event) -> None:
    """From the first due time on, a user sends /help every PROBE_SECONDS until the
    backlog is drained."""
    await _sleep_until(observed.base, done)
    for n in range(100_000):
        if done.is_set():
            return
        chat = PROBE_CHATS[n % len(PROBE_CHATS)]
        observed.probes.append((await api.say(chat, "/help"), chat))
        await _sleep_until(time.time() + PROBE_SECONDS, done)


async def _sleep_until(at: float, done: asyncio.Event) -> None:
    """Sleep until wall-clock `at`, or until `done`."""
    try:
        await asyncio.wait_for(done.wait(), max(0.0, at - time.time()))
    except TimeoutError:
        return


async def _watch(
    api: FakeApi, observed: Observed, workload: Workload, grace: float, drained: asyncio.Event
) -> None:
    """Until every expected alert arrived or the grace after the window ran out; then, for
    at most REPLY_SECONDS, until the probes sent meanwhile are answered."""
    end = observed.base + workload.window + grace
    wanted = set(observed.expected)
    reached: set[int] = set()
    for _n in range(int((end - time.time()) / WATCH_SECONDS) + 1):
        if time.time() >= end or len(reached) == len(wanted):
            break
        await asyncio.sleep(WATCH_SECONDS)
        before = len(api.sends)
        await api.refresh()
        reached.update(chat for _t, chat in api.sends[before:] if chat in wanted)
    drained.set()
    await asyncio.sleep(SETTLE_SECONDS)
    for _n in range(int(REPLY_SECONDS / WATCH_SECONDS)):
        await api.refresh()
        if sum(chat in PROBE_CHATS for _t, chat in api.sends) >= len(observed.probes):
            return
        await asyncio.sleep(WATCH_SECONDS)
