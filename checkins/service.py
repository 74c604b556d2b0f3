"""What people can do: register, pair with buddies, start and end outcalls, answer alerts.

Each public method is one transaction that checks who is asking, changes state, and queues
every message the change causes. A request that cannot be done raises `Refusal` carrying a
sentence for the person (in their language) saying what was wrong and what to do instead.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum, auto
from itertools import pairwise
from typing import TypeVar

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from checkins import lifecycle, texts
from checkins.context import Context, Refusal, WrongPinRetry, require_member
from checkins.escalation import ladder_of, tell
from checkins.i18n import _, available_locales, language_name, ngettext
from checkins.jurisdictions import effective
from checkins.lifecycle import Event, Held, Protected, State, apply
from checkins.messages import Identity, Message, enqueue
from checkins.parsing import MAX_FIELD_CHARS, normalise, normalise_code, readable, resolve_due
from checkins.rewrap import rewrap_if_weaker
from checkins.sealing import Details, KdfCost, PinMatch, Sealer, WrongPin
from storage import queries, roles
from storage.tables import Alert, BuddyLink, Envelope, Invite, Member, Outcall, SealedKey

T = TypeVar("T")
PIN_MIN_DIGITS, PIN_MAX_DIGITS = 6, 12
ALIAS_MAX_CHARS = 32
_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
_CODE_LENGTH = 8


class TimeRefusal(Refusal):
    """The check-in time was unreadable or out of bounds: ask for the time again."""


@dataclass(frozen=True)
class MemberView:
    id: int
    alias: str
    locale: str
    timezone: str
    # "I'm safe" asks for the PIN (and so can recognise a duress PIN).
    checkin_pin: bool = False
    # Their keys were destroyed (a panic wipe): they must choose a new PIN first.
    needs_new_pin: bool = False


@dataclass(frozen=True)
class OutcallView:
    ref: str
    due_at: datetime
    state: State


@dataclass(frozen=True)
class AlertStatus:
    """What /status tells a worker whose outcall is alerting: who was alerted (buddies by
    name, anyone else only counted) and who, if anyone, is on it. Nothing sealed."""

    sos: bool
    buddies: list[str]
    others: int
    handler: str | None


@dataclass(frozen=True)
class AlertSubject:
    """Whom an alert is about; `duress`: contacting them could put them in danger."""

    alias: str
    duress: bool


@dataclass(frozen=True)
class PairingView:
    link_id: int
    other_alias: str
    i_am_worker: bool


class PinUse(Enum):
    """What a PIN is typed for. Check-in PINs have a lockout of their own (and a duress PIN
    is honoured even during it); unlocking details and changing settings share the other,
    since both guard the member's secret key."""

    CHECK_IN = auto()
    KEY = auto()


@dataclass(frozen=True)
class Unlocked:
    """Decrypted details, rendered for the recipient. Never written to the outbox or a log."""

    text: str
    visible_seconds: int


