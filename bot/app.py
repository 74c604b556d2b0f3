"""Wiring the service together: database, sealing, engine, outbox, channels and scheduler.

Three things run side by side and none waits for another: the channels receive, the
engine loop acts on deadlines, and the dispatcher sends. The engine loop sleeps until the
earliest deadline in the database (at most `ENGINE_IDLE` seconds) or until something
happens (`poke`); the dispatcher is woken the same way. Receiving starts first, so a
restart with a backlog is never deaf. APScheduler (AsyncIOScheduler) runs the housekeeping,
each job with an explicit misfire grace so a late run still runs: `purge` (retention),
`scrub` (removing shredded details from the database files, `storage/scrub.py`) and
`reachability` (probing buddies' and responders' chats, in bounded batches). No deadline
depends on a job or a wake-up: deadlines live in the database, and the engine's first
round after a restart finds every one that passed meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot import (
    admin_menu,
    language_menu,
    org_commands,
    place_menu,
    relay,
    report_forms,
    settings_menu,
)
from bot.channels.base import Channel, Inbound
from bot.channels.emergency import EmergencyChannel
from bot.config import Settings
from bot.conversation import Conversation
from bot.dispatcher import Dispatcher
from bot.executors import Executors
from bot.health import Health, HealthServer
from bot.metrics import Collector, EngineStats
from bot.waits import wait_for_event
from checkins.admin import AdminService
from checkins.argon2_pool import Argon2Pool
from checkins.context import Clock, Context
from checkins.engine import Engine
from checkins.escalation import EMERGENCY_CHANNEL
from checkins.organisation import OrganisationService
from checkins.places import PlaceService
from checkins.reachability import Reachability
from checkins.relay import RelayService
from checkins.reports import ReportService
from checkins.sealing import KDF_COSTS, Sealer
from checkins.service import CheckinService
from storage.db import Database
from storage.scrub import Scrubber

log = logging.getLogger(__name__)
# The engine looks at the database at least this often, whatever it was told.
ENGINE_IDLE = 30.0
ENGINE_RETRY = 1.0  # seconds before the engine tries again after a failing round
PURGE_SECONDS = 600
# Shredded details leave the database files at most this long (plus the scrub) after.
SCRUB_SECONDS = 60
PROBE_SECONDS = 6 * 3600
PROBE_BATCH = 200


def utc_now() -> datetime:
    return datetime.now(UTC)


class App:
    """One running buddycheck process."""

    def __init__(
        self,
        settings: Settings,
        pepper: bytes,
        channels: dict[str, Channel],
        clock: Clock = utc_now,
    ) -> None:
        self.settings = settings
        self.db = Database(settings.database.url, settings.database.lock_timeout.total_seconds())
        self.scrubber = Scrubber(self.db)
        self.policy = settings.policy()
        # The emergency contact is sent to like a channel; it forwards through the others.
        self.channels = {**channels, EMERGENCY_CHANNEL: EmergencyChannel(self.policy, channels)}
        self.clock = clock
        cost = KDF_COSTS[settings.crypto.kdf]
        self.argon2 = Argon2Pool(cost.mem, settings.crypto.argon2_memory_mib * 2**20)
        sealer = Sealer(pepper, cost, self.argon2)
        ctx = Context(self.db, sealer, self.policy, clock)
        self.service = CheckinService(ctx)
        self.engine = Engine(self.db, self.policy, clock)
        self.dispatcher = Dispatcher(
            self.db,
            self.engine,
            self.channels,
            clock,
            workers=settings.outbox.workers,
            max_backoff=settings.outbox.max_backoff,
            owner=settings.outbox.instance,
        )
        retry = settings.database.safety_retry.total_seconds()
        self.conversation = Conversation(self.service, channels, Executors(retry))
        self.settings_menu = settings_menu.install(self.conversation)
        self.admin = AdminService(ctx)
        admin_menu.install(self.conversation, self.admin)
        language_menu.install(self.conversation, self.service)
        self.organisation = OrganisationService(ctx)
        org_commands.install(self.conversation, self.organisation, self.settings_menu)
        relay.install(self.conversation, RelayService(ctx))
        self.places = PlaceService(ctx)
        place_menu.install(self.conversation, self.places)
        self.reports = ReportService(ctx)
        report_forms.install(self.conversation, self.reports, self.admin)
        self.reachability = Reachability(self.db, self.policy, clock)
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self._tasks: set[asyncio.Task[None]] = set()
        self._engine_wake = asyncio.Event()
        self.engine_stats = EngineStats()
        self.health = HealthServer(
            Health(self.db, self.channels, self.engine_stats, settings.health, clock),
            Collector(
                self.db,
                self.channels,
                self.engine_stats,
                lambda: dict(self.dispatcher.outcomes),
                self.argon2,
                clock,
            ),
            settings.health,
        )

    async def start(self) -> None:
        """Migrate, free what this instance held when it died, start receiving, then the
        engine, the dispatcher and the housekeeping jobs."""
        await asyncio.to_thread(self.db.migrate)
        released = await asyncio.to_thread(self.dispatcher.recover)
        if released:
            log.info("resending %d messages held when this instance last stopped", released)
        listed = tuple((c.name, c.description) for c in self.conversation.commands.listed())
        for name, channel in self.channels.items():
            channel.set_commands(listed)
            await channel.start(self.on_inbound)
            link = channel.invite_link_template()
            if link:
                self.service.invite_links[name] = link
        grace = {"misfire_grace_time": None, "coalesce": True, "max_instances": 1}
        self.scheduler.add_job(self._purge, "interval", seconds=PURGE_SECONDS, id="purge", **grace)
        self.scheduler.add_job(self._scrub, "interval", seconds=SCRUB_SECONDS, id="scrub", **grace)
        self.scheduler.add_job(
            self._probe, "interval", seconds=PROBE_SECONDS, id="reachability", **grace
        )
        self.scheduler.start()
        self._spawn(self._run_engine())
        self._spawn(self.dispatcher.run())
        await self.health.start()

    async def stop(self) -> None:
        """Stop receiving, stop acting on deadlines, give back what the outbox held, and let
        the thread pools go (so a stopped app holds no idle threads)."""
        await self.health.stop()
        for channel in self.channels.values():
            await channel.stop()
        self.scheduler.shutdown(wait=False)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.dispatcher.stop()
        self.conversation.executors.close()
        self.argon2.close()
        await asyncio.to_thread(self.db.dispose)

    async def on_inbound(self, event: Inbound) -> None:
        """Every event from every channel comes through here."""
        self.dispatcher.wrote(event.channel, event.address)
        try:
            await self.conversation.handle(event)
        except Exception as error:  # never let one event take the process down
            log.error("handling a %s event failed: %s", event.channel, type(error).__name__)
        self.poke()

    def poke(self) -> None:
        """Something changed: send what is queued now and look at the deadlines again."""
        self._engine_wake.set()
        self.dispatcher.wake()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_engine(self) -> None:
        """Act on every passed deadline, then sleep until the next one or a poke."""
        while True:
            self._engine_wake.clear()
            began = time.monotonic()
            try:
                delay = await self._engine_round()
                self.engine_stats.record(began)
            except Exception as error:  # a locked or failing database: try again shortly
                log.error("the engine round failed: %s", type(error).__name__)
                delay = ENGINE_RETRY
            await wait_for_event(self._engine_wake, delay)

    async def _engine_round(self) -> float:
        """One tick; returns how long the engine may sleep before the next deadline."""
        if await asyncio.to_thread(self.engine.tick):
            self.dispatcher.wake()
            return 0.0  # more may have come due meanwhile, or the tick stopped at its bound
        deadline = await asyncio.to_thread(self.engine.next_wakeup)
        if deadline is None:
            return ENGINE_IDLE
        # Deadlines come from the service's clock, which tests move by hand.
        return min(ENGINE_IDLE, max(0.0, (deadline - self.clock()).total_seconds()))

    async def _purge(self) -> None:
        self.conversation.forget_stale()
        # PIN resets whose cooling-off is over, deletions that waited for an SOS to settle.
        await asyncio.to_thread(self.conversation.security.housekeeping)
        report = await asyncio.to_thread(self.engine.purge)
        await asyncio.to_thread(self.reports.expire)
        if report.expired or report.deleted_outcalls or report.deleted_messages:
            log.info("retention purge: %s", report)

    async def _scrub(self) -> None:
        """Remove what the last minute's shredding left in the database files (batched)."""
        await asyncio.to_thread(self.scrubber.run)

    async def _probe(self) -> None:
        """Check a bounded batch of buddies and responders can still be reached."""
        for target in await asyncio.to_thread(self.reachability.batch, PROBE_BATCH):
            channel = self.channels.get(target.channel)
            reachable = await channel.probe(target.address) if channel else None
            await asyncio.to_thread(self.reachability.record, target.member_id, reachable)
