"""Reads the domain needs, named for what they find (writes stay with the domain's transactions)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from storage.tables import Alert, BuddyLink, Member, Outcall

OPEN = ("active", "overdue", "acknowledged")


def member_by_identity(session: Session, channel: str, address: str) -> Member | None:
    return session.scalar(
        select(Member).where(Member.channel == channel, Member.address == address)
    )


def buddies_of(session: Session, worker_id: int) -> list[Member]:
    """The worker's current buddies, oldest pairing first."""
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


def alerted_members(session: Session, outcall_id: int) -> list[Member]:
    return list(
        session.scalars(
            select(Member)
            .join(Alert, Alert.member_id == Member.id)
            .where(Alert.outcall_id == outcall_id)
            .order_by(Alert.alerted_at, Member.id)
        )
    )


def is_alerted(session: Session, outcall_id: int, member_id: int) -> bool:
    return session.get(Alert, {"outcall_id": outcall_id, "member_id": member_id}) is not None


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
