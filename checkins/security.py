"""A member's own safety settings: the check-in PIN, the duress PIN, changing or replacing
their PIN, ending a check-in they cannot prove, and deleting themselves.

Every PIN is checked outside any transaction (Argon2id is slow on purpose) and every wrong
PIN counts toward the same lockout as unlocking details. A duress PIN typed anywhere but a
check-in counts as a wrong PIN: only "I'm safe" may act on it, so that it always looks the
same as the real PIN to whoever is watching.

**Checking in without the PIN** (locked out, or forgotten). An "I'm safe" nobody can verify
must neither silence the alerts (an abuser with the phone could then stop them) nor trap a
real worker until the ladder runs out. So it does not end the outcall: it asks the buddies
now to confirm the worker is safe, with the details still sealed to them, and tells the
worker so honestly. A buddy's "is safe" ends it; if nobody answers, the ladder carries on.
For the same reason "forgot my PIN" is refused while the worker's own outcall is running.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from nacl.public import PrivateKey
from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from checkins import texts
from checkins.escalation import finish, ladder_of, next_deadline, stage_recipients, tell
from checkins.i18n import _
from checkins.ladder import Notify
from checkins.lifecycle import Event, next_state
from checkins.messages import Identity
from checkins.sealing import KdfCost
from checkins.service import CheckinService, Refusal, check_pin, wrapped_key
from storage import outbox, queries
from storage.scrub import forget_old_pages
from storage.tables import Alert, Member, OutboxMessage, Outcall, SealedKey


@dataclass(frozen=True)
class SecuritySettings:
    checkin_pin: bool
    duress_pin: bool


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
            member = self._require(session, who)
            return SecuritySettings(member.checkin_pin, member.duress_verifier is not None)

    def set_checkin_pin(self, who: Identity, on: bool, pin: str) -> None:
        """Turn asking for the PIN at "I'm safe" on or off; either way the PIN proves it's them."""
        self._verify(who, pin)
        now = self.clock()
        with self.db.transaction() as session:
            member = self._require(session, who)
            member.checkin_pin = on
            tell(session, self.policy, member, lambda r: texts.checkin_pin_set(on), now)

    def set_duress_pin(self, who: Identity, pin: str, duress_pin: str) -> None:
        """Store only a pepper-keyed verifier of the duress PIN, bound to the member's salt."""
        check_pin(duress_pin)
        if duress_pin == pin:
            raise Refusal(_("Your duress PIN must be different from your PIN."))
        self._verify(who, pin)
        now = self.clock()
        with self.db.transaction() as session:
            member = self._require(session, who)
            cost = KdfCost(member.kdf_ops, member.kdf_mem)
            member.duress_verifier = self.sealer.duress_verifier(duress_pin, member.kdf_salt, cost)
            on = member.checkin_pin
            tell(session, self.policy, member, lambda r: texts.duress_pin_set(on), now)

    def change_pin(self, who: Identity, old_pin: str, new_pin: str) -> None:
        """The same secret key, wrapped under the new PIN with a new salt: nothing sealed to
        the member is lost. The duress verifier was bound to the old salt, so it is removed."""
        check_pin(new_pin)
        secret = self._verify(who, old_pin)
        keys = self.sealer.rewrap(secret, new_pin)
        now = self.clock()
        with self.db.transaction() as session:
            member = self._require(session, who)
            had_duress = member.duress_verifier is not None
            _store_keys(member, keys.public_key, keys.wrapped_secret, keys.salt, keys.cost)
            tell(session, self.policy, member, lambda r: texts.pin_changed(had_duress), now)

    def reset_pin(self, who: Identity, new_pin: str) -> None:
        """Forgot the PIN, or keys destroyed by a panic wipe: a NEW key pair under `new_pin`.

        Copies sealed to the old key can never be opened again, so they are deleted and the
        member is told how many. Refused while locked out (a thief must not reset their way
        past the lockout) and while their own outcall runs (see the module docstring).
        """
        check_pin(new_pin)
        keys = self.sealer.new_key_pair(new_pin)
        now = self.clock()
        with self.db.transaction() as session:
            member = self._require(session, who)
            self.checkins.check_not_locked(member, now)
            if member.wrapped_secret and queries.open_outcall(session, member.id):
                raise Refusal(
                    _(
                        "You can't reset your PIN while your outcall is running. "
                        "Tap I'm safe, then I can't give my PIN: your buddies will check on you."
                    )
                )
            dropped = session.execute(delete(SealedKey).where(SealedKey.member_id == member.id))
            count = int(dropped.rowcount)  # type: ignore[attr-defined]
            had_duress = member.duress_verifier is not None
            _store_keys(member, keys.public_key, keys.wrapped_secret, keys.salt, keys.cost)
            tell(session, self.policy, member, lambda r: texts.pin_reset(count, had_duress), now)

    def ask_buddies_to_confirm(self, who: Identity) -> None:
        """ "I'm safe" without a PIN: the buddies are asked now to confirm the worker is safe."""
        now = self.clock()
        with self.db.transaction() as session:
            worker = self._require(session, who)
            outcall = queries.open_outcall(session, worker.id, lock=True)
            if outcall is None:
                raise Refusal(
                    _("You have no outcall running (this one has ended). Send /outcall to start.")
                )
            told = self._ask_buddies(session, outcall, worker, now)
            tell(session, self.policy, worker, lambda r: texts.buddies_asked(told > 0), now)

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
            member = self._require(session, who)
            alerted = self._close_own_outcalls(session, member, now)
            partners = [
                worker if buddy.id == member.id else buddy
                for _link, worker, buddy in queries.links_of(session, member.id)
            ]
            _delete_messages_about(session, member)
            session.flush()
            session.delete(member)
            session.flush()
            for person in {m.id: m for m in alerted}.values():
                tell(session, self.policy, person, lambda r: texts.alert_closed_by_leaver(), now)
            for person in {m.id: m for m in partners}.values():
                tell(session, self.policy, person, lambda r: texts.pairing_ended_by_leaver(), now)
        forget_old_pages(self.db)

    # -- helpers -------------------------------------------------------------------------

    def _require(self, session: Session, who: Identity) -> Member:
        member = queries.member_by_identity(session, who.channel, who.address)
        if member is None:
            raise Refusal(_("You're not registered yet. Send /start to begin."))
        return member

    def _verify(self, who: Identity, pin: str) -> PrivateKey:
        """The member's secret key if `pin` is their PIN; otherwise a counted refusal."""
        now = self.clock()
        with self.db.transaction() as session:
            member = self._require(session, who)
            self.checkins.check_not_locked(member, now)
            wrapped = wrapped_key(member)
        return self.checkins.checked_pin(who, now, lambda: self.sealer.unwrap(pin, *wrapped))

    def _ask_buddies(
        self, session: Session, outcall: Outcall, worker: Member, now: datetime
    ) -> int:
        """Alert the buddies stage now with a request to confirm; the ladder goes on after."""
        ladder = ladder_of(outcall)
        outcall.state = next_state(outcall.state, Event.SOS).value
        alias, ref = worker.alias, outcall.ref
        told = 0
        for index, stage in enumerate(ladder.stages):
            if stage.notify is not Notify.BUDDIES:
                continue
            for buddy in stage_recipients(session, outcall, Notify.BUDDIES):
                if not queries.is_alerted(session, outcall.id, buddy.id):
                    session.add(
                        Alert(
                            outcall_id=outcall.id, member_id=buddy.id, stage=index, alerted_at=now
                        )
                    )
                tell(
                    session,
                    self.policy,
                    buddy,
                    lambda r: texts.confirm_request(ref, alias),
                    now,
                    outcall=outcall,
                    dedupe_key=f"o{outcall.id}:unverified:m{buddy.id}",
                )
                told += 1
            outcall.next_stage = max(outcall.next_stage, index + 1)
            break
        outcall.next_action_at = max(now + ladder.ack_timeout, next_deadline(outcall, ladder, now))
        return told

    def _close_own_outcalls(self, session: Session, member: Member, now: datetime) -> list[Member]:
        """End every open outcall of the leaver (duress ones too); return who was alerted."""
        alerted: list[Member] = []
        open_ones = session.scalars(
            select(Outcall).where(Outcall.worker_id == member.id, Outcall.state.in_(queries.OPEN))
        ).all()
        for outcall in open_ones:
            alerted += finish(session, self.policy, outcall, Event.CANCEL, now)
        return [m for m in alerted if m.id != member.id]


def _store_keys(member: Member, public: bytes, wrapped: bytes, salt: bytes, cost: KdfCost) -> None:
    member.public_key = public
    member.wrapped_secret = wrapped
    member.kdf_salt = salt
    member.kdf_ops, member.kdf_mem = cost.ops, cost.mem
    member.duress_verifier = None
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
