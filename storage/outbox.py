"""The outbox repository: queue, claim, and settle outgoing messages.

Claiming is a compare-and-set on `claimed_until`, so two dispatchers never send the same row
at the same time. Each claim names its owner (`claimed_by`, the process instance's name), so
a restarted process gives back what it held when it died at once (`release_owned`), and a
row held by a process that never comes back is claimed again once its lease runs out
(at-least-once delivery).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from storage.tables import OutboxMessage

PENDING, SENT, FAILED = "pending", "sent", "failed"


def add(session: Session, *, now: datetime, dedupe_key: str | None, **fields: Any) -> None:
    """Insert a pending message unless one with the same dedupe key was already queued."""
    if dedupe_key is not None and _queued(session, dedupe_key, fields.get("outcall_id")):
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


def preload_keys(session: Session, outcall_ids: list[int]) -> None:
    """Remember the dedupe keys of these outcalls' messages, so queueing more messages about
    them needs no lookup (the engine's batches of stages).

    A message about an outcall carries its id, so its key is among these. Were one not, the
    table's unique key would refuse the duplicate at commit and the engine would redo those
    outcalls one at a time, with a lookup per message.
    """
    known = _keys(session)
    known.update(
        session.scalars(
            select(OutboxMessage.dedupe_key).where(
                OutboxMessage.outcall_id.in_(outcall_ids), OutboxMessage.dedupe_key.is_not(None)
            )
        )
    )
    session.info.setdefault("outbox_outcalls", set()).update(outcall_ids)


def _keys(session: Session) -> set[str]:
    """The dedupe keys this transaction knows exist: preloaded, or added by it."""
    keys: set[str] = session.info.setdefault("outbox_dedupe_keys", set())
    return keys


def _queued(session: Session, dedupe_key: str, outcall_id: int | None) -> bool:
    """Whether a message with this key exists, or was added earlier in this transaction.

    The session remembers the keys it added, so the lookup need not flush them first: the
    messages of a batch of stages then reach the database together at commit.
    """
    known = _keys(session)
    if dedupe_key in known:
        return True
    known.add(dedupe_key)
    if outcall_id is not None and outcall_id in session.info.get("outbox_outcalls", ()):
        return False
    with session.no_autoflush:
        found = session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)
        )
    return found is not None


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
    locale: str | None
    attempts: int


def _due(now: datetime) -> ColumnElement[bool]:
    return and_(
        OutboxMessage.state == PENDING,
        OutboxMessage.next_attempt_at <= now,
        or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
    )


@dataclass(frozen=True)
class Claim:
    """What to claim: on which channel, how many recipients, for whom, and what to leave.

    `skip` holds recipients who must not get a message now (one is already queued or in
    flight to them, or their chat's gap has not passed); `only`, if given, the recipients to
    claim for; `more_urgent_than` limits the claim to messages of a higher priority (a lower
    number) than that.
    """

    channel: str
    limit: int
    owner: str
    lease: timedelta
    skip: frozenset[str] = frozenset()
    only: frozenset[str] | None = None
    more_urgent_than: int | None = None


def claim(session: Session, now: datetime, want: Claim) -> list[Claimed]:
    """Claim the most urgent due message of each of up to `want.limit` recipients.

    One per recipient, because a messenger spaces messages to one chat: claiming a second
    would only hold it back from another process. Rows nobody can send now are never
    touched, so a backlog costs one query and one update per claim, not a write per row.
    """
    due = _due(now)
    first = func.row_number().over(
        partition_by=OutboxMessage.address, order_by=(OutboxMessage.priority, OutboxMessage.id)
    )
    ranked = select(
        OutboxMessage.id, OutboxMessage.address, OutboxMessage.priority, first.label("rank")
    ).where(due, OutboxMessage.channel == want.channel)
    if want.only is not None:
        ranked = ranked.where(OutboxMessage.address.in_(want.only))
    if want.more_urgent_than is not None:
        ranked = ranked.where(OutboxMessage.priority < want.more_urgent_than)
    heads = ranked.subquery()
    rows = session.execute(
        select(heads.c.id, heads.c.address)
        .where(heads.c.rank == 1)
        .order_by(heads.c.priority, heads.c.id)
        .limit(want.limit + len(want.skip))
    ).all()
    ids = [message_id for message_id, address in rows if address not in want.skip][: want.limit]
    if not ids:
        return []
    until = now + want.lease
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), due)
        .values(claimed_until=until, claimed_by=want.owner)
    )
    won = session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.id.in_(ids),
            OutboxMessage.claimed_by == want.owner,
            OutboxMessage.claimed_until == until,
        )
        .order_by(OutboxMessage.priority, OutboxMessage.id)
    ).all()
    return [_copy(row) for row in won]


def release_owned(session: Session, owner: str) -> int:
    """Give back every pending row `owner` holds (at start-up: what it held when it died)."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.state == PENDING, OutboxMessage.claimed_by == owner)
        .values(claimed_until=None, claimed_by=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def mark_sent(session: Session, message_id: int, now: datetime) -> None:
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(state=SENT, sent_at=now, claimed_until=None, claimed_by=None, last_error=None)
    )


def retry_later(session: Session, message_id: int, at: datetime, reason: str) -> None:
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(
            next_attempt_at=at,
            claimed_until=None,
            claimed_by=None,
            attempts=OutboxMessage.attempts + 1,
            last_error=reason[:32],
        )
    )


def release(session: Session, message_ids: list[int]) -> None:
    """Give claimed rows back untouched (held too long while the messenger paused us)."""
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(message_ids), OutboxMessage.state == PENDING)
        .values(claimed_until=None, claimed_by=None)
    )


def mark_failed(session: Session, message_id: int, reason: str) -> None:
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(state=FAILED, claimed_until=None, claimed_by=None, last_error=reason[:32])
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
        locale=row.locale,
        attempts=row.attempts,
    )


def backlog(session: Session) -> dict[str, int]:
    """How many messages wait to be sent, by kind (for `/metrics`)."""
    rows = session.execute(
        select(OutboxMessage.kind, func.count())
        .where(OutboxMessage.state == PENDING)
        .group_by(OutboxMessage.kind)
    )
    return {kind: int(count) for kind, count in rows}


def oldest_pending(session: Session, kinds: tuple[str, ...]) -> datetime | None:
    """When the oldest message of these kinds still waiting to be sent was queued."""
    return session.scalar(
        select(func.min(OutboxMessage.created_at)).where(
            OutboxMessage.state == PENDING, OutboxMessage.kind.in_(kinds)
        )
    )
