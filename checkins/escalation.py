"""Who is told what as an outcall moves along its ladder, and the shredding of its details.

Called by `checkins.lifecycle.apply` (and the services, for replies) inside the caller's
transaction, so a state change and the messages it causes are committed together or not at
all. Nothing here writes the outcall's state: that is the lifecycle's alone.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from checkins import report_texts, texts
from checkins.i18n import use_locale
from checkins.jurisdictions import effective
from checkins.ladder import Ladder, LadderError, Notify, assert_stage_allowed
from checkins.messages import Identity, Kind, Message, enqueue
from checkins.policy import Jurisdiction, Policy
from storage import queries, roles
from storage.tables import Alert, Envelope, Member, OutboxMessage, Outcall, SealedKey

log = logging.getLogger(__name__)

# The outbox channel of emergency-contact messages; the address is the jurisdiction id, and
# the contact itself (a URL or a messenger address) is looked up from the policy at send time.
EMERGENCY_CHANNEL = "emergency"


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
    """Render a message in the member's language and timezone and queue it; the times of
    an `outcall` in another place's timezone also name that zone (`texts.Reader`).

    Nothing about a duress outcall is ever sent to its worker: someone dangerous may be
    holding their phone, and the outcall must look ended to them. Nothing is sent to a
    member who asked to be deleted (see `checkins.security`).
    """
    if outcall is not None and outcall.duress and member.id == outcall.worker_id:
        return
    if member.departed_at is not None:  # their chat is detached: there is nobody to tell
        return
    timezone = policy.jurisdiction(member.jurisdiction).timezone
    place_zone = policy.jurisdiction(outcall.jurisdiction).timezone if outcall else None
    with use_locale(member.locale):
        message: Message = build(texts.Reader(timezone, place_zone))
    enqueue(
        session,
        member,
        message,
        now,
        outcall_id=outcall.id if outcall else None,
        dedupe_key=dedupe_key,
    )


def ladder_of(outcall: Outcall) -> Ladder:
    """The outcall's ladder snapshot; one that breaks the rules still escalates, safely.

    A snapshot that no longer validates (tampered with, or an emergency stage where the legal
    model forbids it) loses its emergency stages; if nothing usable is left, its buddies are
    alerted at once. Refusing the whole outcall would leave the worker with no alert at all.
    """
    try:
        return Ladder.from_json(outcall.ladder)
    except LadderError as error:
        log.error(
            "outcall %s has an invalid ladder (%s); escalating without emergency stages",
            outcall.id,
            type(error).__name__,
        )
    data = dict(outcall.ladder)
    data["stages"] = [s for s in data["stages"] if s[1] != Notify.EMERGENCY.value]
    try:
        return Ladder.from_json(data)
    except LadderError:
        return Ladder.from_json({**data, "stages": [[0, Notify.BUDDIES.value]]})


def shred(session: Session, outcall: Outcall) -> None:
    """Destroy the sealed details: the envelope and every sealed copy of its key."""
    session.execute(delete(SealedKey).where(SealedKey.outcall_id == outcall.id))
    session.execute(delete(Envelope).where(Envelope.outcall_id == outcall.id))
    queries.forget_sealed_keys(session, outcall)


def remind_worker(
    session: Session, policy: Policy, outcall: Outcall, worker: Member, now: datetime
) -> None:
    """The check-in time is near: remind the worker."""
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


def ask_buddies(
    session: Session,
    policy: Policy,
    outcall: Outcall,
    worker: Member,
    index: int | None,
    now: datetime,
) -> int:
    """Ask the buddies (as the ladder's buddies stage `index`) to confirm the worker is safe:
    the worker said so but it can't be trusted (no PIN, or an SOS is open). Returns how many
    were asked."""
    if index is None:
        return 0
    alias, ref, after_sos = worker.alias, outcall.ref, outcall.sos
    buddies = stage_recipients(session, outcall, Notify.BUDDIES)
    for buddy in buddies:
        remember_alerted(session, outcall, buddy, index, now)
        unlock = queries.holds_sealed_copy(session, outcall, buddy.id)
        tell(
            session,
            policy,
            buddy,
            _confirm_request(ref, alias, after_sos, unlock),
            now,
            outcall=outcall,
            dedupe_key=f"o{outcall.id}:unverified:{int(now.timestamp())}:m{buddy.id}",
        )
    return len(buddies)


def _confirm_request(ref: str, alias: str, after_sos: bool, unlock: bool) -> texts.Builder:
    return lambda r: texts.confirm_request(ref, alias, after_sos=after_sos, unlock=unlock)


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
    if stage.notify is Notify.EMERGENCY:
        return alert_contact(session, policy, outcall, worker, now)
    recipients = stage_recipients(session, outcall, stage.notify)
    for member in recipients:
        alert_member(
            session, policy, outcall, worker, member, index, now, repeat=False, as_=stage.notify
        )
    return len(recipients)


def stage_recipients(session: Session, outcall: Outcall, notify: Notify) -> list[Member]:
    """The people a stage alerts: the worker's buddies, or the on-duty responders of the
    worker's jurisdiction (never the worker themself). The emergency contact is no member."""
    if notify is Notify.BUDDIES:
        return queries.buddies_of(session, outcall.worker_id)
    if notify is Notify.RESPONDERS:
        on_duty = roles.responders_on_duty(session, outcall.jurisdiction)
        return [m for m in on_duty if m.id != outcall.worker_id]
    return []


def alert_admins(
    session: Session, policy: Policy, outcall: Outcall, worker: Member, now: datetime
) -> None:
    """The ladder is spent: the jurisdiction's admins are alerted once, as the last resort.

    Admins already alerted in another role (say, as an on-duty responder) are not told twice.
    """
    for admin in roles.admins_of(session, outcall.jurisdiction):
        if admin.id == worker.id or queries.is_alerted(session, outcall, admin.id):
            continue
        alert_member(session, policy, outcall, worker, admin, None, now, repeat=False, as_=None)


def alert_contact(
    session: Session, policy: Policy, outcall: Outcall, worker: Member, now: datetime
) -> int:
    """Tell the jurisdiction's emergency contact, only for a real outcall of a worker who
    opted in (now, or when they raised SOS or duress: withdrawing consent afterwards, from a
    phone that may no longer be in their hands, does not silence it). Returns 1 if a message
    was queued, 0 to let the stage fall through.

    Only the nickname, the missed time and who was alerted are shared: the details are
    sealed and the server cannot read them.
    """
    jurisdiction = policy.jurisdiction(outcall.jurisdiction)
    assert_stage_allowed(jurisdiction.ladder.legal_model, Notify.EMERGENCY)
    consented = worker.emergency_opt_in or outcall.emergency_consent
    if outcall.drill or not consented or jurisdiction.emergency_contact is None:
        return 0
    handler = (
        session.get(Member, outcall.acknowledged_by_id) if outcall.acknowledged_by_id else None
    )
    handler_alias = handler.alias if handler else None
    alias, due, sos = worker.alias, outcall.due_at, outcall.sos
    alerted = len(queries.alerted_members(session, outcall))
    _tell_contact(
        session,
        policy,
        outcall,
        lambda r: texts.emergency_alert(alias, r.at(due), alerted, handler_alias, sos=sos),
        now,
        "emergency",
    )
    return 1


def stand_down_contact(
    session: Session, policy: Policy, outcall: Outcall, how: str, now: datetime
) -> None:
    """The outcall ended or was extended (`how`: "safe", "expired" or "extended"): an
    alerted emergency contact is told to stand down.

    Call it before an extension moves `due_at` (the dedupe key names the old due time).
    Only an outcall whose ladder has already passed an emergency stage can have reached the
    contact, so every other check-in skips the outbox lookup.
    """
    stages = ladder_of(outcall).stages[: outcall.next_stage]
    if not any(stage.notify is Notify.EMERGENCY for stage in stages):
        return
    alerted = session.scalar(
        select(OutboxMessage.id)
        .where(OutboxMessage.outcall_id == outcall.id, OutboxMessage.kind == Kind.EMERGENCY.value)
        .limit(1)
    )
    if alerted is None:
        return
    alias = session.get_one(Member, outcall.worker_id).alias
    _tell_contact(
        session,
        policy,
        outcall,
        lambda r: texts.emergency_stand_down(alias, how),
        now,
        "stand-down",
    )


def _tell_contact(
    session: Session,
    policy: Policy,
    outcall: Outcall,
    build: texts.Builder,
    now: datetime,
    marker: str,
) -> None:
    """Queue a message to the jurisdiction's emergency contact, in the jurisdiction's words."""
    jurisdiction = policy.jurisdiction(outcall.jurisdiction)
    with use_locale(jurisdiction.locale):
        message = build(texts.Reader(jurisdiction.timezone))
    enqueue(
        session,
        Identity(EMERGENCY_CHANNEL, jurisdiction.id),
        message,
        now,
        outcall_id=outcall.id,
        dedupe_key=f"o{outcall.id}:{int(outcall.due_at.timestamp())}:{marker}",
    )


def alert_member(
    session: Session,
    policy: Policy,
    outcall: Outcall,
    worker: Member,
    member: Member,
    stage: int | None,
    now: datetime,
    *,
    repeat: bool,
    as_: Notify | None = Notify.BUDDIES,
) -> None:
    """Alert one person about the outcall (as ladder stage `stage`) and remember that they
    were alerted.

    `as_` says why they are told: as a buddy, as an on-duty responder, or (None, with no
    stage) as an admin when everything else has failed. Each reads what is asked of them.
    """
    remember_alerted(session, outcall, member, stage, now, last_resort=as_ is None)
    ref, alias, due, sos = outcall.ref, worker.alias, outcall.due_at, outcall.sos
    duress, report_match = outcall.duress, outcall.report_match
    marker = f"r{int(now.timestamp())}" if repeat else ("last" if stage is None else f"s{stage}")
    unlock = queries.holds_sealed_copy(session, outcall, member.id)
    place = effective(session, policy, outcall.jurisdiction)
    written = place.written(place.protocol, member.locale)

    def build(r: texts.Reader) -> Message:
        # Under duress no checklist: the warning says what to do, and "call them" could kill.
        steps = None if duress else protocol_steps(written, alias, place, unlock)
        if repeat or as_ is Notify.BUDDIES:
            message = texts.alert(
                ref,
                alias,
                r.at(due),
                sos=sos,
                repeat=repeat,
                duress=duress,
                unlock=unlock,
                steps=steps,
            )
            return with_report_match(message) if report_match else message
        if as_ is Notify.RESPONDERS:
            message = texts.responder_alert(
                ref, alias, r.at(due), sos=sos, unlock=unlock, duress=duress, steps=steps
            )
        else:
            message = texts.last_resort_alert(ref, alias, r.at(due), unlock=unlock, steps=steps)
        message = texts.with_duress_warning(message, alias) if duress else message
        return with_report_match(message) if report_match else message

    tell(
        session,
        policy,
        member,
        build,
        now,
        outcall=outcall,
        dedupe_key=_key(outcall, marker, member.id),
    )


def protocol_steps(
    written: str | None, worker_alias: str, place: Jurisdiction, unlock: bool
) -> str:
    """What an alert asks its reader to do: the organisation's response protocol for the
    place in the reader's language, or the default one. Call it in the reader's locale."""
    if written:
        return written
    return texts.default_protocol(worker_alias, place.ladder.legal_model, unlock)


def repeat_alerts(
    session: Session, policy: Policy, outcall: Outcall, worker: Member, now: datetime
) -> None:
    """The ladder is spent and nobody has settled it: tell everyone alerted again.

    The chain never ends silently; it repeats every acknowledgement timeout until someone
    confirms, the worker checks in, or the retention limit closes it.
    """
    told_once = _last_resort_ids(session, outcall)
    alerted = [m for m in queries.alerted_members(session, outcall) if m.id not in told_once]
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


def remember_alerted(
    session: Session,
    outcall: Outcall,
    member: Member,
    stage: int | None,
    now: datetime,
    *,
    last_resort: bool = False,
) -> None:
    """Record that `member` was alerted (once per outcall), so they hear how it ends."""
    if queries.is_alerted(session, outcall, member.id):
        return
    alert = Alert(
        outcall_id=outcall.id,
        member_id=member.id,
        stage=stage,
        last_resort=last_resort,
        alerted_at=now,
    )
    session.add(alert)
    queries.note_alert(outcall, alert)


def _last_resort_ids(session: Session, outcall: Outcall) -> set[int]:
    return set(
        session.scalars(
            select(Alert.member_id).where(Alert.outcall_id == outcall.id, Alert.last_resort)
        )
    )


def _next_alert_time(outcall: Outcall, ladder: Ladder, after_index: int) -> datetime | None:
    for stage in ladder.stages[after_index + 1 :]:
        if stage.notify is not Notify.WORKER:
            return max(outcall.due_at + stage.after, outcall.due_at)
    return None


def _key(outcall: Outcall, marker: str, member_id: int) -> str:
    """A dedupe key unique per outcall, due time (changes on extension), step and person."""
    return f"o{outcall.id}:{int(outcall.due_at.timestamp())}:{marker}:m{member_id}"


def with_report_match(message: Message) -> Message:
    """An alert about an outcall whose plate matched a warning on the community's list."""
    return replace(message, text=message.text + "\n" + report_texts.report_match_note())
