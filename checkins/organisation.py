"""What members do with the organisation: responders' duty, the emergency contact opt-in,
and drills.

Like `CheckinService`, each public method is one transaction that checks who is asking,
changes state and queues the messages it causes; a request that cannot be done raises
`Refusal` with a sentence saying why and what to do instead.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from checkins import drill, texts
from checkins.context import Context, Refusal, require_member
from checkins.escalation import tell
from checkins.i18n import use_locale
from checkins.jurisdictions import effective
from checkins.ladder import LegalModel, Notify, Stage
from checkins.messages import Identity
from checkins.policy import Jurisdiction
from storage import queries, roles
from storage.tables import Member, Role


class OrganisationService:
    """The organisation's features as members use them, on every channel alike."""

    def __init__(self, ctx: Context) -> None:
        self.db = ctx.db
        self.sealer = ctx.sealer
        self.policy = ctx.policy
        self.clock = ctx.clock

    # -- responders ----------------------------------------------------------------------

    def show_duty(self, who: Identity) -> None:
        """Tell a responder whether they are on duty, with buttons to change it."""
        now = self.clock()
        with self.db.transaction() as session:
            member = require_member(session, who)
            on = any(role.on_duty for role in self._responder_roles(session, member))
            tell(session, self.policy, member, lambda r: texts.duty_status(on), now)

    def set_duty(self, who: Identity, on: bool) -> None:
        """Go on or off duty (for every jurisdiction the responder covers)."""
        now = self.clock()
        with self.db.transaction() as session:
            member = require_member(session, who)
            for role in self._responder_roles(session, member):
                role.on_duty = on
            tell(session, self.policy, member, lambda r: texts.duty_changed(on), now)

    # -- the emergency contact -----------------------------------------------------------

    def emergency_notice(self, who: Identity) -> str | None:
        """What opting in would share, with whom and when; None where it doesn't exist.

        Only a decriminalised jurisdiction with an emergency stage and contact offers it.
        """
        with self.db.transaction() as session:
            member = require_member(session, who)
            jurisdiction = effective(session, self.policy, member.jurisdiction)
            with use_locale(member.locale):
                return _notice(jurisdiction, member.emergency_opt_in)

    def set_emergency_opt_in(self, who: Identity, on: bool) -> None:
        """Consent (or stop consenting) to the emergency contact being told."""
        now = self.clock()
        with self.db.transaction() as session:
            member = require_member(session, who)
            jurisdiction = effective(session, self.policy, member.jurisdiction)
            if on and _notice(jurisdiction, member.emergency_opt_in) is None:
                raise Refusal(texts.emergency_unavailable())
            if not on and member.checkin_pin and queries.open_outcall(session, member.id):
                raise Refusal(texts.protected_while_running())
            member.emergency_opt_in = on
            tell(session, self.policy, member, lambda r: texts.emergency_opt_in_changed(on), now)

    # -- drills --------------------------------------------------------------------------

    def start_drill(self, who: Identity) -> None:
        """Send a marked practice alert to everyone the worker's ladder would reach."""
        now = self.clock()
        with self.db.transaction() as session:
            drill.start(session, self.policy, require_member(session, who), now)

    def drill_got_it(self, who: Identity, ref: str) -> None:
        """A recipient taps Got it on a practice alert."""
        now = self.clock()
        with self.db.transaction() as session:
            drill.got_it(session, self.policy, require_member(session, who), ref, now)

    # -- helpers -------------------------------------------------------------------------

    def _responder_roles(self, session: Session, member: Member) -> list[Role]:
        found = [r for r in roles.roles_of(session, member.id) if r.role == roles.RESPONDER]
        if not found:
            raise Refusal(texts.not_a_responder())
        return found


def emergency_stage(jurisdiction: Jurisdiction) -> Stage | None:
    """The place's emergency step, where a worker can opt in to it: only a decriminalised
    place with an emergency stage and a contact has one."""
    ladder = jurisdiction.ladder
    stage = next((s for s in ladder.stages if s.notify is Notify.EMERGENCY), None)
    if (
        stage is None
        or ladder.legal_model is not LegalModel.DECRIMINALISED
        or jurisdiction.emergency_contact is None
    ):
        return None
    return stage


def _notice(jurisdiction: Jurisdiction, opted_in: bool) -> str | None:
    stage = emergency_stage(jurisdiction)
    if stage is None or jurisdiction.emergency_contact is None:
        return None
    return texts.emergency_notice(
        texts.span(stage.after), jurisdiction.emergency_contact.kind, opted_in
    )
