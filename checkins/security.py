"""A member's own safety settings: the check-in PIN, the duress PIN, changing or replacing
their PIN, ending a check-in they cannot prove, and deleting themselves.

Every PIN is checked outside any transaction (Argon2id is slow on purpose). A duress PIN
typed anywhere but a check-in counts as a wrong PIN: only "I'm safe" may act on it, so that it
always looks the same as the real PIN to whoever is watching. Nothing here ever says whether
a duress PIN exists: the settings screen and every reply read the same either way.

**Checking in without the PIN** (locked out, or forgotten). An "I'm safe" nobody can verify
must neither silence the alerts (an abuser with the phone could then stop them) nor trap a
real worker until the ladder runs out. So it does not end the outcall: it asks the buddies
now to confirm the worker is safe, with the details still sealed to them, and tells the
worker so honestly. A buddy's "is safe" ends it; if nobody answers, the ladder carries on.
For the same reason "forgot my PIN" is refused while the worker's own outcall is running.

**A forgotten PIN costs more than holding the phone.** "I forgot my PIN" starts a cooling-off
period (`[security] pin_reset_cooling_off`): the member's buddies and the workers who rely on
them are told at once and the member can stop it; their old keys work until it ends, and
deleting the account or turning the check-in PIN off is refused meanwhile. Only then are the
old keys destroyed and a new PIN asked for; the workers are told again when the new keys exist.

**Deleting an account with an SOS open.** The SOS must still reach someone, so the chat is
detached at once (it reads "deleted" like any other deletion) but the row, its buddy links and
the outcall stay until a buddy or responder settles it; `housekeeping` then deletes the rest.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from nacl.public import PrivateKey
from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from checkins import lifecycle, texts
from checkins.context import Refusal, require_member
from checkins.escalation import tell
from checkins.i18n import _
from checkins.lifecycle import Event, apply
from checkins.messages import Identity, Message
from checkins.rewrap import rewrap_if_weaker
from checkins.sealing import KdfCost, WrappedKeyPair
from checkins.service import CheckinService, PinUse, check_pin, wrapped_key
from storage import outbox, queries
from storage.scrub import forget_old_pages
from storage.tables import BuddyLink, Member, OutboxMessage, Outcall, SealedKey

# The channel of a member who asked to be deleted while an SOS of theirs was open.
DEPARTED = "departed"


@dataclass(frozen=True)
class SecuritySettings:
    checkin_pin: bool
    # When a requested PIN reset takes effect, shown in the member's timezone; None if none.
    reset_at: str | None


class SecurityService:
    """Settings that need the member's PIN. Shares the check-in service's lockout."""

    def __init__(self, checkins: CheckinService) -> None:
        self.checkins = checkins
        self.db = checkins.db
        self.sealer = checkins.sealer
        self.policy = checkins.policy
        self.clock = checkins.clock

    def settings(self, who: Identity) -> SecuritySettings:
        with self.db.transaction() as session:
            member = require_member(session, who)
            return SecuritySettings(member.checkin_pin, self._reset_at(member))

    def set_checkin_pin(self, who: Identity, on: bool, pin: str) -> None:
        """Turn asking for the PIN at "I'm safe" on or off; either way the PIN proves it's them."""
        self._verify(who, pin)
        now = self.clock()
        with self.db.transaction() as session:
            member = require_member(session, who)
            if not on:
                self._refuse_while_resetting(member)
            member.checkin_pin = on
            tell(session, self.policy, member, lambda r: texts.checkin_pin_set(on), now)

    def set_duress_pin(self, who: Identity, pin: str, duress_pin: str) -> Message:
        """Store only a pepper-keyed verifier of the duress PIN, bound to the member's salt.

        Returns the confirmation for the caller to send straight to the chat, to disappear
        soon: it is never stored, and a later look at the phone must not find it.
        """
        check_pin(duress_pin)
        if duress_pin == pin:
            raise Refusal(_("Your duress PIN must be different from your PIN."))
        secret = self._verify(who, pin)
        # Both PINs are known now: a key kept at a weaker cost for the old verifier moves up.
        moved = rewrap_if_weaker(self.checkins.ctx, who, pin, secret, duress_pin)
        with self.db.transaction() as session:
            member = require_member(session, who)
            if not moved:
                cost = KdfCost(member.kdf_ops, member.kdf_mem)
                verifier = self.sealer.duress_verifier(duress_pin, member.kdf_salt, cost)
                member.duress_verifier = verifier
            return texts.duress_pin_set(member.checkin_pin)

    def change_pin(self, who: Identity, old_pin: str, new_pin: str) -> None:
        """The same secret key, wrapped under the new PIN with the same salt and cost: nothing
        sealed to the member is lost, and a duress PIN (bound to the salt) keeps working."""
        check_pin(new_pin)
        secret = self._verify(who, old_pin)
        with self.db.transaction() as session:
            member = require_member(session, who)
            salt, cost = member.kdf_salt, KdfCost(member.kdf_ops, member.kdf_mem)
        keys = self.sealer.rewrap(secret, new_pin, salt, cost)
        now = self.clock()
        with self.db.transaction() as session:
            member = require_member(session, who)
            _store_keys(member, keys)
            tell(session, self.policy, member, lambda r: texts.pin_changed(), now)

    def request_reset(self, who: Identity) -> None:
        """ "I forgot my PIN": start the cooling-off (see the module docstring).

        Refused while locked out (a thief must not reset their way past the lockout) and
        while their own outcall runs (see the module docstring).
        """
        now = self.clock()
        with self.db.transaction() as session:
            member = require_member(session, who)
            self.checkins.check_not_locked(member, now, PinUse.KEY)
            if queries.open_outcall(session, member.id):
                raise Refusal(
                    _(
                        "You can't reset your PIN while your outcall is running. Send SAFE, "
                        "then choose I can't give my PIN: your buddies will check on you."
                    )
                )
            if member.reset_requested_at is None:
                member.reset_requested_at = now
                alias, ready = member.alias, self._ready_at(member)
                for person in _partners(session, member):
                    tell(
                        session,
                        self.policy,
                        person,
                        lambda r: texts.reset_notice(alias, r.at(ready)),
                        now,
                    )
            ready = self._ready_at(member)
            tell(session, self.policy, member, lambda r: texts.reset_started(r.at(ready)), now)

    def stop_reset(self, who: Identity) -> None:
        """Stop a PIN reset that has not taken effect: nothing changes. No PIN is needed,
        since stopping only keeps things as they are."""
        now = self.clock()
        with self.db.transaction() as session:
            member = require_member(session, who)
            if member.reset_requested_at is None:
                raise Refusal(_("There is no PIN reset waiting. Nothing has changed."))
            member.reset_requested_at = None
            alias = member.alias
            for person in _partners(session, member):
                tell(session, self.policy, person, lambda r: texts.reset_stopped_notice(alias), now)
            tell(session, self.policy, member, lambda r: texts.reset_stopped(), now)

    def reset_pin(self, who: Identity, new_pin: str) -> None:
        """New keys under `new_pin`, once the old ones are destroyed (a reset that took effect,
        or a panic wipe). The workers who rely on this member are told their key changed."""
        check_pin(new_pin)
        with self.db.transaction() as session:
            member = require_member(session, who)
            if member.wrapped_secret:
                raise Refusal(
                    _("To choose a new PIN, open /settings and choose I forgot my PIN first.")
                )
            # The salt and cost stay, so a duress verifier (bound to both) keeps working.
            salt, cost = member.kdf_salt, KdfCost(member.kdf_ops, member.kdf_mem)
        keys = self.sealer.new_key_pair(new_pin, salt, cost)
        now = self.clock()
        with self.db.transaction() as session:
            member = require_member(session, who)
            _store_keys(member, keys)
            alias = member.alias
            for worker in _workers_relying_on(session, member):
                tell(session, self.policy, worker, lambda r: texts.buddy_key_changed(alias), now)
            tell(session, self.policy, member, lambda r: texts.new_pin_set(), now)

    def ask_buddies_to_confirm(self, who: Identity) -> None:
        """ "I'm safe" without a PIN: the buddies are asked now to confirm the worker is safe."""
        now = self.clock()
        with self.db.transaction() as session:
            worker = require_member(session, who)
            outcall = queries.open_outcall(session, worker.id, lock=True)
            if outcall is None:
                raise Refusal(
                    _("You have no outcall running (this one has ended). Send /outcall to start.")
                )
            told = apply(session, self.policy, outcall, Event.UNVERIFIED, now).told
            tell(session, self.policy, worker, lambda r: texts.buddies_asked(told > 0), now)

    def housekeeping(self) -> None:
        """Carry out what waited: resets whose cooling-off is over, and deletions that waited
        for an SOS to be settled. Run by a periodic job."""
        now = self.clock()
        with self.db.transaction() as session:
            due = session.scalars(
                select(Member).where(
                    Member.reset_requested_at <= now - self.policy.limits.pin_reset_cooling_off
                )
            ).all()
            for member in due:
                self._destroy_old_keys(session, member, now)
            departed = session.scalars(select(Member).where(Member.departed_at.is_not(None))).all()
            for member in departed:
                if not _open_outcalls(session, member):
                    self._delete(session, member, now)

    def forget_me(self, who: Identity, pin: str) -> None:
        """Delete the member and everything sealed to or by them; the PIN proves it's them.

        Their open outcalls are closed and whoever was alerted is told; their buddies are
        told a pairing ended (without naming them). Messages to them, about their outcalls,
        or naming them (except pending alerts about someone else's outcall, which must still
        arrive) are deleted. The admin audit log keeps an actor's alias, by its own rule.
        The last confirmation is sent by the caller straight to the chat, never stored.
        """
        self._verify(who, pin)
        now = self.clock()
        with self.db.transaction() as session:
            member = require_member(session, who)
            self._refuse_while_resetting(member)
            if any(lifecycle.is_protected(o) for o in _open_outcalls(session, member)):
                _depart(session, member, now)
            else:
                self._delete(session, member, now)
        forget_old_pages(self.db)

    # -- helpers -------------------------------------------------------------------------

    def _verify(self, who: Identity, pin: str) -> PrivateKey:
        """The member's secret key if `pin` is their PIN; otherwise a counted refusal."""
        now = self.clock()
        with self.db.transaction() as session:
            member = require_member(session, who)
            self.checkins.check_not_locked(member, now, PinUse.KEY)
            wrapped = wrapped_key(member)
        secret = self.checkins.checked_pin(who, now, lambda: self.sealer.unwrap(pin, *wrapped))
        rewrap_if_weaker(self.checkins.ctx, who, pin, secret)
        return secret

    def _ready_at(self, member: Member) -> datetime:
        assert member.reset_requested_at is not None
        return member.reset_requested_at + self.policy.limits.pin_reset_cooling_off

    def _reset_at(self, member: Member) -> str | None:
        if member.reset_requested_at is None:
            return None
        timezone = self.policy.jurisdiction(member.jurisdiction).timezone
        return texts.clock(self._ready_at(member), timezone)

    def _refuse_while_resetting(self, member: Member) -> None:
        """During a reset's cooling-off, nothing may remove what protects the member."""
        at = self._reset_at(member)
        if at is not None:
            raise Refusal(texts.reset_pending_refusal(at))

    def _destroy_old_keys(self, session: Session, member: Member, now: datetime) -> None:
        """The cooling-off is over: the old keys go, and with them every copy sealed to them."""
        session.execute(delete(SealedKey).where(SealedKey.member_id == member.id))
        member.public_key = b""
        member.wrapped_secret = b""
        member.reset_requested_at = None
        member.pin_failures = 0
        member.pin_locked_until = None
        tell(session, self.policy, member, lambda r: texts.reset_ready(), now)

    def _delete(self, session: Session, member: Member, now: datetime) -> None:
        """Delete the member: their open outcalls end (whoever was alerted is told), their
        partners are told a pairing ended, and every trace in the outbox goes."""
        alerted: dict[int, Member] = {}
        for outcall in _open_outcalls(session, member):
            for person in apply(session, self.policy, outcall, Event.LEAVE, now).alerted:
                alerted[person.id] = person
        alerted.pop(member.id, None)
        partners = {p.id: p for p in _partners(session, member)}
        _delete_messages_about(session, member)
        session.flush()
        session.delete(member)
        session.flush()
        for person in alerted.values():
            tell(session, self.policy, person, lambda r: texts.alert_closed_by_leaver(), now)
        for person in partners.values():
            tell(session, self.policy, person, lambda r: texts.pairing_ended_by_leaver(), now)


