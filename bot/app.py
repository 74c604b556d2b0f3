"""Wiring the service together: database, sealing, engine, outbox, channels and scheduler.

APScheduler (AsyncIOScheduler) runs six named jobs, each with an explicit misfire grace so
a late run still runs: `engine-wake` (a one-off re-armed at the earliest deadline),
`engine-sweep` (a safety interval), `outbox` (the dispatcher), `purge` (retention),
`scrub` (removing shredded details from the database files, `storage/scrub.py`) and
`reachability` (probing buddies' and responders' chats, in bounded batches). No
deadline depends on a job having run: deadlines live in the database, and a sweep after a
restart finds every one that passed meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot import admin_menu, language_menu, org_commands, settings_menu
from bot.channels.base import Channel, Inbound
from bot.channels.emergency import EmergencyChannel
from bot.config import Settings
from bot.conversation import Conversation
from bot.dispatcher import Dispatcher
from bot.executors import Executors
from checkins.admin import AdminService
from checkins.argon2_pool import Argon2Pool
from checkins.context import Clock, Context
from checkins.engine import Engine
from checkins.escalation import EMERGENCY_CHANNEL
from checkins.organisation import OrganisationService
from checkins.reachability import Reachability
from checkins.sealing import KDF_COSTS, Sealer
from checkins.service import CheckinService
from storage.db import Database
from storage.scrub import Scrubber

log = logging.getLogger(__name__)
SWEEP_SECONDS = 30
OUTBOX_SECONDS = 1
DRAIN_ROUNDS = 20
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
        argon2 = Argon2Pool(cost.mem, settings.crypto.argon2_memory_mib * 2**20)
        sealer = Sealer(pepper, cost, argon2)
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
        )
        retry = settings.database.safety_retry.total_seconds()
        self.conversation = Conversation(self.service, channels, Executors(retry))
        self.settings_menu = settings_menu.install(self.conversation)
        self.admin = AdminService(ctx)
        admin_menu.install(self.conversation, self.admin)
        language_menu.install(self.conversation, self.service)
        self.organisation = OrganisationService(ctx)
        org_commands.install(self.conversation, self.organisation, self.settings_menu)
        self.reachability = Reachability(self.db, self.policy, clock)
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self._tasks: set[asyncio.Task[None]] = set()
        self._draining = False
        self._drain_again = False

    async def start(self) -> None:
        """Migrate, start the jobs, then start receiving."""
        await asyncio.to_thread(self.db.migrate)
        grace = {"misfire_grace_time": None, "coalesce": True, "max_instances": 1}
        overlapping = {**grace, "max_instances": 3}
        self.scheduler.add_job(
            self._sweep, "interval", seconds=SWEEP_SECONDS, id="engine-sweep", **grace
        )
        # `_drain` returns at once while another drain runs, so overlapping is harmless.
        self.scheduler.add_job(
            self._drain, "interval", seconds=OUTBOX_SECONDS, id="outbox", **overlapping
        )
        self.scheduler.add_job(self._purge, "interval", seconds=PURGE_SECONDS, id="purge", **grace)
        self.scheduler.add_job(self._scrub, "interval", seconds=SCRUB_SECONDS, id="scrub", **grace)
        self.scheduler.add_job(
            self._probe, "interval", seconds=PROBE_SECONDS, id="reachability", **grace
        )
        self.scheduler.start()
        await self._sweep()
        for name, channel in self.channels.items():
            await channel.start(self.on_inbound)
            link = channel.invite_link_template()
            if link:
                self.service.invite_links[name] = link

    async def stop(self) -> None:
        for channel in self.channels.values():
            await channel.stop()
        self.scheduler.shutdown(wait=False)
        await asyncio.to_thread(self.db.dispose)

    async def on_inbound(self, event: Inbound) -> None:
        """Every event from every channel comes through here."""
        try:
            await self.conversation.handle(event)
        except Exception as error:  # never let one event take the process down
            log.error("handling a %s event failed: %s", event.channel, type(error).__name__)
        self.poke()

    def poke(self) -> None:
        """Something changed: send what is queued now and re-arm the engine's wake-up."""
        for work in (self._drain(), self._rearm()):
            task = asyncio.get_running_loop().create_task(work)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _sweep(self) -> None:
        await asyncio.to_thread(self.engine.tick)
        await self._rearm()
        await self._drain()

    async def _drain(self) -> None:
        """One drain at a time; a request while one runs makes it go round once more, so a
        message queued mid-drain is sent at once instead of waiting for the next interval."""
        if self._draining:
            self._drain_again = True
            return
        self._draining = True
        try:
            for _round in range(DRAIN_ROUNDS):
                self._drain_again = False
                await self.dispatcher.drain()
                if not self._drain_again:
                    break
        finally:
            self._draining = False

    async def _purge(self) -> None:
        self.conversation.forget_stale()
        # PIN resets whose cooling-off is over, deletions that waited for an SOS to settle.
        await asyncio.to_thread(self.conversation.security.housekeeping)
        report = await asyncio.to_thread(self.engine.purge)
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

    async def _rearm(self) -> None:
        """Schedule a one-off engine run at the earliest deadline in the database."""
        deadline = await asyncio.to_thread(self.engine.next_wakeup)
        if deadline is None or not self.scheduler.running:
            return
        # Deadlines come from the service's clock; the scheduler runs on the wall clock.
        delay = max(timedelta(0), deadline - self.clock())
        self.scheduler.add_job(
            self._sweep,
            "date",
            run_date=datetime.now(UTC) + delay,
            id="engine-wake",
            replace_existing=True,
            misfire_grace_time=None,
            # A wake-up re-armed while the previous one is still running must not be
            # skipped ("maximum number of running instances reached"): that would delay a
            # due alert until the next safety sweep. Ticks are safe to overlap.
            max_instances=2,
        )
