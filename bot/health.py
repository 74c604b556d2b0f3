"""Is this process doing its job? `/healthz` and `/metrics` for the operator, on loopback.

`/healthz` answers 200 only when every check passes, else 503; its JSON body names each
check with `ok` and a short detail, so a volunteer (or `buddycheck status`) can see which
one failed:

- `database`: a transaction answers within `PROBE_TIMEOUT` (a locked SQLite file or a lost
  PostgreSQL server does not);
- `engine`: the engine loop finished a round within `ENGINE_SILENCE` (it sleeps at most
  `ENGINE_IDLE` between rounds);
- `channel:<name>`: the messenger is receiving (a send-only process passes: another one
  receives);
- `alerts`: no alert has waited to be sent longer than `[health] alert_age`.

The body holds states, ages and counts only: no member, alias, address or message.
Both endpoints are served only on a loopback address (`[health] listen`): what they tell —
how many outcalls run, whether alerts are waiting — is for the operator, not the network.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, TypeVar

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from bot.channels.base import RECEIVING, SEND_ONLY, Channel
from bot.config import HealthConfig, loopback_address
from bot.metrics import Collector, EngineStats
from checkins.context import Clock
from checkins.messages import Kind
from storage import outbox
from storage.db import Database

log = logging.getLogger(__name__)
PROBE_TIMEOUT = 3.0  # seconds the database may take to answer a health probe
ENGINE_SILENCE = 90.0  # seconds without a finished engine round before it counts as stuck
URGENT_KINDS = (Kind.ALERT.value, Kind.EMERGENCY.value)
T = TypeVar("T")


@dataclass(frozen=True)
class Check:
    """One health check: its name, whether it passed, and what was seen (no personal data)."""

    name: str
    ok: bool
    detail: str


class Health:
    """Runs the checks; database work goes to one thread of its own, so a locked database
    can neither block the event loop nor pile up threads (a probe still waiting fails the
    next one at once)."""

    def __init__(
        self,
        db: Database,
        channels: dict[str, Channel],
        engine: EngineStats,
        config: HealthConfig,
        clock: Clock,
    ) -> None:
        self.db = db
        self.channels = channels
        self.engine = engine
        self.config = config
        self.clock = clock
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="health")
        self._busy = False

    async def checks(self) -> list[Check]:
        oldest = await self._database(self._oldest_alert)
        database = Check("database", oldest is not _NO_ANSWER, _answered(oldest))
        return [
            database,
            self._engine(),
            *(self._channel(name, channel) for name, channel in sorted(self.channels.items())),
            self._alerts(oldest),
        ]

    async def in_thread(self, work: Callable[[], T]) -> T:
        """Run database work on the health thread, bounded by `PROBE_TIMEOUT`."""
        if self._busy:
            raise TimeoutError
        self._busy = True
        future = asyncio.get_running_loop().run_in_executor(self._thread, self._run, work)
        return await asyncio.wait_for(asyncio.shield(future), PROBE_TIMEOUT)

    def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)

    def _run(self, work: Callable[[], T]) -> T:
        try:
            return work()
        finally:
            self._busy = False

    async def _database(self, work: Callable[[], Any]) -> Any:
        try:
            return await self.in_thread(work)
        except Exception as error:  # locked, gone, or still answering the previous probe
            log.warning("health: the database did not answer: %s", type(error).__name__)
            return _NO_ANSWER

    def _oldest_alert(self) -> datetime | None:
        # A writing transaction on purpose: SQLite would let a `reading()` one through while
        # another program holds the write lock that every safety action needs.
        with self.db.transaction() as session:
            return outbox.oldest_pending(session, URGENT_KINDS)

    def _engine(self) -> Check:
        since = self.engine.seconds_since_round()
        if since is None:
            return Check("engine", False, "no round finished yet")
        return Check("engine", since < ENGINE_SILENCE, f"last round {since:.0f} s ago")

    def _channel(self, name: str, channel: Channel) -> Check:
        state = channel.receive_state()
        return Check(f"channel:{name}", state in (RECEIVING, SEND_ONLY), state)

    def _alerts(self, oldest: Any) -> Check:
        if oldest is _NO_ANSWER:
            return Check("alerts", False, "unknown: the database did not answer")
        if oldest is None:
            return Check("alerts", True, "none waiting")
        age = (self.clock() - oldest).total_seconds()
        limit = self.config.alert_age.total_seconds()
        return Check("alerts", age <= limit, f"oldest unsent alert waited {age:.0f} s")


_NO_ANSWER = object()


def _answered(result: Any) -> str:
    return "no answer" if result is _NO_ANSWER else "answers"


class HealthServer:
    """The aiohttp server behind `[health] listen`: `/healthz` and `/metrics`."""

    def __init__(self, health: Health, collector: Collector, config: HealthConfig) -> None:
        self.health = health
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(collector)
        self.config = config
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Serve; a port already in use is logged, not fatal: alerts matter more."""
        address = loopback_address(self.config.listen)
        if address is None:
            return
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, *address).start()
        except OSError as error:
            log.error(
                "health: cannot listen on %s (%s); running without /healthz and /metrics",
                self.config.listen,
                type(error).__name__,
            )
            await runner.cleanup()
            return
        self._runner = runner
        log.info("health: serving /healthz and /metrics on %s", self.config.listen)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.health.close()

    async def _healthz(self, request: web.Request) -> web.Response:
        checks = await self.health.checks()
        healthy = all(check.ok for check in checks)
        body = {
            "status": "ok" if healthy else "failing",
            "checks": [asdict(check) for check in checks],
        }
        return web.Response(
            text=json.dumps(body),
            status=200 if healthy else 503,
            content_type="application/json",
        )

    async def _metrics(self, request: web.Request) -> web.Response:
        try:
            page = await self.health.in_thread(lambda: generate_latest(self.registry))
        except TimeoutError:
            return web.Response(text="the database did not answer\n", status=503)
        response = web.Response(body=page)
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response
