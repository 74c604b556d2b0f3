"""Reads the domain needs, named for what they find (writes stay with the domain's transactions).

The engine runs stages for a batch of outcalls at a time. `lock_due` locks the batch and
preloads, in a handful of queries, what those stages read: each worker's buddies, who has
been alerted and who holds a sealed copy. The readers below use those collections when they
are loaded and ask the database otherwise, so a stage costs no query of its own and its
inserts reach the database together at commit. A collection is loaded only by `lock_due`;
whoever changes what one holds in the same transaction keeps it true (`note_alert`) or
unloads it (`forget_sealed_keys`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, inspect, select, update
from sqlalchemy.orm import Session, aliased, selectinload

from storage.tables import Alert, BuddyLink, Member, Outcall, SealedKey

OPEN = ("active", "overdue", "acknowledged")


def member_by_identity(session: Session, channel: str, address: str) -> Member | None:
    return session.scalar(
        select(Member).where(Member.channel == channel, Member.address == address)
    )


def buddies_of(session: Session, worker_id: int) -> list[Member]:
    """The worker's current buddies, oldest pairing first."""
    worker = session.get(Member, worker_id)
    if worker is not None and _loaded(worker, "buddy_links"):
        return [link.buddy for link in worker.buddy_links]
    return list(
        session.scalars(
            select(Member)
            .join(BuddyLink, BuddyLink.buddy_id == Member.id)
            .where(BuddyLink.worker_id == worker_id)
            .order_by(BuddyLink.id)
        )
    )


def links_of(session: Session, member_id: int) -> list[tuple[BuddyLink, Member, Member]]:
    """Every pairing the member is part of, as (link, worker, buddy)."""
    worker, buddy = aliased(Member), aliased(Member)
    rows = session.execute(
        select(BuddyLink, worker, buddy)
        .join(worker, BuddyLink.worker_id == worker.id)
        .join(buddy, BuddyLink.buddy_id == buddy.id)
        .where((BuddyLink.worker_id == member_id) | (BuddyLink.buddy_id == member_id))
        .order_by(BuddyLink.id)
    )
    return [(link, w, b) for link, w, b in rows]


def count_buddies(session: Session, worker_id: int) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(BuddyLink).where(BuddyLink.worker_id == worker_id)
        )
        or 0
    )


def open_outcall(session: Session, worker_id: int, *, lock: bool = False) -> Outcall | None:
    """The worker's own running outcall. A duress outcall is not theirs to see: whoever holds
    the phone must find it ended, while it keeps escalating for the buddies."""
    query = select(Outcall).where(
        Outcall.worker_id == worker_id,
        Outcall.state.in_(OPEN),
        Outcall.duress.is_(False),
        Outcall.drill.is_(False),  # a drill never blocks or stands in for a real outcall
    )
    if lock:
        query = query.with_for_update()
    return session.scalar(query.order_by(Outcall.id.desc()).limit(1))


def outcall_by_ref(session: Session, ref: str, *, lock: bool = False) -> Outcall | None:
    query = select(Outcall).where(Outcall.ref == ref)
    if lock:
        query = query.with_for_update()
    return session.scalar(query)


def alerted_members(session: Session, outcall: Outcall) -> list[Member]:
    """Everyone alerted about the outcall, in the order they were alerted."""
    if _loaded(outcall, "alerts"):
        alerts = sorted(outcall.alerts, key=lambda a: (a.alerted_at, a.member_id))
        return [session.get_one(Member, alert.member_id) for alert in alerts]
    return list(
        session.scalars(
            select(Member)
            .join(Alert, Alert.member_id == Member.id)
            .where(Alert.outcall_id == outcall.id)
            .order_by(Alert.alerted_at, Member.id)
        )
    )


def is_alerted(session: Session, outcall: Outcall, member_id: int) -> bool:
    if _loaded(outcall, "alerts"):
        return any(alert.member_id == member_id for alert in outcall.alerts)
    return session.get(Alert, {"outcall_id": outcall.id, "member_id": member_id}) is not None


def mark_reachable(session: Session, member_id: int) -> None:
    """A message reached this member: they are reachable again (an update only when they
    were not, so a delivery to a reachable member writes nothing)."""
    session.execute(
        update(Member)
        .where(Member.id == member_id, Member.unreachable_since.is_not(None))
        .values(unreachable_since=None)
    )


def note_alert(outcall: Outcall, alert: Alert) -> None:
    """Keep a preloaded `outcall.alerts` true after `alert` was added to the session."""
    if _loaded(outcall, "alerts"):
        outcall.alerts.append(alert)


def holds_sealed_copy(session: Session, outcall: Outcall, member_id: int) -> bool:
    """Whether the member holds a sealed copy of the outcall's data key (may Unlock)."""
    if _loaded(outcall, "sealed_keys"):
        return any(key.member_id == member_id for key in outcall.sealed_keys)
    key = {"outcall_id": outcall.id, "member_id": member_id}
    return session.get(SealedKey, key) is not None


def forget_sealed_keys(session: Session, outcall: Outcall) -> None:
    """The outcall's sealed copies were deleted: later readers ask the database."""
    session.expire(outcall, ["sealed_keys"])


def open_alerts_for(session: Session, member_id: int) -> list[Outcall]:
    """Outcalls currently alerting this member, newest first."""
    return list(
        session.scalars(
            select(Outcall)
            .join(Alert, Alert.outcall_id == Outcall.id)
            .where(Alert.member_id == member_id, Outcall.state.in_(("overdue", "acknowledged")))
            .order_by(Outcall.id.desc())
        )
    )


def due_outcall_ids(session: Session, now: datetime, limit: int) -> list[int]:
    """Outcalls whose deadline has come, earliest first (uses the `next_action_at` index)."""
    return list(
        session.scalars(
            select(Outcall.id)
            .where(Outcall.next_action_at <= now)
            .order_by(Outcall.next_action_at)
            .limit(limit)
        )
    )


def lock_due(session: Session, outcall_ids: Sequence[int], now: datetime) -> list[Outcall]:
    """Lock those of the outcalls still due that no other engine holds, with what their
    stages read preloaded (see the module's docstring)."""
    return list(
        session.scalars(
            select(Outcall)
            .where(Outcall.id.in_(outcall_ids), Outcall.next_action_at <= now)
            .order_by(Outcall.next_action_at)
            .with_for_update(skip_locked=True)
            .options(
                selectinload(Outcall.worker)
                .selectinload(Member.buddy_links)
                .selectinload(BuddyLink.buddy),
                selectinload(Outcall.alerts).selectinload(Alert.member),
                selectinload(Outcall.sealed_keys),
            )
        )
    )


def lock_if_due(session: Session, outcall_id: int, now: datetime) -> Outcall | None:
    """Lock one due outcall; None if another engine holds it or already advanced it."""
    return session.scalar(
        select(Outcall)
        .where(Outcall.id == outcall_id, Outcall.next_action_at <= now)
        .with_for_update(skip_locked=True)
    )


def earliest_deadline(session: Session) -> datetime | None:
    return session.scalar(
        select(Outcall.next_action_at)
        .where(Outcall.next_action_at.is_not(None))
        .order_by(Outcall.next_action_at)
        .limit(1)
    )


def _loaded(instance: object, collection: str) -> bool:
    return collection in inspect(instance).dict


def count_open(session: Session) -> int:
    """Outcalls still running (active, overdue or taken), for `/metrics`."""
    return session.scalar(select(func.count()).where(Outcall.state.in_(OPEN))) or 0
