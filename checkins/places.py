"""Which place (`[jurisdictions.*]` section) a member works in, and moving to another.

A member's place decides the ladder their next outcall takes, its responders, its clock and
whether an emergency contact exists. A move is shown before it happens (`texts.move_preview`)
and then confirmed. What stays behind: a running outcall keeps the place, ladder and consent
it started with; roles stay with the place they were granted for (a responder vetted by
North's admins is not South's responder because they travel: South's admins decide that).
An emergency contact opt-in the new place does not have is turned off, and the member told.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from checkins import texts
from checkins.context import Context, Refusal, require_member
from checkins.escalation import tell
from checkins.jurisdictions import effective
from checkins.messages import Identity
from checkins.organisation import emergency_stage
from checkins.parsing import normalise
from checkins.policy import Jurisdiction, Policy
from storage import queries, roles
from storage.tables import Member


def places(policy: Policy) -> list[Jurisdiction]:
    """Every place the deployment serves, in the configuration file's order."""
    return list(policy.jurisdictions.values())


def serves_several(policy: Policy) -> bool:
    """Whether a new member has to pick their place (one place: they are simply in it)."""
    return len(policy.jurisdictions) > 1


def read_place(policy: Policy, text: str) -> str:
    """A place's id from its id or its name in any language, as typed or tapped."""
    typed = normalise(text).strip().casefold()
    for place in places(policy):
        if typed in {place.id.casefold(), *(n.casefold() for n in place.names.values())}:
            return place.id
    raise Refusal(texts.unknown_place(places(policy)))


class PlaceService:
    """`/place`: see the places, see what a move changes, move."""

    def __init__(self, ctx: Context) -> None:
        self.db = ctx.db
        self.policy = ctx.policy
        self.clock = ctx.clock

    def show(self, who: Identity) -> None:
        """Where the member is, with the other places as choices."""
        if not serves_several(self.policy):
            raise Refusal(texts.only_one_place())
        with self.db.transaction() as session:
            member = require_member(session, who)
            current = self.policy.jurisdiction(member.jurisdiction)
            every = places(self.policy)
            tell(
                session,
                self.policy,
                member,
                lambda r: texts.pick_my_place(current, every),
                self.clock(),
            )

    def preview(self, who: Identity, place_id: str) -> None:
        """What moving to `place_id` would change, with Yes and No: nothing changes yet."""
        now = self.clock()
        with self.db.transaction() as session:
            member = require_member(session, who)
            move = self._move(session, member, place_id)
            tell(session, self.policy, member, lambda r: texts.move_preview(move, now), now)

    def move(self, who: Identity, place_id: str) -> None:
        """Move the member to `place_id` (after they saw `preview`)."""
        now = self.clock()
        with self.db.transaction() as session:
            member = require_member(session, who)
            move = self._move(session, member, place_id)
            running = queries.open_outcall(session, member.id, lock=True)
            if running is not None:  # it keeps the consent it started with, with its place
                running.emergency_consent = running.emergency_consent or member.emergency_opt_in
            if move.loses_opt_in:
                member.emergency_opt_in = False
            member.jurisdiction = move.new.id
            tell(session, self.policy, member, lambda r: texts.moved(move), now)

    def stay(self, who: Identity) -> None:
        """No to a move: say so, so a tap never goes unanswered."""
        with self.db.transaction() as session:
            member = require_member(session, who)
            place = self.policy.jurisdiction(member.jurisdiction)
            tell(session, self.policy, member, lambda r: texts.stayed(place), self.clock())

    def _move(self, session: Session, member: Member, place_id: str) -> texts.Move:
        if place_id not in self.policy.jurisdictions:
            raise Refusal(texts.unknown_place(places(self.policy)))
        old = effective(session, self.policy, member.jurisdiction)
        if place_id == old.id:
            raise Refusal(texts.already_there(old))
        new = effective(session, self.policy, place_id)
        held = {r.jurisdiction for r in roles.roles_of(session, member.id)}
        return texts.Move(
            old=old,
            new=new,
            new_has_emergency=emergency_stage(new) is not None,
            old_has_emergency=emergency_stage(old) is not None,
            opted_in=member.emergency_opt_in,
            running=queries.open_outcall(session, member.id) is not None,
            roles_stay=old.id in held,
        )