class CheckinService:
    """The domain's front door, used by every channel alike."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.db = ctx.db
        self.sealer = ctx.sealer
        self.policy = ctx.policy
        self.clock = ctx.clock
        self.invite_links: dict[str, str] = {}

    # -- members -------------------------------------------------------------------------

    def member(self, who: Identity) -> MemberView | None:
        with self.db.transaction() as session:
            member = queries.member_by_identity(session, who.channel, who.address)
            return self._view(member) if member else None

    def register(
        self,
        who: Identity,
        alias: str,
        pin: str,
        locale: str | None = None,
        place: str | None = None,
    ) -> MemberView:
        """Create a member with a fresh key pair wrapped under their PIN, in `place` (the
        place they picked; the default place when there is only one or none was given)."""
        alias = check_alias(alias)
        check_pin(pin)
        keys = self.sealer.new_key_pair(pin)
        jurisdiction = self.policy.jurisdiction(place or self.policy.default_jurisdiction)
        now = self.clock()
        with self.db.transaction() as session:
            if queries.member_by_identity(session, who.channel, who.address):
                raise Refusal(_("You are already registered. Send /help to see what you can do."))
            member = Member(
                channel=who.channel,
                address=who.address,
                alias=alias,
                locale=locale or jurisdiction.locale,
                jurisdiction=jurisdiction.id,
                public_key=keys.public_key,
                wrapped_secret=keys.wrapped_secret,
                kdf_salt=keys.salt,
                kdf_ops=keys.cost.ops,
                kdf_mem=keys.cost.mem,
                pin_failures=0,
                created_at=now,
            )
            session.add(member)
            session.flush()
            tell(session, self.policy, member, lambda r: texts.registered(alias), now)
            return self._view(member)

    def set_locale(self, who: Identity, locale: str) -> MemberView:
        """Speak to this person in `locale` from now on; they are told so in that language."""
        if locale not in available_locales():
            choices = ", ".join(language_name(known) for known in available_locales())
            raise Refusal(
                _("I can't speak that language yet. I can speak: {languages}.").format(
                    languages=choices
                )
            )
        now = self.clock()
        with self.db.transaction() as session:
            member = require_member(session, who)
            member.locale = locale
            tell(
                session,
                self.policy,
                member,
                # TRANSLATORS: name your own language here instead of English.
                lambda r: Message(_("Done. I will write to you in English from now on.")),
                now,
            )
            return self._view(member)

    def reply(self, who: Identity, message: Message) -> None:
        """Queue a conversational reply (a prompt, a help text, a refusal) to anyone."""
        now = self.clock()
        with self.db.transaction() as session:
            member = queries.member_by_identity(session, who.channel, who.address)
            enqueue(session, member or who, message, now)

    # -- buddies -------------------------------------------------------------------------

    def create_invite(self, who: Identity) -> str:
        """A one-time code the worker gives to someone they want as a buddy."""
        now = self.clock()
        limits = self.policy.limits
        code = "".join(secrets.choice(_CODE_ALPHABET) for _i in range(_CODE_LENGTH))
        with self.db.transaction() as session:
            worker = require_member(session, who)
            if queries.count_buddies(session, worker.id) >= limits.max_buddies:
                raise Refusal(self._too_many_buddies())
            session.add(
                Invite(
                    code_hash=self.sealer.keyed_hash(code),
                    worker_id=worker.id,
                    expires_at=now + limits.invite_ttl,
                )
            )
            shown = f"{code[:4]}-{code[4:]}"
            link = self.invite_links.get(worker.channel, "").format(code=code) or None
            expires = now + limits.invite_ttl
            tell(
                session,
                self.policy,
                worker,
                lambda r: texts.invite_created(shown, r.on(expires), link),
                now,
            )
        return code

    def accept_invite(self, who: Identity, code: str) -> None:
        """Become the buddy of whoever made `code`. Unknown, used and expired codes look alike."""
        now = self.clock()
        invalid = Refusal(
            _(
                "That code doesn't work. It may be mistyped, used already, or expired. "
                "Ask your friend for a new one (they send /invite)."
            )
        )
        digest = self.sealer.keyed_hash(normalise_code(code))
        with self.db.transaction() as session:
            buddy = require_member(session, who)
            invite = session.scalar(select(Invite).where(Invite.code_hash == digest))
            if invite is None or invite.used_at is not None or invite.expires_at <= now:
                raise invalid
            if invite.worker_id == buddy.id:
                raise Refusal(_("That's your own code. Give it to the person you want as a buddy."))
            worker = session.get_one(Member, invite.worker_id)
            existing = session.scalar(
                select(BuddyLink).where(
                    BuddyLink.worker_id == worker.id, BuddyLink.buddy_id == buddy.id
                )
            )
            if existing:
                raise Refusal(_("You are already {alias}'s buddy.").format(alias=worker.alias))
            if queries.count_buddies(session, worker.id) >= self.policy.limits.max_buddies:
                raise Refusal(self._too_many_buddies())
            invite.used_at = now
            session.add(BuddyLink(worker_id=worker.id, buddy_id=buddy.id, created_at=now))
            worker_alias, buddy_alias = worker.alias, buddy.alias
            tell(
                session,
                self.policy,
                worker,
                lambda r: texts.buddy_added_for_worker(buddy_alias),
                now,
            )
            tell(
                session,
                self.policy,
                buddy,
                lambda r: texts.buddy_added_for_buddy(worker_alias),
                now,
            )

    def has_buddy(self, who: Identity) -> bool:
        """Whether an outcall could alert anyone: the worker has at least one buddy."""
        with self.db.transaction() as session:
            worker = require_member(session, who)
            return queries.count_buddies(session, worker.id) > 0

    def pairings(self, who: Identity) -> list[PairingView]:
        with self.db.transaction() as session:
            member = require_member(session, who)
            return [
                PairingView(
                    link_id=link.id,
                    other_alias=(buddy if worker.id == member.id else worker).alias,
                    i_am_worker=worker.id == member.id,
                )
                for link, worker, buddy in queries.links_of(session, member.id)
            ]

    def end_pairing(self, who: Identity, link_id: int) -> None:
        """Either side ends a pairing; the buddy loses access to the worker's open outcalls."""
        now = self.clock()
        with self.db.transaction() as session:
            member = require_member(session, who)
            link = session.get(BuddyLink, link_id)
            if link is None or member.id not in (link.worker_id, link.buddy_id):
                raise Refusal(_("That buddy link no longer exists. Send /buddies to see yours."))
            worker = session.get_one(Member, link.worker_id)
            buddy = session.get_one(Member, link.buddy_id)
            if (
                member.id == worker.id
                and worker.checkin_pin
                and queries.open_outcall(session, worker.id)
            ):
                raise Refusal(texts.protected_while_running())
            session.delete(link)
            self._drop_from_open_outcalls(session, worker, buddy, by_worker=member.id == worker.id)
            worker_alias, buddy_alias = worker.alias, buddy.alias
            tell(session, self.policy, worker, lambda r: texts.pairing_ended(buddy_alias), now)
            tell(session, self.policy, buddy, lambda r: texts.pairing_ended(worker_alias), now)

    def _drop_from_open_outcalls(
        self, session: Session, worker: Member, buddy: Member, *, by_worker: bool
    ) -> None:
        """A former buddy can neither read nor settle the worker's open outcalls: their
        sealed copies and their place among the alerted go with the pairing. Except that
        the worker's own chat can't take helpers off an SOS or duress outcall (whoever holds
        the phone could silence it that way): there the buddy stays until it is settled."""
        now = self.clock()
        open_ones = session.scalars(
            select(Outcall)
            .where(Outcall.worker_id == worker.id, Outcall.state.in_(queries.OPEN))
            .with_for_update()
        ).all()
        for outcall in open_ones:
            if by_worker and lifecycle.is_protected(outcall):
                continue
            for table in (SealedKey, Alert):
                session.execute(
                    delete(table).where(table.member_id == buddy.id, table.outcall_id == outcall.id)
                )
            if outcall.acknowledged_by_id == buddy.id:
                apply(session, self.policy, outcall, Event.RELEASE, now)

    # -- the worker's outcall ------------------------------------------------------------

    def start_outcall(
        self,
        who: Identity,
        plate: str,
        address: str,
        notes: str,
        due_text: str,
        report_match: bool = False,
        location: str = "",
    ) -> OutcallView:
        """Seal the details to the worker's buddies and start watching the check-in time.

        `report_match`: the plate matched a warning and the worker chose to go; an alert,
        if one fires, says so. A shared `location` (`lat,lon`) may stand for the address or
        come with it. The plate is kept in capitals, as plates are written, however it was
        typed."""
        plate, address, notes = check_field(plate).upper(), check_field(address), check_field(notes)
        if not plate or not (address or location):
            raise Refusal(_("I need both the car plate and the address."))
        now = self.clock()
        with self.db.transaction() as session:
            worker = require_member(session, who)
            jurisdiction = effective(session, self.policy, worker.jurisdiction)
            due = self.due_from(due_text, now, jurisdiction.timezone)
            if queries.open_outcall(session, worker.id):
                raise Refusal(
                    _(
                        "You already have an outcall running. Send SAFE or /cancel "
                        "to end it before starting a new one."
                    )
                )
            buddies = queries.buddies_of(session, worker.id)
            if not buddies:
                raise Refusal(texts.no_buddy_for_outcall())
            ladder = jurisdiction.ladder
            responders = (
                [r for r in roles.responders_on_duty(session, jurisdiction.id) if r.id != worker.id]
                if ladder.seal_to_responders
                else []
            )
            recipients = {m.id: m.public_key for m in [*buddies, *responders] if m.wrapped_secret}
            sealed = Sealer.seal(Details(plate, address, notes, location), recipients)
            outcall = lifecycle.begin(session, worker, jurisdiction, due, now)
            outcall.report_match = report_match
            session.add(Envelope(outcall_id=outcall.id, ciphertext=sealed.envelope))
            for member_id, key in sealed.sealed_keys.items():
                session.add(SealedKey(outcall_id=outcall.id, member_id=member_id, sealed=key))
            names = [b.alias for b in buddies]
            ref, left = outcall.ref, due - now
            tell(
                session,
                self.policy,
                worker,
                lambda r: texts.outcall_started(
                    ref, r.at(due), texts.span(left), names, responders=bool(responders)
                ),
                now,
                outcall=outcall,
            )
            return OutcallView(outcall.ref, due, State.ACTIVE)

    def due_from(self, due_text: str, now: datetime, timezone: str) -> datetime:
        """The check-in time from what the worker typed, within the configured bounds."""
        due = resolve_due(due_text, now, timezone)
        limits = self.policy.limits
        if due is None:
            # Never quote what was typed: it may be a note or an address in the wrong slot.
            raise TimeRefusal(
                _(
                    "I couldn't read that as a time. Send how long, like 90m or 2h, "
                    "or the time you'll be done, like 23:30."
                )
            )
        if due - now < limits.min_duration:
            raise TimeRefusal(
                _("That's too soon. Choose at least {span}.").format(
                    span=texts.span(limits.min_duration)
                )
            )
        if due - now > limits.max_duration:
            raise TimeRefusal(
                _("That's too far ahead. The longest is {span}.").format(
                    span=texts.span(limits.max_duration)
                )
            )
        return due

    def check_in(self, who: Identity, ref: str | None = None, pin: str | None = None) -> None:
        """ "I'm safe": end the outcall and destroy its details; tell anyone already alerted.

        With the check-in PIN on, `pin` decides. The PIN checks in. The duress PIN gives the
        very same reply while the outcall silently escalates as SOS (someone may be forcing
        the worker to check in). Anything else counts toward the PIN lockout and ends nothing.
        """
        match = self._match_checkin_pin(who, pin) if pin is not None else None
        now = self.clock()
        with self.db.transaction() as session:
            worker = require_member(session, who)
            outcall = self._own_outcall(session, worker, ref)
            if worker.checkin_pin and match is None:
                raise Refusal(_("Send your PIN to check in."))
            late = outcall.state != State.ACTIVE
            event = Event.DURESS if match is PinMatch.DURESS else Event.CHECK_IN
            outcome = apply(session, self.policy, outcall, event, now)
            if outcome.event is Event.UNVERIFIED:
                self._tell_sos_stays_open(session, worker, outcome.told, now)
                return
            alerted = outcome.alerted
            if event is Event.CHECK_IN:
                self._tell_ended(session, outcall, worker.alias, alerted, "checked_in", None, now)
            # Sent even under duress (no `outcall=`): it must read exactly like a check-in.
            tell(
                session,
                self.policy,
                worker,
                lambda r: texts.checked_in(late and bool(alerted)),
                now,
            )

    def cancel(self, who: Identity, ref: str | None = None) -> None:
        """End the outcall unchecked. Refused with the check-in PIN on: whoever holds the
        phone could otherwise silence the alerts without it (the PIN ends it via `check_in`)."""
        now = self.clock()
        with self.db.transaction() as session:
            worker = require_member(session, who)
            outcall = self._own_outcall(session, worker, ref)
            if worker.checkin_pin:
                raise Refusal(_("Send your PIN to check in."))
            outcome = apply(session, self.policy, outcall, Event.CANCEL, now)
            if outcome.event is Event.UNVERIFIED:
                self._tell_sos_stays_open(session, worker, outcome.told, now)
                return
            tell(session, self.policy, worker, lambda r: texts.cancelled(), now)
            self._tell_ended(
                session, outcall, worker.alias, outcome.alerted, "checked_in", None, now
            )

    def extend(self, who: Identity, minutes: int, ref: str | None = None) -> datetime:
        """More time: move the check-in later (within the cap); alerts already out stand down."""
        now = self.clock()
        with self.db.transaction() as session:
            worker = require_member(session, who)
            outcall = self._own_outcall(session, worker, ref)
            ladder = ladder_of(outcall)
            cap = int(ladder.max_extension.total_seconds() // 60)
            if minutes <= 0 or outcall.extended_minutes + minutes > cap:
                left = max(0, cap - outcall.extended_minutes)
                raise Refusal(
                    ngettext(
                        "You can only add {n} more minute to this outcall.",
                        "You can only add {n} more minutes to this outcall.",
                        left,
                    ).format(n=left)
                    + " "
                    + _("Send SAFE when you're out, or start a new /outcall.")
                )
            try:
                outcome = apply(session, self.policy, outcall, Event.EXTEND, now, minutes=minutes)
            except Protected:
                raise Refusal(texts.sos_cannot_be_extended()) from None
            due, ref_, alias = outcall.due_at, outcall.ref, worker.alias
            tell(session, self.policy, worker, lambda r: texts.extended(ref_, r.at(due)), now)
            for member in outcome.alerted:
                tell(
                    session,
                    self.policy,
                    member,
                    lambda r: texts.stand_down(alias, r.at(due)),
                    now,
                    outcall=outcall,
                )
            return due

    def sos(self, who: Identity) -> None:
        """Alert buddies (and responders) now, with or without an outcall running."""
        now = self.clock()
        with self.db.transaction() as session:
            worker = require_member(session, who)
            outcall = queries.open_outcall(session, worker.id, lock=True)
            if outcall is None:  # an SOS without a booking still needs a record to settle
                jurisdiction = effective(session, self.policy, worker.jurisdiction)
                outcall = lifecycle.begin(session, worker, jurisdiction, now, now)
            apply(session, self.policy, outcall, Event.SOS, now)
            buddy_ids = {b.id for b in queries.buddies_of(session, worker.id)}
            alerted = [m.id for m in queries.alerted_members(session, outcall)]
            buddies = sum(1 for i in alerted if i in buddy_ids)
            others = len(alerted) - buddies
            tell(
                session,
                self.policy,
                worker,
                lambda r: texts.sos_sent(buddies, others),
                now,
                outcall=outcall,
            )

    # -- answering an alert --------------------------------------------------------------

    def acknowledge(self, who: Identity, ref: str) -> None:
        """ "I'm on it": this person takes the alert; the others are told; the ladder waits."""
        now = self.clock()
        with self.db.transaction() as session:
            member = require_member(session, who)
            outcall = self._alerted_outcall(session, member, ref)
            worker = session.get_one(Member, outcall.worker_id)
            alias, handler = worker.alias, member.alias
            held = outcall.state == State.ACKNOWLEDGED and outcall.acknowledged_by_id == member.id
            try:
                apply(session, self.policy, outcall, Event.ACKNOWLEDGE, now, by=member)
            except Held as taken:
                owner = session.get_one(Member, taken.owner_id).alias
                raise Refusal(texts.already_handled(owner, alias)) from None
            deadline = outcall.next_action_at or now
            sealed = queries.holds_sealed_copy(session, outcall, member.id)
            relay = not outcall.duress and worker.departed_at is None  # see checkins/relay.py
            tell(
                session,
                self.policy,
                member,
                lambda r: texts.acknowledged_by_you(
                    outcall.ref, alias, r.at(deadline), sealed, relay=relay
                ),
                now,
                outcall=outcall,
            )
            for other in queries.alerted_members(session, outcall):
                if other.id != member.id and not held:
                    tell(
                        session,
                        self.policy,
                        other,
                        lambda r: texts.acknowledged_by_other(handler, alias),
                        now,
                        outcall=outcall,
                    )

    def confirm_safe(self, who: Identity, ref: str) -> None:
        """A recipient confirms the worker is safe: it ends, and everyone alerted hears so."""
        now = self.clock()
        with self.db.transaction() as session:
            member = require_member(session, who)
            outcall = self._alerted_outcall(session, member, ref)
            worker = session.get_one(Member, outcall.worker_id)
            alerted = apply(session, self.policy, outcall, Event.CONFIRM_SAFE, now).alerted
            by = member.alias
            tell(
                session,
                self.policy,
                worker,
                lambda r: texts.confirmed_safe_for_worker(by),
                now,
                outcall=outcall,  # so a duress outcall stays silent in the worker's chat
            )
            others = [m for m in alerted if m.id != member.id]
            self._tell_ended(session, outcall, worker.alias, others, "confirmed", by, now)
            self._tell_ended(session, outcall, worker.alias, [member], "confirmed_by_you", by, now)

    def unlock(self, who: Identity, ref: str, pin: str) -> Unlocked:
        """Open an alert's sealed details with the recipient's PIN (rate-limited, locked out)."""
        now = self.clock()
        with self.db.transaction() as session:
            member = require_member(session, who)
            self.check_not_locked(member, now, PinUse.KEY)
            self._sealed_copy(session, member, ref)
            secret = wrapped_key(member)
        private = self.checked_pin(who, now, lambda: self.sealer.unwrap(pin, *secret))
        # Argon2id took a while: the worker may have checked in, or removed this buddy, since.
        with self.db.transaction() as session:
            member = require_member(session, who)
            worker_alias, envelope, sealed = self._sealed_copy(session, member, ref)
        details = Sealer.open(envelope, sealed, private)
        rewrap_if_weaker(self.ctx, who, pin, private)
        visible = self.policy.limits.unlocked_details_visible
        return Unlocked(
            texts.unlocked(worker_alias, details, visible), int(visible.total_seconds())
        )

    def check_may_unlock(self, who: Identity) -> None:
        """Before the PIN is asked for: refused at once while unlocking is paused, saying
        until when, so nobody types a PIN only to hear it could not have worked."""
        with self.db.transaction() as session:
            self.check_not_locked(require_member(session, who), self.clock(), PinUse.KEY)

    def _sealed_copy(self, session: Session, member: Member, ref: str) -> tuple[str, bytes, bytes]:
        """The worker's alias, the envelope and this member's sealed copy of its key, if the
        alert is still live and they may still read it."""
        outcall = self._alerted_outcall(session, member, ref)
        envelope = session.get(Envelope, outcall.id)
        sealed = session.get(SealedKey, {"outcall_id": outcall.id, "member_id": member.id})
        if envelope is None or sealed is None:
            raise Refusal(
                _(
                    "There are no sealed details you can open for this alert "
                    "(it was an SOS, or you became a buddy after it started)."
                )
            )
        worker_alias = session.get_one(Member, outcall.worker_id).alias
        return worker_alias, envelope.ciphertext, sealed.sealed

    def open_alerts(self, who: Identity) -> list[OutcallView]:
        """Alerts this person could act on right now, newest first."""
        with self.db.transaction() as session:
            member = require_member(session, who)
            return [
                OutcallView(o.ref, o.due_at, State(o.state))
                for o in queries.open_alerts_for(session, member.id)
            ]

    def current_outcall(self, who: Identity) -> OutcallView | None:
        with self.db.transaction() as session:
            member = require_member(session, who)
            outcall = queries.open_outcall(session, member.id)
            return (
                OutcallView(outcall.ref, outcall.due_at, State(outcall.state)) if outcall else None
            )

    def alert_status(self, who: Identity, ref: str) -> AlertStatus | None:
        """Who has been alerted about this person's own outcall, and who is on it; None
        while it is not alerting (or is not theirs)."""
        with self.db.transaction() as session:
            member = require_member(session, who)
            outcall = queries.open_outcall(session, member.id)
            if outcall is None or outcall.ref != ref or not State(outcall.state).is_alerting:
                return None
            buddy_ids = {buddy.id for buddy in queries.buddies_of(session, member.id)}
            alerted = queries.alerted_members(session, outcall)
            handler = outcall.acknowledged_by_id
            return AlertStatus(
                sos=outcall.sos,
                buddies=[m.alias for m in alerted if m.id in buddy_ids],
                others=sum(m.id not in buddy_ids for m in alerted),
                handler=session.get_one(Member, handler).alias if handler else None,
            )

    def alerted_about(self, who: Identity, ref: str) -> AlertSubject:
        """Whom an alert of this person's is about, to name them in a question (and whether
        contacting them could endanger them); refused when the alert is closed or not theirs."""
        with self.db.transaction() as session:
            member = require_member(session, who)
            outcall = self._alerted_outcall(session, member, ref)
            worker = session.get_one(Member, outcall.worker_id)
            return AlertSubject(worker.alias, outcall.duress)

    # -- helpers -------------------------------------------------------------------------

    def _view(self, member: Member) -> MemberView:
        timezone = self.policy.jurisdiction(member.jurisdiction).timezone
        return MemberView(
            member.id,
            member.alias,
            member.locale,
            timezone,
            checkin_pin=member.checkin_pin,
            needs_new_pin=not member.wrapped_secret,
        )

    def _own_outcall(self, session: Session, worker: Member, ref: str | None) -> Outcall:
        outcall = queries.open_outcall(session, worker.id, lock=True)
        if outcall is None:
            raise Refusal(_("You have no outcall running. Send /outcall to start one."))
        if ref is not None and outcall.ref != ref:
            # A button of an earlier outcall (or a forged one): the running one is untouched.
            raise Refusal(
                _(
                    "That button is not for the outcall you have running now, so I did "
                    "nothing. Your outcall is still running: send /status to see it."
                )
            )
        return outcall

    def _alerted_outcall(self, session: Session, member: Member, ref: str) -> Outcall:
        """The outcall behind an alert button, if this member was alerted and it is still live."""
        outcall = queries.outcall_by_ref(session, ref, lock=True)
        if (
            outcall is None
            or not State(outcall.state).is_alerting
            or not queries.is_alerted(session, outcall, member.id)
        ):
            raise Refusal(_("This alert is no longer active. Nothing more to do here."))
        return outcall

    def _tell_sos_stays_open(
        self, session: Session, worker: Member, told: int, now: datetime
    ) -> None:
        """The worker said they are safe while an SOS is open: only a buddy or responder
        ends it, so the worker hears that the buddies were asked to confirm."""
        tell(session, self.policy, worker, lambda r: texts.sos_stays_open(told > 0), now)

    def _tell_ended(
        self,
        session: Session,
        outcall: Outcall,
        worker_alias: str,
        alerted: list[Member],
        how: str,
        by: str | None,
        now: datetime,
    ) -> None:
        for member in alerted:
            tell(
                session,
                self.policy,
                member,
                lambda r: texts.ended_for_alerted(worker_alias, how, by),
                now,
                outcall=outcall,
            )

    def _match_checkin_pin(self, who: Identity, pin: str) -> PinMatch:
        """The PIN, the duress PIN, or a refusal (locked out, or wrong: counted).

        The duress PIN is honoured even during a check-in lockout: someone forcing the
        worker must never be able to block it by typing wrong PINs first. The real PIN is
        not, so the lockout still stops guessing. Argon2id runs outside any transaction.
        """
        now = self.clock()
        with self.db.transaction() as session:
            member = require_member(session, who)
            locked = self._locked_until(member, now, PinUse.CHECK_IN)
            secret, duress, place = wrapped_key(member), member.duress_verifier, member.jurisdiction
        match = self.sealer.match_pin(pin, *secret, duress)
        if match is PinMatch.DURESS:
            return match
        if locked is not None:
            raise self._lockout_refusal(locked, place, PinUse.CHECK_IN)
        if match is PinMatch.WRONG:
            raise self._record_wrong_pin(who, now, PinUse.CHECK_IN)
        self._reset_pin_failures(who, PinUse.CHECK_IN)
        rewrap_if_weaker(self.ctx, who, pin)
        return match

    def checked_pin(
        self, who: Identity, now: datetime, attempt: Callable[[], T], use: PinUse = PinUse.KEY
    ) -> T:
        """Run a PIN check (`attempt` raises `WrongPin`) outside any transaction, so a slow
        Argon2id never holds a lock. A wrong PIN counts toward the lockout and becomes the
        refusal to show; a right one clears the count. The caller checked the lockout."""
        try:
            result = attempt()
        except WrongPin:
            raise self._record_wrong_pin(who, now, use) from None
        self._reset_pin_failures(who, use)
        return result

    def check_not_locked(self, member: Member, now: datetime, use: PinUse = PinUse.KEY) -> None:
        locked = self._locked_until(member, now, use)
        if locked is not None:
            raise self._lockout_refusal(locked, member.jurisdiction, use)

    @staticmethod
    def _locked_until(member: Member, now: datetime, use: PinUse) -> datetime | None:
        until = member.checkin_locked_until if use is PinUse.CHECK_IN else member.pin_locked_until
        return until if until is not None and until > now else None

    def _lockout_refusal(self, until: datetime, jurisdiction: str, use: PinUse) -> Refusal:
        time = texts.clock(until, self.policy.jurisdiction(jurisdiction).timezone)
        if use is PinUse.CHECK_IN:
            return Refusal(texts.checkin_paused_until(time))
        return Refusal(
            _(
                "Too many wrong PINs. Unlocking is paused until {time}. "
                "If someone is in danger, act on the alert without the details."
            ).format(time=time)
        )

    def _record_wrong_pin(self, who: Identity, now: datetime, use: PinUse) -> Refusal:
        """Count a wrong PIN (locking out after too many) and return the refusal to show:
        `WrongPinRetry` while tries are left, so the question stays open for another try.

        Too many wrong check-in PINs while an outcall runs never count as safe: the
        outcall goes on, and the buddies are told quietly (nothing on the worker's screen
        says so) that someone may be trying to check in for the worker.
        """
        limits = self.policy.limits
        with self.db.transaction() as session:
            member = require_member(session, who)
            if use is PinUse.CHECK_IN:
                member.checkin_failures += 1
                left = limits.pin_attempts - member.checkin_failures
                if left <= 0:
                    member.checkin_failures = 0
                    member.checkin_locked_until = now + limits.pin_lockout
                    self._tell_buddies_pin_guessed(session, member, now)
            else:
                member.pin_failures += 1
                left = limits.pin_attempts - member.pin_failures
                if left <= 0:
                    member.pin_failures = 0
                    member.pin_locked_until = now + limits.pin_lockout
        if left <= 0:  # locked out: the question closes
            if use is PinUse.CHECK_IN:
                return Refusal(texts.wrong_checkin_pin(left, texts.span(limits.pin_lockout)))
            return Refusal(
                _("Wrong PIN. Too many tries: unlocking is paused for {span}.").format(
                    span=texts.span(limits.pin_lockout)
                )
            )
        if use is PinUse.CHECK_IN:
            return WrongPinRetry(texts.wrong_checkin_pin(left, texts.span(limits.pin_lockout)))
        return WrongPinRetry(
            ngettext(
                "Wrong PIN. {n} try left before unlocking is paused.",
                "Wrong PIN. {n} tries left before unlocking is paused.",
                left,
            ).format(n=left)
        )

    def _tell_buddies_pin_guessed(self, session: Session, worker: Member, now: datetime) -> None:
        outcall = queries.open_outcall(session, worker.id)
        if outcall is None:
            return
        alias = worker.alias
        for buddy in queries.buddies_of(session, worker.id):
            tell(
                session,
                self.policy,
                buddy,
                lambda r: texts.checkin_pin_guessed(alias),
                now,
                outcall=outcall,
                dedupe_key=f"o{outcall.id}:pin-guessed:{int(now.timestamp())}:m{buddy.id}",
            )

    def _reset_pin_failures(self, who: Identity, use: PinUse) -> None:
        with self.db.transaction() as session:
            member = require_member(session, who)
            if use is PinUse.CHECK_IN:
                member.checkin_failures = 0
            else:
                member.pin_failures = 0

    def _too_many_buddies(self) -> str:
        return _(
            "You already have the most buddies allowed ({n}). Remove one with /buddies."
        ).format(n=self.policy.limits.max_buddies)


def wrapped_key(member: Member) -> tuple[bytes, bytes, KdfCost]:
    """What `Sealer.unwrap` needs besides the PIN: the wrapped secret, its salt and cost."""
    return member.wrapped_secret, member.kdf_salt, KdfCost(member.kdf_ops, member.kdf_mem)


def check_alias(alias: str) -> str:
    """A nickname: 1–32 printable characters with one a person can read, not a phone number."""
    cleaned = normalise(alias)
    if not cleaned or len(cleaned) > ALIAS_MAX_CHARS:
        raise Refusal(_("Choose a nickname of 1 to {n} characters.").format(n=ALIAS_MAX_CHARS))
    if not readable(cleaned):
        raise Refusal(_("Choose a nickname with at least one letter, number or emoji."))
    if sum(ch.isdigit() for ch in cleaned) >= 6:
        raise Refusal(_("Please don't use a phone number. Choose a nickname instead."))
    return cleaned


def looks_like_full_name(alias: str) -> bool:
    """Two or more capitalised words of letters ("Maria Lopez"): perhaps a real name, which
    a nickname must not be (the membership list is plaintext). Only warned about: "Big Red"
    is a fine nickname."""
    words = alias.replace("-", " ").split()
    return len(words) >= 2 and all(
        len(word) >= 2 and word.isalpha() and word[0].isupper() and word[1:].islower()
        for word in words
    )


def check_pin(pin: str) -> None:
    """6–12 digits, not all the same digit and not a simple run like 123456."""
    if not (pin.isascii() and pin.isdigit()) or not PIN_MIN_DIGITS <= len(pin) <= PIN_MAX_DIGITS:
        raise Refusal(
            _("A PIN is {low} to {high} digits, numbers only. Please try again.").format(
                low=PIN_MIN_DIGITS, high=PIN_MAX_DIGITS
            )
        )
    steps = {int(b) - int(a) for a, b in pairwise(pin)}
    if steps in ({0}, {1}, {-1}):
        raise Refusal(_("That PIN is too easy to guess. Please choose another."))


def check_field(value: str) -> str:
    cleaned = normalise(value)
    if len(cleaned) > MAX_FIELD_CHARS:
        raise Refusal(
            _("That's too long. Please keep each part under {n} characters.").format(
                n=MAX_FIELD_CHARS
            )
        )
    return cleaned
