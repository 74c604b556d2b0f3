"""Moving one outcall along its ladder: who is told what, and when the next deadline is.

Shared by the service (SOS, acknowledgement, check-in) and the engine (deadlines), and always
called inside the caller's transaction, so a state change and the messages it causes are
committed together or not at all.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.orm import Session

from checkins import texts
from checkins.i18n import use_locale
from checkins.ladder import Ladder, Notify, assert_stage_allowed
from checkins.lifecycle import Event, State, next_state
from checkins.messages import Message, enqueue
from checkins.policy import Policy
from storage import queries
from storage.tables import Alert, Envelope, Member, Outcall, SealedKey


def tell(
    session: Session,
    policy: Policy,
    member: Member,
    build: texts.Builder,
    now: datetime,
    *,
    outcall: Outcall | None = None,
    dedupe_key: str | None = None,
) -> None:
    """Render a message in the member's language and timezone and queue it.

    Nothing about a duress outcall is ever sent to its worker: someone dangerous may be
    holding their phone, and the outcall must look ended to them.
    """
    if outcall is not None and outcall.duress and member.id == outcall.worker_id:
        return
    timezone = policy.jurisdiction(member.jurisdiction).timezone
    with use_locale(member.locale):
        message: Message = build(texts.Reader(timezone))
    enqueue(
        session,
        member,
        message,
        now,
        outcall_id=outcall.id if outcall else None,
        dedupe_key=dedupe_key,
    )


def ladder_of(outcall: Outcall) -> Ladder:
    return Ladder.from_json(outcall.ladder)


def shred(session: Session, outcall: Outcall) -> None:
    """Destroy the sealed details: the envelope and every sealed copy of its key."""
    session.execute(delete(SealedKey).where(SealedKey.outcall_id == outcall.id))
    session.execute(delete(Envelope).where(Envelope.outcall_id == outcall.id))


def finish(
    session: Session, policy: Policy, outcall: Outcall, event: Event, now: datetime
) -> list[Member]:
    """End the outcall, destroy its details, and return everyone who had been alerted."""
    outcall.state = next_state(outcall.state, event).value
    outcall.next_action_at = None
    outcall.ended_at = now
    shred(session, outcall)
    return queries.alerted_members(session, outcall.id)


def advance(session: Session, policy: Policy, outcall: Outcall, now: datetime) -> None:
    """Do whatever the outcall's deadline stands for, then set the next deadline."""
    ladder = ladder_of(outcall)
    worker = session.get_one(Member, outcall.worker_id)
    if outcall.state == State.ACTIVE and not outcall.reminded and now < outcall.due_at:
        outcall.state = next_state(outcall.state, Event.REMIND).value
        outcall.reminded = True
        due = outcall.due_at
        tell(
            session,
            policy,
            worker,
            lambda r: texts.reminder_before_due(outcall.ref, r.at(due)),
            now,
            outcall=outcall,
            dedupe_key=_key(outcall, "pre", worker.id),
        )
    else:
        outcall.state = next_state(outcall.state, Event.STEP).value
        run_next_stages(session, policy, outcall, worker, ladder, now)
    outcall.next_action_at = next_deadline(outcall, ladder, now)


def run_next_stages(
    session: Session,
    policy: Policy,
    outcall: Outcall,
    worker: Member,
    ladder: Ladder,
    now: datetime,
) -> None:
    """Run the next ladder stage; a stage with nobody to tell falls through to the next one."""
    while outcall.next_stage < len(ladder.stages):
        index = outcall.next_stage
        outcall.next_stage += 1
        if run_stage(session, policy, outcall, worker, ladder, index, now):
            return
    repeat_alerts(session, policy, outcall, worker, now)


