"""`/metrics`: what an operator graphs and alerts on, in Prometheus' text format.

Counts and durations only: no member id, alias, messenger address or message, and no label
that could hold one (labels are channel names, message kinds and send results). The values
are read when Prometheus asks (`Collector.collect`), from the database and from counters
the dispatcher and the engine loop keep, so nothing here runs between scrapes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector as PrometheusCollector

from bot.channels.base import RECEIVING, SEND_ONLY, Channel
from checkins.argon2_pool import Argon2Pool
from checkins.context import Clock
from checkins.messages import Kind
from storage import outbox, queries
from storage.db import Database

URGENT_KINDS = (Kind.ALERT.value, Kind.EMERGENCY.value)


@dataclass
class EngineStats:
    """The engine loop's rounds: how many, how long in all, when the last one finished."""

    rounds: int = 0
    seconds: float = 0.0
    last_finished: float | None = None  # time.monotonic()
    last_duration: float = 0.0

    def record(self, began: float) -> None:
        """A round that began at `began` (time.monotonic()) has just finished."""
        now = time.monotonic()
        self.rounds += 1
        self.last_duration = now - began
        self.seconds += self.last_duration
        self.last_finished = now

    def seconds_since_round(self) -> float | None:
        return None if self.last_finished is None else time.monotonic() - self.last_finished


@dataclass(eq=False)  # the registry keeps collectors in a dict
class Collector(PrometheusCollector):
    """Everything `/metrics` shows, gathered at scrape time."""

    db: Database
    channels: dict[str, Channel]
    engine: EngineStats
    sends: Callable[[], dict[tuple[str, str], int]]
    argon2: Argon2Pool
    clock: Clock
    prefix: str = field(default="buddycheck")

    def collect(self) -> Iterator[Metric]:
        yield from self._database()
        yield from self._sending()
        yield from self._engine()
        yield GaugeMetricFamily(
            self._name("argon2_waiting"),
            "PIN hashing runs asked for and not finished (running or queued)",
            value=self.argon2.waiting,
        )

    def _name(self, name: str) -> str:
        return f"{self.prefix}_{name}"

    def _database(self) -> Iterator[Metric]:
        now = self.clock()
        with self.db.reading() as session:
            open_outcalls = queries.count_open(session)
            backlog = outbox.backlog(session)
            oldest = outbox.oldest_pending(session, URGENT_KINDS)
            deadline = queries.earliest_deadline(session)
        yield GaugeMetricFamily(
            self._name("outcalls_open"), "Outcalls running now", value=open_outcalls
        )
        pending = GaugeMetricFamily(
            self._name("outbox_pending"), "Messages waiting to be sent, by kind", labels=["kind"]
        )
        for kind in Kind:
            pending.add_metric([kind.value], backlog.get(kind.value, 0))
        yield pending
        yield GaugeMetricFamily(
            self._name("oldest_pending_alert_seconds"),
            "How long the oldest unsent alert has waited (0: none waiting)",
            value=(now - oldest).total_seconds() if oldest else 0.0,
        )
        yield GaugeMetricFamily(
            self._name("engine_lag_seconds"),
            "How far the engine is behind its earliest deadline (0: not behind)",
            value=max(0.0, (now - deadline).total_seconds()) if deadline else 0.0,
        )

    def _sending(self) -> Iterator[Metric]:
        sends = CounterMetricFamily(
            self._name("sends"), "Sends by channel and result", labels=["channel", "result"]
        )
        for (channel, result), count in sorted(self.sends().items()):
            sends.add_metric([channel, result], count)
        yield sends
        receiving = GaugeMetricFamily(
            self._name("channel_receiving"),
            "1 when messages from people reach this process on the channel (or another "
            "process receives them: send-only), else 0",
            labels=["channel"],
        )
        for name, adapter in sorted(self.channels.items()):
            receiving.add_metric([name], adapter.receive_state() in (RECEIVING, SEND_ONLY))
        yield receiving

    def _engine(self) -> Iterator[Metric]:
        yield SummaryMetricFamily(
            self._name("engine_round_seconds"),
            "Engine rounds (acting on every passed deadline) and the time they took",
            count_value=self.engine.rounds,
            sum_value=self.engine.seconds,
        )
        yield GaugeMetricFamily(
            self._name("engine_last_round_seconds"),
            "How long the engine's last round took",
            value=self.engine.last_duration,
        )
