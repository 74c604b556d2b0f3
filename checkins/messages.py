"""Outgoing messages as the domain writes them: to whom, what, with which buttons, how urgent.

Messages are rows in the outbox, written in the same transaction as the change they report.
Rendering into the recipient's language happens here, at write time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum, StrEnum

from sqlalchemy.orm import Session

from checkins.i18n import current_locale
from storage import outbox
from storage.tables import Member


@dataclass(frozen=True)
class Button:
    """One choice offered to a person: a label in their language and an opaque action token."""

    label: str
    action: str


class Kind(StrEnum):
    ALERT = "alert"
    REMINDER = "reminder"
    REPLY = "reply"
    EMERGENCY = "emergency"
    RAID = "raid"
    REPORT = "report"


class Priority(IntEnum):
    """Lower goes first: check-in alerts, then raid alerts, reminders, everything else, and
    last the warning list's news (a new report can wait; nobody's answer waits for it)."""

    ALERT = 0
    RAID = 1
    REMINDER = 2
    REPLY = 3
    REPORT = 4


PRIORITY = {
    Kind.ALERT: Priority.ALERT,
    Kind.EMERGENCY: Priority.ALERT,
    Kind.REMINDER: Priority.REMINDER,
    Kind.REPLY: Priority.REPLY,
    Kind.RAID: Priority.RAID,
    Kind.REPORT: Priority.REPORT,
}


@dataclass(frozen=True)
class Identity:
    """Who someone is on a messenger: the channel name and its stable address (user id, uuid)."""

    channel: str
    address: str


@dataclass(frozen=True)
class Message:
    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    kind: Kind = Kind.REPLY
    input_hint: str | None = None


def enqueue(
    session: Session,
    to: Member | Identity,
    message: Message,
    now: datetime,
    *,
    outcall_id: int | None = None,
    dedupe_key: str | None = None,
) -> None:
    """Queue `message` for delivery in the current transaction.

    A newcomer has no member row to hold their language yet, so their message carries the
    one it was written in: the channel's own words around it then match the text.
    """
    outbox.add(
        session,
        channel=to.channel,
        address=to.address,
        member_id=to.id if isinstance(to, Member) else None,
        outcall_id=outcall_id,
        kind=message.kind.value,
        priority=int(PRIORITY[message.kind]),
        text=message.text,
        buttons=[[[b.label, b.action] for b in row] for row in message.buttons],
        input_hint=message.input_hint,
        locale=None if isinstance(to, Member) else current_locale(),
        dedupe_key=dedupe_key,
        now=now,
    )
