"""The escalation engine: acts on every outcall whose deadline has come, and purges old data.

A tick costs in proportion to the outcalls that are due (an indexed `next_action_at` query
in batches), never to the number active. Due outcalls advance a group at a time, in one
transaction under row locks (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite serialises
writers), re-checking that each is still due, so two engines never run the same stage twice.
The group's reads are preloaded and its writes go out together at commit (see
`storage.queries`), which is what lets a storm of missed check-ins be alerted at once.

One bad row cannot hold up the rest: if a group fails, each of its outcalls is retried in
its own transaction, and one that still fails is logged and looked at again after
`RETRY_BROKEN`, so it neither blocks nor spins the engine. A database that is locked or
gone (`storage.db.transient`) is no row's fault: the error goes up, the engine loop tries
the whole round again a second later, and nothing is postponed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.orm import Session

from checkins import drill, texts
from checkins.context import Clock
from checkins.escalation import alert_admins, tell
from checkins.lifecycle import Event, State, apply, due_event, postpone
from checkins.messages import Kind
from checkins.policy import Policy
from storage import outbox, queries, roles
from storage.db import Database, transient
from storage.tables import Member, Outcall

log = logging.getLogger(__name__)
BATCH = 200
GROUP = 50  # outcalls advanced in one transaction: few enough to hold their locks briefly
MAX_STEPS_PER_TICK = 16
RETRY_BROKEN = timedelta(seconds=30)


@dataclass(frozen=True)
class PurgeReport:
    expired: int
    deleted_outcalls: int
    deleted_messages: int


class Engine:
    """Advances due outcalls; knows when it must next be woken."""

    def __init__(self, db: Database, policy: Policy, clock: Clock) -> None:
        self.db = db
        self.policy = policy
        self.clock = clock

    def tick(self, max_batches: int = 50) -> int:
        """Advance every due outcall (bounded per call); returns how many advanced."""
        advanced = 0
        now = self.clock()
        for _batch in range(max_batches):
            with self.db.reading() as session:
                due = queries.due_outcall_ids(session, now, BATCH)
            for start in range(0, len(due), GROUP):
                advanced += self._advance_group(due[start : start + GROUP], now)
            if len(due) < BATCH:
                break
        return advanced

    def next_wakeup(self) -> datetime | None:
        with self.db.reading() as session:
            return queries.earliest_deadline(session)

    def purge(self) -> PurgeReport:
        """Enforce retention: close what is too old, delete what is no longer needed."""
        now = self.clock()
        limits = self.policy.limits
        expired = 0
        with self.db.transaction() as session:
            stale = session.scalars(
                select(Outcall.id).where(
                    Outcall.state.in_(queries.OPEN),
                    or_(
                        Outcall.expires_at < now,
                        and_(
                            Outcall.expires_at.is_(None),
                            Outcall.created_at < now - limits.details_retention,
                        ),
                    ),
                )
            ).all()
        for outcall_id in stale:
            expired += self._expire(outcall_id, now)
        with self.db.transaction() as session:
            deleted = session.execute(
                delete(Outcall).where(
                    Outcall.ended_at.is_not(None), Outcall.ended_at < now - limits.ended_retention
                )
            ).rowcount  # type: ignore[attr-defined]
            messages = outbox.purge_settled(session, now - limits.sent_retention)
        return PurgeReport(expired, int(deleted), messages)

    def may_send(self, outcall_id: int | None) -> bool:
        """Send-time defence in depth for emergency messages (the dispatcher asks for no
        other kind): none outside decriminalised places."""
        if outcall_id is None:
            return False
        with self.db.transaction() as session:
            outcall = session.get(Outcall, outcall_id)
            if outcall is None:
                return False
            snapshot = str(outcall.ladder["legal_model"])
            current = self.policy.jurisdiction(outcall.jurisdiction).ladder.legal_model
        return snapshot == current == "decriminalised"

    def undeliverable(
        self, member_id: int | None, kind: str, outcall_id: int | None, *, for_good: bool = True
    ) -> None:
        """A recipient can't be reached: fail over. `for_good`: the messenger said so
        (blocked the bot, unknown account); else sends to them keep failing but are retried.

        The worker is told (once per buddy and outcall), and if nobody alerted about this
        outcall can be reached, its next stage runs now instead of waiting for its time.
        """
        now = self.clock()
        with self.db.transaction() as session:
            outcall = session.get(Outcall, outcall_id) if outcall_id is not None else None
            if kind == Kind.EMERGENCY and outcall is not None:
                self._contact_unreachable(session, outcall, now)
                return
            member = session.get(Member, member_id) if member_id is not None else None
            if member is None:
                return
            member.unreachable_since = member.unreachable_since or now
            if kind != Kind.ALERT or outcall is None or outcall.worker_id == member.id:
                return
            worker = session.get_one(Member, outcall.worker_id)
            alias = member.alias
            told = texts.buddy_unreachable if for_good else texts.buddy_not_getting_through
            tell(
                session,
                self.policy,
                worker,
                lambda r: told(alias),
                now,
                outcall=outcall,  # silent for a duress outcall
                dedupe_key=f"unreachable:{outcall.id}:{member.id}",
            )
            alerted = queries.alerted_members(session, outcall)
            if State(outcall.state).is_alerting and all(m.unreachable_since for m in alerted):
                apply(session, self.policy, outcall, Event.FAIL_OVER, now)

    def _contact_unreachable(self, session: Session, outcall: Outcall, now: datetime) -> None:
        """The emergency contact refused the alert: the jurisdiction's admins are alerted
        as the last resort and told to fix the contact, so the chain never ends silently."""
        if outcall.ended_at is not None:
            return
        worker = session.get_one(Member, outcall.worker_id)
        alert_admins(session, self.policy, outcall, worker, now)
        place = outcall.jurisdiction
        for admin in roles.admins_of(session, place):
            tell(
                session,
                self.policy,
                admin,
                lambda r: texts.emergency_contact_unreachable(place),
                now,
                dedupe_key=f"contact-unreachable:{outcall.id}:{admin.id}",
            )

    def _advance_group(self, outcall_ids: list[int], now: datetime) -> int:
        try:
            with self.db.transaction() as session:
                outcalls = queries.lock_due(session, outcall_ids, now)
                outbox.preload_keys(session, [outcall.id for outcall in outcalls])
                for outcall in outcalls:
                    self._catch_up(session, outcall, now)
                return len(outcalls)
        except Exception as error:  # one broken row must not stop every other alert
            if transient(error):  # a locked or lost database: the whole round retries soon
                raise
            log.warning(
                "advancing %d outcalls together failed (%s); advancing them one at a time",
                len(outcall_ids),
                type(error).__name__,
            )
            return sum(self._advance_one(outcall_id, now) for outcall_id in outcall_ids)

    def _advance_one(self, outcall_id: int, now: datetime) -> int:
        try:
            with self.db.transaction() as session:
                outcall = queries.lock_if_due(session, outcall_id, now)
                if outcall is None:
                    return 0
                self._catch_up(session, outcall, now)
                return 1
        except Exception as error:
            if transient(error):  # not this row's fault: it stays due, nothing is postponed
                raise
            log.error("advancing outcall %s failed: %s", outcall_id, type(error).__name__)
            self._postpone(outcall_id, now)
            return 0

    def _catch_up(self, session: Session, outcall: Outcall, now: datetime) -> None:
        """Run every step whose time has passed, in order (after downtime, several)."""
        for _step in range(MAX_STEPS_PER_TICK):
            event = due_event(outcall, now)
            apply(session, self.policy, outcall, event, now)
            if event is Event.REPORT:  # a drill's only deadline is its report
                drill.report(session, self.policy, outcall, now)
            if outcall.next_action_at is None or outcall.next_action_at > now:
                break

    def _postpone(self, outcall_id: int, now: datetime) -> None:
        """Look at a failing outcall again later instead of at once, forever."""
        try:
            with self.db.transaction() as session:
                postpone(session, outcall_id, now, now + RETRY_BROKEN)
        except Exception as error:
            log.error("postponing outcall %s failed: %s", outcall_id, type(error).__name__)

    def _expire(self, outcall_id: int, now: datetime) -> int:
        with self.db.transaction() as session:
            outcall = session.get(Outcall, outcall_id, with_for_update=True)
            if outcall is None or outcall.ended_at is not None:
                return 0
            worker = session.get_one(Member, outcall.worker_id)
            alias = worker.alias
            for member in apply(session, self.policy, outcall, Event.EXPIRE, now).alerted:
                tell(
                    session,
                    self.policy,
                    member,
                    lambda r: texts.ended_for_alerted(alias, "expired", None),
                    now,
                    outcall=outcall,
                )
            tell(
                session,
                self.policy,
                worker,
                lambda r: texts.expired_for_worker(),
                now,
                outcall=outcall,  # silent for a duress outcall
            )
            return 1
