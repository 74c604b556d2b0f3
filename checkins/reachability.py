"""Reachability: finding out before an emergency that a buddy or responder can't be reached.

A scheduler job probes a bounded batch of the people alerts go to (buddies and responders),
least recently probed first, through their messenger (`Channel.probe`). When someone newly
turns out unreachable, the workers who rely on them (and, for a responder, the admins of
the jurisdictions they cover) are told once, by alias, with what to do. Coming back is
quiet: the mark is simply cleared, as a successful delivery also does (`Engine.delivered`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from checkins import texts
from checkins.context import Clock
from checkins.escalation import tell
from checkins.policy import Policy
from storage import roles
from storage.db import Database
from storage.tables import BuddyLink, Member, Role


@dataclass(frozen=True)
class ProbeTarget:
    member_id: int
    channel: str
    address: str


class Reachability:
    """Chooses whom to probe and records what the probe found."""

    def __init__(self, db: Database, policy: Policy, clock: Clock) -> None:
        self.db = db
        self.policy = policy
        self.clock = clock

    def batch(self, limit: int) -> list[ProbeTarget]:
        """Up to `limit` buddies and responders, never-probed and longest-unprobed first."""
        relied_on = or_(
            Member.id.in_(select(BuddyLink.buddy_id)),
            Member.id.in_(select(Role.member_id).where(Role.role == roles.RESPONDER)),
        )
        with self.db.transaction() as session:
            rows = session.execute(
                select(Member.id, Member.channel, Member.address)
                .where(relied_on)
                .order_by(Member.probed_at.is_not(None), Member.probed_at, Member.id)
                .limit(limit)
            )
            return [ProbeTarget(*row) for row in rows]

    def record(self, member_id: int, reachable: bool | None) -> None:
        """Store a probe's answer (None: the messenger can't tell) and tell whom it concerns."""
        now = self.clock()
        with self.db.transaction() as session:
            member = session.get(Member, member_id)
            if member is None:
                return
            member.probed_at = now
            if reachable is True:
                member.unreachable_since = None
            elif reachable is False and member.unreachable_since is None:
                member.unreachable_since = now
                _tell_those_relying_on(session, self.policy, member, now)


def _tell_those_relying_on(session: Session, policy: Policy, member: Member, now: datetime) -> None:
    """The member's workers, and the admins over the places they respond for, once each."""
    workers = session.scalars(
        select(Member)
        .join(BuddyLink, BuddyLink.worker_id == Member.id)
        .where(BuddyLink.buddy_id == member.id)
    )
    told: set[int] = set()
    for worker in workers:
        told.add(worker.id)
        _tell(session, policy, worker, member, now, as_responder=False)
    places = {
        r.jurisdiction for r in roles.roles_of(session, member.id) if r.role == roles.RESPONDER
    }
    for place in sorted(places):
        for admin in roles.admins_of(session, place):
            if admin.id not in told and admin.id != member.id:
                told.add(admin.id)
                _tell(session, policy, admin, member, now, as_responder=True)


def _tell(
    session: Session,
    policy: Policy,
    recipient: Member,
    member: Member,
    now: datetime,
    *,
    as_responder: bool,
) -> None:
    """Once per time they went unreachable (the dedupe key carries when that was)."""
    alias = member.alias
    since = int((member.unreachable_since or now).timestamp())
    tell(
        session,
        policy,
        recipient,
        lambda r: texts.contact_unreachable(alias, as_responder=as_responder),
        now,
        dedupe_key=f"unreachable:m{member.id}:{since}:to{recipient.id}",
    )
