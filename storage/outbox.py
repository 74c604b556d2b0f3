"""The outbox repository: queue, claim, and settle outgoing messages.

Claiming is a compare-and-set on `claimed_until`, so two dispatchers never send the same row
at the same time, and a dispatcher that dies mid-send leaves a row that is claimed again once
its lease runs out (at-least-once delivery).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session

from storage.tables import OutboxMessage

PENDING, SENT, FAILED = "pending", "sent", "failed"


def add(session: Session, *, now: datetime, dedupe_key: str | None, **fields: Any) -> None:
    """Insert a pending message unless one with the same dedupe key was already queued."""
    if dedupe_key is not None and session.scalar(
        select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)
    ):
        return
    session.add(
        OutboxMessage(
            dedupe_key=dedupe_key,
            state=PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            **fields,
        )
    )


@dataclass(frozen=True)
class Claimed:
    """A message claimed for sending (a plain copy, safe to use outside the session)."""

    id: int
    channel: str
    address: str
    member_id: int | None
    outcall_id: int | None
    kind: str
    priority: int
    text: str
    buttons: list[list[list[str]]]
    input_hint: str | None
    attempts: int


def claim(session: Session, now: datetime, limit: int, lease: timedelta) -> list[Claimed]:
    """Claim up to `limit` due messages, most urgent first."""
    due = and_(
        OutboxMessage.state == PENDING,
        OutboxMessage.next_attempt_at <= now,
        or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
    )
    ids = session.scalars(
        select(OutboxMessage.id)
        .where(due)
        .order_by(OutboxMessage.priority, OutboxMessage.id)
        .limit(limit)
    ).all()
    claimed: list[Claimed] = []
    for message_id in ids:
        result = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, due)
            .values(claimed_until=now + lease)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            row = session.get_one(OutboxMessage, message_id)
            claimed.append(_copy(row))
    return claimed


def mark_sent(session: Session, message_id: int, now: datetime) -> None:
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(state=SENT, sent_at=now, claimed_until=None, last_error=None)
    )


def retry_later(session: Session, message_id: int, at: datetime, reason: str) -> None:
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(
            next_attempt_at=at,
            claimed_until=None,
            attempts=OutboxMessage.attempts + 1,
            last_error=reason[:32],
        )
    )


def release(session: Session, message_id: int) -> None:
    """Give a claimed row back untouched (e.g. it hit a per-chat rate limit)."""
    session.execute(
        update(OutboxMessage).where(OutboxMessage.id == message_id).values(claimed_until=None)
    )


def mark_failed(session: Session, message_id: int, reason: str) -> None:
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(state=FAILED, claimed_until=None, last_error=reason[:32])
    )


def next_due(session: Session) -> datetime | None:
    """When the earliest pending message becomes due."""
    return session.scalar(
        select(OutboxMessage.next_attempt_at)
        .where(OutboxMessage.state == PENDING)
        .order_by(OutboxMessage.next_attempt_at)
        .limit(1)
    )


def purge_settled(session: Session, before: datetime) -> int:
    """Delete sent and failed messages older than `before` (their text is metadata too)."""
    result = session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.state.in_((SENT, FAILED)), OutboxMessage.created_at < before
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def _copy(row: OutboxMessage) -> Claimed:
    return Claimed(
        id=row.id,
        channel=row.channel,
        address=row.address,
        member_id=row.member_id,
        outcall_id=row.outcall_id,
        kind=row.kind,
        priority=row.priority,
        text=row.text,
        buttons=row.buttons,
        input_hint=row.input_hint,
        attempts=row.attempts,
    )
