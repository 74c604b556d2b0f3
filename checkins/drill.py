"""Drills: a practice alert through the worker's real ladder, clearly marked, never to police.

A drill is an `Outcall` row with `drill=True` that stays `active` (never alerting), so no
real-alert action (I'm on it, Unlock, confirm safe) applies to it, `queries.open_outcall`
skips it, and it never blocks a real outcall or SOS. Everyone the ladder's buddy and
responder stages would reach gets one marked alert at once; the engine sends the worker a
report when the jurisdiction's acknowledgement timeout has passed (`next_action_at`).

A drill's alerts have no ladder stage; `Alert.got_it_at` records who tapped Got it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from checkins import lifecycle, texts
from checkins.context import Refusal
from checkins.escalation import protocol_steps, remember_alerted, stage_recipients, tell
from checkins.jurisdictions import effective
from checkins.ladder import Notify
from checkins.lifecycle import State
from checkins.messages import Message
from checkins.policy import Jurisdiction, Policy
from storage import queries
from storage.outbox import FAILED
from storage.tables import Alert, Member, OutboxMessage, Outcall


def start(session: Session, policy: Policy, worker: Member, now: datetime) -> Outcall:
    """Send the practice alert to everyone the worker's ladder would reach, all at once."""
    if running(session, worker.id) is not None:
        raise Refusal(texts.drill_already_running())
    real = queries.open_outcall(session, worker.id)
    if real is not None and State(real.state).is_alerting:
        raise Refusal(texts.drill_refused_during_alert())
    jurisdiction = effective(session, policy, worker.jurisdiction)
    ladder = jurisdiction.ladder
    outcall = lifecycle.begin(session, worker, jurisdiction, now, now, drill=True)
    recipients: dict[int, tuple[Member, bool]] = {}
    for stage in ladder.stages:
        if stage.notify in (Notify.BUDDIES, Notify.RESPONDERS):
            for member in stage_recipients(session, outcall, stage.notify):
                recipients.setdefault(member.id, (member, stage.notify is Notify.RESPONDERS))
    if not recipients:
        raise Refusal(texts.drill_nobody())
    ref, alias = outcall.ref, worker.alias
    for member, as_responder in recipients.values():
        remember_alerted(session, outcall, member, None, now)
        # Unlock only where a real alert would have it: a sealed copy needs keys, and a
        # responder gets one only where the place seals to responders.
        unlock = bool(member.wrapped_secret) and (not as_responder or ladder.seal_to_responders)
        written = jurisdiction.written(jurisdiction.protocol, member.locale)
        tell(
            session,
            policy,
            member,
            _alert_builder(ref, alias, as_responder, now, unlock, written, jurisdiction),
            now,
            outcall=outcall,
            dedupe_key=f"o{outcall.id}:drill:m{member.id}",
        )
    names = [member.alias for member, _responder in recipients.values()]
    report_at = now + ladder.ack_timeout
    tell(
        session,
        policy,
        worker,
        lambda r: texts.drill_started(names, r.at(report_at)),
        now,
        outcall=outcall,
    )
    return outcall


def got_it(session: Session, policy: Policy, member: Member, ref: str, now: datetime) -> None:
    """A recipient shows the worker that the practice alert reached them."""
    outcall = queries.outcall_by_ref(session, ref, lock=True)
    alert = (
        session.get(Alert, {"outcall_id": outcall.id, "member_id": member.id})
        if outcall is not None and outcall.drill
        else None
    )
    if outcall is None or alert is None:
        raise Refusal(texts.drill_over())
    if outcall.ended_at is not None:
        raise Refusal(texts.drill_over())
    alert.got_it_at = alert.got_it_at or now
    alias = session.get_one(Member, outcall.worker_id).alias
    tell(session, policy, member, lambda r: texts.drill_thanks(alias), now, outcall=outcall)


def report(session: Session, policy: Policy, outcall: Outcall, now: datetime) -> None:
    """The drill's time is up (the engine applied REPORT): tell the worker who got it, who
    didn't answer, who is unreachable."""
    failed = set(
        session.scalars(
            select(OutboxMessage.member_id).where(
                OutboxMessage.outcall_id == outcall.id, OutboxMessage.state == FAILED
            )
        )
    )
    got, silent, unreachable = [], [], []
    rows = session.execute(
        select(Alert, Member)
        .join(Member, Member.id == Alert.member_id)
        .where(Alert.outcall_id == outcall.id)
        .order_by(Alert.alerted_at, Member.id)
    )
    for alert, member in rows:
        if alert.got_it_at is not None:
            got.append(member.alias)
        elif member.id in failed or member.unreachable_since is not None:
            unreachable.append(member.alias)
        else:
            silent.append(member.alias)
    worker = session.get_one(Member, outcall.worker_id)
    tell(
        session,
        policy,
        worker,
        lambda r: texts.drill_report(got, silent, unreachable),
        now,
        outcall=outcall,
        dedupe_key=f"o{outcall.id}:drill-report",
    )


def running(session: Session, worker_id: int) -> Outcall | None:
    """The worker's drill that has not reported yet, if any."""
    return session.scalar(
        select(Outcall)
        .where(Outcall.worker_id == worker_id, Outcall.drill.is_(True), Outcall.ended_at.is_(None))
        .limit(1)
    )


def _alert_builder(
    ref: str,
    worker_alias: str,
    as_responder: bool,
    now: datetime,
    unlock: bool,
    written: str | None,
    place: Jurisdiction,
) -> texts.Builder:
    """The practice alert; its preview of the real one shows the drill's start as the due
    time, the response protocol the real one would show, and Unlock only if it would."""

    def build(r: texts.Reader) -> Message:
        steps = protocol_steps(written, worker_alias, place, unlock)
        return texts.drill_alert(
            ref, worker_alias, as_responder=as_responder, due=r.at(now), unlock=unlock, steps=steps
        )

    return build