def _open_outcalls(session: Session, member: Member) -> list[Outcall]:
    """Every open outcall of the member, duress ones included, locked."""
    return list(
        session.scalars(
            select(Outcall)
            .where(Outcall.worker_id == member.id, Outcall.state.in_(queries.OPEN))
            .with_for_update()
        )
    )


def _partners(session: Session, member: Member) -> list[Member]:
    """Everyone paired with the member, either way round, once each."""
    found = {
        (worker if buddy.id == member.id else buddy).id: worker if buddy.id == member.id else buddy
        for _link, worker, buddy in queries.links_of(session, member.id)
    }
    return list(found.values())


def _workers_relying_on(session: Session, member: Member) -> list[Member]:
    return [
        worker
        for _link, worker, buddy in queries.links_of(session, member.id)
        if buddy.id == member.id
    ]


def _depart(session: Session, member: Member, now: datetime) -> None:
    """Delete from the member's side now, keep what their open SOS needs until it is settled.

    Their chat is detached (a random address on a channel nothing sends to), pending
    messages to it go, their keys and the copies sealed to them go, and they stop being
    anyone's buddy. Their own buddy links, alias and outcalls stay for the helpers.
    """
    session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.channel == member.channel, OutboxMessage.address == member.address
        )
    )
    session.execute(delete(SealedKey).where(SealedKey.member_id == member.id))
    session.execute(delete(BuddyLink).where(BuddyLink.buddy_id == member.id))
    member.channel, member.address = DEPARTED, secrets.token_hex(16)
    member.public_key, member.wrapped_secret, member.duress_verifier = b"", b"", None
    member.departed_at = now


def _store_keys(member: Member, keys: WrappedKeyPair) -> None:
    member.public_key = keys.public_key
    member.wrapped_secret = keys.wrapped_secret
    member.kdf_salt = keys.salt
    member.kdf_ops, member.kdf_mem = keys.cost.ops, keys.cost.mem
    member.pin_failures = 0


def _delete_messages_about(session: Session, member: Member) -> None:
    """Outbox rows that would keep a trace of a member who asked to be forgotten."""
    own_outcalls = select(Outcall.id).where(Outcall.worker_id == member.id)
    names_them = OutboxMessage.text.contains(member.alias, autoescape=True)
    session.execute(
        delete(OutboxMessage).where(
            or_(
                (OutboxMessage.channel == member.channel)
                & (OutboxMessage.address == member.address),
                OutboxMessage.member_id == member.id,
                OutboxMessage.outcall_id.in_(own_outcalls),
                names_them & (OutboxMessage.state != outbox.PENDING),
                names_them & OutboxMessage.outcall_id.is_(None),
            )
        )
    )