def run_stage(
    session: Session,
    policy: Policy,
    outcall: Outcall,
    worker: Member,
    ladder: Ladder,
    index: int,
    now: datetime,
) -> int:
    """Notify one stage's recipients. Returns how many were told."""
    stage = ladder.stages[index]
    assert_stage_allowed(ladder.legal_model, stage.notify)
    if stage.notify is Notify.WORKER:
        next_alert = _next_alert_time(outcall, ladder, index)
        due = outcall.due_at
        tell(
            session,
            policy,
            worker,
            lambda r: texts.reminder_overdue(
                outcall.ref, r.at(due), r.at(next_alert) if next_alert else None
            ),
            now,
            outcall=outcall,
            dedupe_key=_key(outcall, f"s{index}", worker.id),
        )
        return 1
    recipients = stage_recipients(session, outcall, stage.notify)
    for member in recipients:
        alert_member(session, policy, outcall, worker, member, index, now, repeat=False)
    return len(recipients)


def stage_recipients(session: Session, outcall: Outcall, notify: Notify) -> list[Member]:
    """Who a stage alerts. Responders and emergency contacts arrive with organisations."""
    if notify is Notify.BUDDIES:
        return queries.buddies_of(session, outcall.worker_id)
    return []


def alert_member(
    session: Session,
    policy: Policy,
    outcall: Outcall,
    worker: Member,
    member: Member,
    stage: int,
    now: datetime,
    *,
    repeat: bool,
) -> None:
    """Alert one person about the outcall and remember that they were alerted."""
    if not queries.is_alerted(session, outcall.id, member.id):
        session.add(Alert(outcall_id=outcall.id, member_id=member.id, stage=stage, alerted_at=now))
    alias, due, sos, duress = worker.alias, outcall.due_at, outcall.sos, outcall.duress
    marker = f"r{int(now.timestamp())}" if repeat else f"s{stage}"
    tell(
        session,
        policy,
        member,
        lambda r: texts.alert(outcall.ref, alias, r.at(due), sos=sos, repeat=repeat, duress=duress),
        now,
        outcall=outcall,
        dedupe_key=_key(outcall, marker, member.id),
    )


def repeat_alerts(
    session: Session, policy: Policy, outcall: Outcall, worker: Member, now: datetime
) -> None:
    """The ladder is spent and nobody has settled it: tell everyone alerted again.

    The chain never ends silently; it repeats every acknowledgement timeout until someone
    confirms, the worker checks in, or the retention limit closes it.
    """
    alerted = queries.alerted_members(session, outcall.id)
    if not alerted:
        due = outcall.due_at
        tell(
            session,
            policy,
            worker,
            lambda r: texts.reminder_overdue(outcall.ref, r.at(due), None),
            now,
            outcall=outcall,
            dedupe_key=_key(outcall, f"r{int(now.timestamp())}", worker.id),
        )
        return
    for member in alerted:
        alert_member(session, policy, outcall, worker, member, outcall.next_stage, now, repeat=True)


def next_deadline(outcall: Outcall, ladder: Ladder, now: datetime) -> datetime:
    """When the engine must next look at this outcall."""
    if outcall.state == State.ACTIVE and not outcall.reminded:
        before = outcall.due_at - ladder.reminder_before
        if ladder.reminder_before and before > now:
            return before
    waits = []
    if outcall.state == State.ACKNOWLEDGED:
        waits.append(now + ladder.ack_timeout)
    if outcall.next_stage < len(ladder.stages):
        waits.append(outcall.due_at + ladder.stages[outcall.next_stage].after)
    else:
        waits.append(now + ladder.ack_timeout)
    return max(waits)


def _next_alert_time(outcall: Outcall, ladder: Ladder, after_index: int) -> datetime | None:
    for stage in ladder.stages[after_index + 1 :]:
        if stage.notify is not Notify.WORKER:
            return max(outcall.due_at + stage.after, outcall.due_at)
    return None


def _key(outcall: Outcall, marker: str, member_id: int) -> str:
    """A dedupe key unique per outcall, due time (changes on extension), step and person."""
    return f"o{outcall.id}:{int(outcall.due_at.timestamp())}:{marker}:m{member_id}"
