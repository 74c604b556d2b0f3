"""The community's warning list and raid alerts: reports of dangerous clients, moderation,
screening a plate, and alerts about police or immigration activity.

Privacy, by construction (see docs/architecture.md, "The warning list"):

* A plate or phone number is stored only as `Sealer.keyed_hash` of its folded form
  (`checkins.normalise`), plus a 3-character hint if the reporter agreed. A seized disk
  without the pepper cannot be searched for a plate.
* The reporter is linked to a report (`reporter_id`, and a moderator's question and its
  answer) only while it waits for moderation; publishing or rejecting it clears the link.
  Moderators never see who reported: they can only send one question through the bot.
* Only verified members (a role granted by a code handed out by the organisation) and the
  organisation's people read the list, screen a plate at /outcall or use /check. `screen` and
  `check` only read: no row, no outbox message, no log line records who checked what.
* Every moderation action is in the audit log by report number, never with its text.

Like the other services, each public method is one transaction that checks who is asking;
a request that cannot be done raises `Refusal` with the sentence to show.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from checkins import report_texts as words
from checkins.actions import Consent, Happened, RaidKind, ReportKind
from checkins.context import Context, Refusal, require_member
from checkins.escalation import tell
from checkins.jurisdictions import effective
from checkins.messages import Identity, Message
from checkins.normalise import fold_phone, fold_plate, hint, phone_key, plate_key
from storage import roles
from storage.tables import AuditEntry, Member, Raid, RaidDelivery, Report, ReportMute

Item = TypeVar("Item", Report, Raid)  # what moderators decide on

PENDING, PUBLISHED = "pending", "published"
# Abuse control: how many of one member's reports, and raid alerts, may wait at once.
MAX_WAITING_REPORTS = 3
MAX_WAITING_RAIDS = 2
MAX_TEXT = 500
MAX_AREA = 120
SHOWN_IN_LIST = 10
# Who may publish: moderators and admins moderate; responders may also publish raid alerts.
MODERATORS = (roles.ADMIN, roles.MODERATOR)
RAID_PUBLISHERS = (roles.ADMIN, roles.MODERATOR, roles.RESPONDER)
READERS = (roles.VERIFIED, *roles.STAFF)


@dataclass(frozen=True)
class ReportDraft:
    """A report's answers as typed (empty: skipped). The plate and phone are plaintext here,
    in memory, and are hashed before anything is stored."""

    kind: str = ""
    plate: str = ""
    phone: str = ""
    hint: str = ""
    vehicle: str = ""
    description: str = ""
    area: str = ""
    happened: str = ""


def bounded(text: str, most: int = MAX_TEXT) -> str:
    """A free-text answer, refused when longer than `most` (it is read by many people)."""
    text = " ".join(text.split())
    if len(text) > most:
        raise Refusal(words.too_long(most))
    return text


def area_in_words(text: str) -> str:
    """An area, never an address: a number next to words reads like a street address."""
    text = bounded(text, MAX_AREA)
    if any(ch.isdigit() for ch in text):
        raise Refusal(words.looks_like_address())
    return text


def _choice(value: str, allowed: type[ReportKind | RaidKind | Happened | Consent]) -> str | None:
    return value if value in {item.value for item in allowed} else None


class ReportService:
    """The warning list and raid alerts, as members, moderators and the engine use them."""

    def __init__(self, ctx: Context) -> None:
        self.db = ctx.db
        self.sealer = ctx.sealer
        self.policy = ctx.policy
        self.clock = ctx.clock

    # -- reports ---------------------------------------------------------------------------

    def submit_report(self, who: Identity, draft: ReportDraft) -> None:
        """Any member may report; the report waits for a moderator of their place."""
        plate = fold_plate(draft.plate) if draft.plate else ""
        phone = fold_phone(draft.phone) if draft.phone else ""
        vehicle, description = bounded(draft.vehicle), bounded(draft.description)
        area = area_in_words(draft.area) if draft.area else ""
        if not (plate or phone or vehicle or description):
            raise Refusal(words.report_empty())
        show_hint = draft.hint == Consent.YES
        now = self.clock()
        with self.db.transaction() as session:
            member = require_member(session, who)
            waiting = session.scalar(
                select(func.count(Report.id)).where(
                    Report.reporter_id == member.id, Report.state == PENDING
                )
            )
            if (waiting or 0) >= MAX_WAITING_REPORTS:
                raise Refusal(words.too_many_waiting())
            report = Report(
                jurisdiction=member.jurisdiction,
                state=PENDING,
                kind=_choice(draft.kind, ReportKind),
                plate_hash=self.sealer.keyed_hash(plate_key(plate)) if plate else None,
                plate_hint=hint(draft.plate) if plate and show_hint else None,
                phone_hash=self.sealer.keyed_hash(phone_key(phone)) if phone else None,
                phone_hint=phone[-3:] if phone and show_hint else None,
                vehicle=vehicle or None,
                description=description or None,
                area=area or None,
                happened=_choice(draft.happened, Happened),
                reporter_id=member.id,
                created_at=now,
            )
            session.add(report)
            session.flush()
            tell(session, self.policy, member, lambda r: Message(words.report_received()), now)
            for moderator in self._moderators(session, member.jurisdiction, member.id):
                tell(
                    session,
                    self.policy,
                    moderator,
                    lambda r: words.report_waiting_for_moderation(),
                    now,
                )

    def next_to_moderate(self, who: Identity) -> None:
        """`/moderate`: the oldest raid alert, else report, waiting in the caller's places."""
        now = self.clock()
        with self.db.transaction() as session:
            member = self._moderator(session, who, None)
            places = self._moderated_places(session, member)
            raid = session.scalar(
                select(Raid)
                .where(Raid.state == PENDING, Raid.jurisdiction.in_(places))
                .order_by(Raid.id)
            )
            if raid is not None:
                lines = words.raid_lines(raid.kind, raid.area, raid.happened)
                number = raid.id
                tell(
                    session,
                    self.policy,
                    member,
                    lambda r: words.raid_to_moderate(number, lines),
                    now,
                )
                return
            report = session.scalar(
                select(Report)
                .where(Report.state == PENDING, Report.jurisdiction.in_(places))
                .order_by(Report.id)
            )
            if report is None:
                tell(
                    session,
                    self.policy,
                    member,
                    lambda r: Message(words.nothing_to_moderate()),
                    now,
                )
                return
            self._show(session, member, report, now)

    def publish_report(self, who: Identity, number: int) -> None:
        """Publish: the link to the reporter goes, and verified members who want it are told."""
        now = self.clock()
        with self.db.transaction() as session:
            report, moderator = self._pending_report(session, who, number)
            place = effective(session, self.policy, report.jurisdiction)
            reporter = self._unlink(session, report)
            report.state, report.published_at = PUBLISHED, now
            report.expires_at = now + place.report_expiry
            self._audit(session, moderator, "report_published", report.jurisdiction, number)
            if reporter is not None:
                tell(
                    session,
                    self.policy,
                    reporter,
                    lambda r: Message(words.report_outcome(True)),
                    now,
                )
            tell(session, self.policy, moderator, lambda r: words.published(number), now)
            muted = set(session.scalars(select(ReportMute.member_id)))
            for reader in roles.members_with_any_role(session, READERS, report.jurisdiction):
                if (
                    reader.id in muted | {moderator.id}
                    or reader.jurisdiction != report.jurisdiction
                ):
                    continue
                tell(
                    session,
                    self.policy,
                    reader,
                    lambda r: words.new_report(report.jurisdiction, _lines(report)),
                    now,
                    dedupe_key=f"report{number}:{reader.id}",
                )

    def reject_report(self, who: Identity, number: int) -> None:
        """Reject: the report is deleted, with its link to the reporter."""
        now = self.clock()
        with self.db.transaction() as session:
            report, moderator = self._pending_report(session, who, number)
            reporter = self._unlink(session, report)
            self._audit(session, moderator, "report_rejected", report.jurisdiction, number)
            session.delete(report)
            if reporter is not None:
                tell(
                    session,
                    self.policy,
                    reporter,
                    lambda r: Message(words.report_outcome(False)),
                    now,
                )
            tell(session, self.policy, moderator, lambda r: words.rejected(number), now)

    def check_may_moderate(self, who: Identity, number: int) -> None:
        """Refuse before asking a moderator to type an edit or a question they could not save."""
        with self.db.transaction() as session:
            self._pending_report(session, who, number)

    def edit_report(self, who: Identity, number: int, description: str) -> None:
        """Replace the details' wording (to take out what could identify the reporter)."""
        description = bounded(description)
        with self.db.transaction() as session:
            report, moderator = self._pending_report(session, who, number)
            report.description = description or None
            self._audit(session, moderator, "report_edited", report.jurisdiction, number)
            self._show(session, moderator, report, self.clock())

    def ask_reporter(self, who: Identity, number: int, question: str) -> None:
        """One question to the reporter, through the bot: neither sees who the other is."""
        question = bounded(question)
        now = self.clock()
        with self.db.transaction() as session:
            report, moderator = self._pending_report(session, who, number)
            if report.question is not None:
                raise Refusal(words.already_decided())
            report.question = question
            self._audit(session, moderator, "report_question", report.jurisdiction, number)
            reporter = session.get(Member, report.reporter_id) if report.reporter_id else None
            if reporter is not None:
                tell(
                    session,
                    self.policy,
                    reporter,
                    lambda r: words.question_for_reporter(number, question),
                    now,
                )
            tell(session, self.policy, moderator, lambda r: Message(words.question_sent()), now)

    def answer_question(self, who: Identity, number: int, answer: str | None) -> None:
        """The reporter answers the moderator's question. With None, only check they still
        may, before they are asked to type."""
        now = self.clock()
        with self.db.transaction() as session:
            member = require_member(session, who)
            report = session.get(Report, number, with_for_update=True)
            if (
                report is None
                or report.state != PENDING
                or report.reporter_id != member.id
                or report.question is None
                or report.answer is not None
            ):
                raise Refusal(words.already_decided())
            if answer is None:
                return
            report.answer = bounded(answer)
            tell(session, self.policy, member, lambda r: Message(words.answer_sent()), now)
            for moderator in self._moderators(session, report.jurisdiction, member.id):
                tell(session, self.policy, moderator, lambda r: words.answer_arrived(number), now)

    def withdraw_report(self, who: Identity, number: int) -> None:
        """A moderator takes a published report off the list."""
        now = self.clock()
        with self.db.transaction() as session:
            report, moderator = self._to_decide(session, who, Report, number, PUBLISHED)
            self._audit(session, moderator, "report_withdrawn", report.jurisdiction, number)
            session.delete(report)
            tell(session, self.policy, moderator, lambda r: Message(words.withdrawn(number)), now)

    # -- reading the list ------------------------------------------------------------------

    def screen(self, who: Identity, plate: str) -> list[str]:
        """The published reports a plate typed at /outcall matches, for a verified worker
        (nothing for anyone else). Reads only: nothing records that it ran."""
        try:
            folded = fold_plate(plate)
        except Refusal:
            return []
        with self.db.transaction() as session:
            member = require_member(session, who)
            if not self._reads_list(session, member):
                return []
            digest = self.sealer.keyed_hash(plate_key(folded))
            return [
                _lines(r) for r in self._published(session, member, Report.plate_hash == digest)
            ]

    def check(self, who: Identity, text: str) -> str:
        """`/check`: the reply for a plate or phone number, to be sent straight to the chat
        (never queued). Reads only: nothing records who checked what."""
        with self.db.transaction() as session:
            member = require_member(session, who)
            if not self._reads_list(session, member):
                raise Refusal(words.verified_only())
            digests = self._digests(text)
            matches = [
                _lines(r)
                for r in self._published(
                    session,
                    member,
                    or_(Report.plate_hash.in_(digests), Report.phone_hash.in_(digests)),
                )
            ]
        return words.check_match(matches) if matches else words.check_clear()

    def warnings(self, who: Identity) -> tuple[str, bool]:
        """`/warnings`: the newest published reports of the member's place, and whether
        they muted messages about new ones."""
        with self.db.transaction() as session:
            member = require_member(session, who)
            if not self._reads_list(session, member):
                raise Refusal(words.verified_only())
            shown = [_lines(r) for r in self._published(session, member, None)][:SHOWN_IN_LIST]
            muted = session.get(ReportMute, member.id) is not None
            return words.warnings_screen(member.jurisdiction, shown), muted

    def set_pushes(self, who: Identity, on: bool) -> None:
        """Turn messages about new reports on (the default) or off."""
        now = self.clock()
        with self.db.transaction() as session:
            member = require_member(session, who)
            if not self._reads_list(session, member):
                raise Refusal(words.verified_only())
            mute = session.get(ReportMute, member.id)
            if on and mute is not None:
                session.delete(mute)
            elif not on and mute is None:
                session.add(ReportMute(member_id=member.id))
            tell(session, self.policy, member, lambda r: words.pushes_changed(on), now)

    # -- raid alerts -------------------------------------------------------------------------

    def submit_raid(self, who: Identity, kind: str, area: str, happened: str) -> None:
        """A member's raid alert: published at once from an admin, responder or moderator,
        otherwise sent to the moderators with a one-tap Publish."""
        area = area_in_words(area) if area else ""
        raid_kind = _choice(kind, RaidKind)
        if not (raid_kind or area):
            raise Refusal(words.raid_empty())
        now = self.clock()
        with self.db.transaction() as session:
            member = require_member(session, who)
            trusted = roles.has_any_role(session, member.id, RAID_PUBLISHERS, member.jurisdiction)
            if not trusted:
                waiting = session.scalar(
                    select(func.count(Raid.id)).where(
                        Raid.reporter_id == member.id, Raid.state == PENDING
                    )
                )
                if (waiting or 0) >= MAX_WAITING_RAIDS:
                    raise Refusal(words.too_many_raids())
            raid = Raid(
                jurisdiction=member.jurisdiction,
                state=PENDING,
                kind=raid_kind,
                area=area or None,
                happened=_choice(happened, Happened),
                reporter_id=member.id,
                created_at=now,
            )
            session.add(raid)
            session.flush()
            if trusted:
                self._send_raid(session, raid, member, now)
                tell(session, self.policy, member, lambda r: words.raid_published(raid.id), now)
                return
            tell(session, self.policy, member, lambda r: Message(words.raid_received()), now)
            number, lines = raid.id, words.raid_lines(raid.kind, raid.area, raid.happened)
            for moderator in self._moderators(session, member.jurisdiction, member.id):
                tell(
                    session,
                    self.policy,
                    moderator,
                    lambda r: words.raid_to_moderate(number, lines),
                    now,
                )

    def publish_raid(self, who: Identity, number: int) -> None:
        now = self.clock()
        with self.db.transaction() as session:
            raid, moderator = self._to_decide(session, who, Raid, number, PENDING)
            self._send_raid(session, raid, moderator, now)
            tell(session, self.policy, moderator, lambda r: words.raid_published(number), now)

    def reject_raid(self, who: Identity, number: int) -> None:
        now = self.clock()
        with self.db.transaction() as session:
            raid, moderator = self._to_decide(session, who, Raid, number, PENDING)
            self._audit(session, moderator, "raid_rejected", raid.jurisdiction, number, "raid")
            session.delete(raid)
            tell(
                session, self.policy, moderator, lambda r: Message(words.raid_rejected(number)), now
            )

    def withdraw_raid(self, who: Identity, number: int) -> None:
        """Take a raid alert back (whoever may publish one may): everyone who got it gets a
        short notice."""
        now = self.clock()
        with self.db.transaction() as session:
            raid, moderator = self._to_decide(
                session, who, Raid, number, PUBLISHED, RAID_PUBLISHERS
            )
            place = raid.jurisdiction
            got = session.scalars(
                select(Member)
                .join(RaidDelivery, RaidDelivery.member_id == Member.id)
                .where(RaidDelivery.raid_id == raid.id)
            ).all()
            for member in got:
                tell(
                    session,
                    self.policy,
                    member,
                    lambda r: words.raid_withdrawn_notice(place),
                    now,
                    dedupe_key=f"raidwd{number}:{member.id}",
                )
            self._audit(session, moderator, "raid_withdrawn", place, number, "raid")
            session.delete(raid)
            tell(
                session,
                self.policy,
                moderator,
                lambda r: Message(words.raid_withdrawn(number)),
                now,
            )

    # -- expiry --------------------------------------------------------------------------------

    def expire(self) -> int:
        """Delete published reports and raid alerts past their time, and raid alerts that
        waited for a moderator longer than a raid alert would have stood.

        It deletes only when something is due: a delete of these tables is a write the
        scrubber rewrites the files for (`storage.scrub`), so an idle list costs nothing."""
        now = self.clock()
        with self.db.transaction() as session:
            due: list[Report | Raid] = [
                *session.scalars(
                    select(Report).where(Report.expires_at.is_not(None), Report.expires_at <= now)
                ),
                *session.scalars(
                    select(Raid).where(Raid.expires_at.is_not(None), Raid.expires_at <= now)
                ),
            ]
            for raid in session.scalars(select(Raid).where(Raid.state == PENDING)).all():
                if raid.created_at + self.policy.jurisdiction(raid.jurisdiction).raid_expiry <= now:
                    due.append(raid)
            for item in due:
                session.delete(item)
            return len(due)

    # -- helpers ---------------------------------------------------------------------------

    def _show(self, session: Session, moderator: Member, report: Report, now: datetime) -> None:
        """A waiting report as its moderators see it, with what they can do about it."""
        number, question, answer = report.id, report.question, report.answer

        def build(r: object) -> Message:
            return words.report_to_moderate(number, _lines(report), question, answer)

        tell(session, self.policy, moderator, build, now)

    def _send_raid(self, session: Session, raid: Raid, by: Member, now: datetime) -> None:
        """Publish a raid alert to the verified members of its place, and remember who got it."""
        place = effective(session, self.policy, raid.jurisdiction)
        raid.state, raid.published_at = PUBLISHED, now
        raid.expires_at = now + place.raid_expiry
        raid.reporter_id = None
        self._audit(session, by, "raid_published", raid.jurisdiction, raid.id, "raid")
        lines = (raid.kind, raid.area, raid.happened)
        for reader in roles.members_with_any_role(session, READERS, raid.jurisdiction):
            if reader.jurisdiction != raid.jurisdiction or reader.id == by.id:
                continue
            session.add(RaidDelivery(raid_id=raid.id, member_id=reader.id))
            tell(
                session,
                self.policy,
                reader,
                lambda r: words.raid_alert(raid.jurisdiction, words.raid_lines(*lines)),
                now,
                dedupe_key=f"raid{raid.id}:{reader.id}",
            )

    def _digests(self, text: str) -> list[bytes]:
        """The keyed hashes a /check of `text` compares: as a plate, and as a phone number
        when it could be one. Refused when it is neither."""
        keys = []
        for fold, key in ((fold_plate, plate_key), (fold_phone, phone_key)):
            try:
                keys.append(key(fold(text)))
            except Refusal:
                continue
        if not keys:
            raise Refusal(words.check_how())
        return [self.sealer.keyed_hash(k) for k in keys]

    def _published(self, session: Session, member: Member, match: object) -> list[Report]:
        query = select(Report).where(
            Report.state == PUBLISHED,
            Report.jurisdiction == member.jurisdiction,
            Report.expires_at > self.clock(),
        )
        if match is not None:
            query = query.where(match)  # type: ignore[arg-type]
        return list(session.scalars(query.order_by(Report.id.desc())))

    def _reads_list(self, session: Session, member: Member) -> bool:
        return roles.has_any_role(session, member.id, READERS, member.jurisdiction)

    def _moderators(self, session: Session, place: str, except_id: int) -> list[Member]:
        return [
            m for m in roles.members_with_any_role(session, MODERATORS, place) if m.id != except_id
        ]

    def _moderator(
        self,
        session: Session,
        who: Identity,
        place: str | None,
        kinds: tuple[str, ...] = MODERATORS,
    ) -> Member:
        """The caller, if they hold one of `kinds` for `place` (or, with None, anywhere)."""
        member = require_member(session, who)
        if place is None:
            if not self._moderated_places(session, member, kinds):
                raise Refusal(words.moderators_only())
        elif not roles.has_any_role(session, member.id, kinds, place):
            raise Refusal(words.moderators_only())
        return member

    def _moderated_places(
        self, session: Session, member: Member, kinds: tuple[str, ...] = MODERATORS
    ) -> list[str]:
        held = {r.jurisdiction for r in roles.roles_of(session, member.id) if r.role in kinds}
        if roles.EVERYWHERE in held:
            return sorted(self.policy.sources)
        return sorted(held)

    def _pending_report(
        self, session: Session, who: Identity, number: int
    ) -> tuple[Report, Member]:
        return self._to_decide(session, who, Report, number, PENDING)

    def _to_decide(
        self,
        session: Session,
        who: Identity,
        kind: type[Item],
        number: int,
        state: str,
        kinds: tuple[str, ...] = MODERATORS,
    ) -> tuple[Item, Member]:
        """Report or raid alert `number`, locked, if it is still in `state`, and the caller
        if they may decide it. Someone who may moderate nowhere is told that first, so the
        refusal never says whether such an item exists."""
        item = session.get(kind, number, with_for_update=True)
        if item is None or item.state != state:
            self._moderator(session, who, None, kinds)
            raise Refusal(words.already_decided())
        return item, self._moderator(session, who, item.jurisdiction, kinds)

    def _unlink(self, session: Session, report: Report) -> Member | None:
        """Forget who reported (and the question and answer that could tell): returns the
        reporter, to be told the outcome in this same transaction."""
        reporter = session.get(Member, report.reporter_id) if report.reporter_id else None
        report.reporter_id = report.question = report.answer = None
        return reporter

    def _audit(
        self,
        session: Session,
        actor: Member,
        action: str,
        place: str,
        number: int,
        what: str = "report",
    ) -> None:
        """The action and the item's number: never its text, never who reported it."""
        session.add(
            AuditEntry(
                at=self.clock(),
                actor_id=actor.id,
                actor=actor.alias,
                action=action,
                jurisdiction=place,
                before=None,
                after={what: number},
            )
        )


def _lines(report: Report) -> str:
    return words.report_lines(
        words.ReportLines(
            kind=report.kind,
            plate_hint=report.plate_hint,
            phone_hint=report.phone_hint,
            has_plate=report.plate_hash is not None,
            has_phone=report.phone_hash is not None,
            vehicle=report.vehicle,
            description=report.description,
            area=report.area,
            happened=report.happened,
        )
    )
