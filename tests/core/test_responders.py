"""The responder tier: on-duty responders back up silent buddies, the first "I'm on it" owns
the alert, and when the whole ladder is spent the organisation's admins are told."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from checkins.context import Refusal
from checkins.messages import Identity
from checkins.organisation import OrganisationService
from checkins.security import SecurityService
from storage import queries
from storage.roles import ADMIN, EVERYWHERE, RESPONDER
from storage.tables import JurisdictionRules, Member, OutboxMessage, Outcall, Role, SealedKey
from tests.conftest import PIN, World

PLATE, ADDRESS = "KX482B", "14 Hollow Lane"
RESPONDER_ALERT = "buddies haven't answered"


def person(world: World, name: str, role: str | None = None, **grant: object) -> Identity:
    """Register `name`; optionally give them an organisation role (north, on duty by default)."""
    who = Identity("console", name)
    world.service.register(who, name.title(), PIN)
    if role is not None:
        with world.db.transaction() as session:
            member = queries.member_by_identity(session, who.channel, who.address)
            assert member is not None
            session.add(
                Role(
                    member_id=member.id,
                    role=role,
                    jurisdiction=grant.get("jurisdiction", "north"),
                    on_duty=grant.get("on_duty", True),
                    created_at=world.clock(),
                )
            )
    return who


def organisation(world: World) -> OrganisationService:
    service = world.service
    return OrganisationService(service.ctx)


def start_and_miss(world: World, minutes_after_due: int) -> None:
    """An outcall due in 30 minutes, then the clock moves past due by `minutes_after_due`."""
    world.service.start_outcall(world.worker, PLATE, ADDRESS, "", "30m")
    world.clock.advance(minutes=30 + minutes_after_due)
    world.engine.tick()


def test_missed_checkin_alerts_on_duty_responders_of_the_workers_jurisdiction(
    world: World,
) -> None:
    ria = person(world, "ria", RESPONDER)
    everywhere = person(world, "eve", RESPONDER, jurisdiction=EVERYWHERE)
    resting = person(world, "otto", RESPONDER, on_duty=False)
    southern = person(world, "sol", RESPONDER, jurisdiction="south")
    start_and_miss(world, 11)
    assert not any(RESPONDER_ALERT in text for text in world.messages(ria))
    world.clock.advance(minutes=20)  # due + 31 min: the responders stage
    world.engine.tick()
    for alerted in (ria, everywhere):
        alert = world.last(alerted)
        assert "Robin missed their check-in" in alert and RESPONDER_ALERT in alert
        assert "as an on-duty responder" in alert
    assert world.messages(resting)[1:] == [], "an off-duty responder was alerted"
    assert world.messages(southern)[1:] == [], "another jurisdiction's responder was alerted"


def test_a_worker_who_is_a_responder_is_never_alerted_about_themself(world: World) -> None:
    with world.db.transaction() as session:
        robin = queries.member_by_identity(session, "console", "robin")
        assert robin is not None
        session.add(
            Role(
                member_id=robin.id,
                role=RESPONDER,
                jurisdiction="north",
                on_duty=True,
                created_at=world.clock(),
            )
        )
    start_and_miss(world, 31)
    assert not any(RESPONDER_ALERT in text for text in world.messages(world.worker))


def test_first_i_am_on_it_owns_the_alert_and_a_later_one_is_refused(world: World) -> None:
    start_and_miss(world, 11)
    ref = world.outcall_ref()
    world.service.acknowledge(world.buddy, ref)
    assert "Sam is handling Robin's alert" in world.last(world.buddy2)
    with pytest.raises(Refusal, match="Sam is already handling Robin's alert"):
        world.service.acknowledge(world.buddy2, ref)
    with world.db.transaction() as session:
        outcall = session.scalars(select(Outcall)).one()
        owner = session.get_one(Member, outcall.acknowledged_by_id)
        assert owner.alias == "Sam"


def test_unsettled_acknowledgement_falls_through_to_responders_who_can_take_over(
    world: World,
) -> None:
    ria = person(world, "ria", RESPONDER)
    start_and_miss(world, 11)
    ref = world.outcall_ref()
    world.service.acknowledge(world.buddy, ref)
    world.clock.advance(minutes=14)  # within Sam's 15 minutes: nobody else is alerted
    assert world.engine.tick() == 0
    world.clock.advance(minutes=6)  # due + 31 min: Sam's time is up and the next stage is due
    world.engine.tick()
    assert RESPONDER_ALERT in world.last(ria)
    world.service.acknowledge(ria, ref)
    assert "You are handling Robin's alert" in world.last(ria)
    assert "Ria is handling Robin's alert" in world.last(world.buddy)


def test_nobody_on_duty_means_the_stage_falls_through_and_alerts_repeat(world: World) -> None:
    resting = person(world, "otto", RESPONDER, on_duty=False)
    start_and_miss(world, 31)
    assert "Still no check-in from Robin" in world.last(world.buddy)
    assert world.messages(resting)[1:] == []


def test_spent_ladder_alerts_the_jurisdictions_admins_once_as_the_last_resort(
    world: World,
) -> None:
    ada = person(world, "ada", ADMIN)
    southern = person(world, "sue", ADMIN, jurisdiction="south")
    start_and_miss(world, 31)  # buddies, then responders (nobody on duty): the ladder is spent
    last_resort = world.last(ada)
    assert "Nobody has settled Robin's alert" in last_resort and "as an admin" in last_resort
    world.clock.advance(minutes=16)
    world.engine.tick()
    assert "Still no check-in from Robin" in world.last(world.buddy)
    assert sum("Robin" in text for text in world.messages(ada)) == 1, "admins are told once"
    assert world.messages(southern)[1:] == []
    world.service.acknowledge(ada, world.outcall_ref())
    assert "Ada is handling Robin's alert" in world.last(world.buddy)


def _seal_to_responders(world: World, on: bool) -> None:
    with world.db.transaction() as session:
        session.add(
            JurisdictionRules(
                jurisdiction="north", rules={"seal_to_responders": on}, updated_at=world.clock()
            )
        )


def _sealed_to(world: World) -> set[str]:
    with world.db.transaction() as session:
        rows = session.execute(
            select(Member.address).join(SealedKey, SealedKey.member_id == Member.id)
        )
        return {row[0] for row in rows}


def _buttons(world: World, who: Identity) -> list[list[list[str]]]:
    with world.db.transaction() as session:
        row = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.address == who.address)
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        ).one()
        return row.buttons


def test_seal_to_responders_lets_on_duty_responders_unlock_the_details(world: World) -> None:
    _seal_to_responders(world, True)
    ria = person(world, "ria", RESPONDER)
    person(world, "otto", RESPONDER, on_duty=False)
    keyless = person(world, "kay", RESPONDER)
    with world.db.transaction() as session:
        member = queries.member_by_identity(session, "console", "kay")
        assert member is not None
        member.wrapped_secret = b""  # e.g. after a panic wipe: nothing to seal to
    world.service.start_outcall(world.worker, PLATE, ADDRESS, "", "30m")
    assert "responders on duty can open the details" in world.last(world.worker)
    assert _sealed_to(world) == {"sam", "kit", "ria"}
    world.clock.advance(minutes=61)
    world.engine.tick()
    assert "Unlock details 🔓" in str(_buttons(world, ria))
    assert "Unlock details 🔓" not in str(_buttons(world, keyless))
    unlocked = world.service.unlock(ria, world.outcall_ref(), PIN)
    assert PLATE in unlocked.text and ADDRESS in unlocked.text


def test_without_seal_to_responders_responders_get_no_details(world: World) -> None:
    _seal_to_responders(world, False)
    ria = person(world, "ria", RESPONDER)
    world.service.start_outcall(world.worker, PLATE, ADDRESS, "", "30m")
    assert "responders" not in world.last(world.worker)
    assert _sealed_to(world) == {"sam", "kit"}
    world.clock.advance(minutes=61)
    world.engine.tick()
    assert RESPONDER_ALERT in world.last(ria)
    assert "Unlock details 🔓" not in str(_buttons(world, ria))
    with pytest.raises(Refusal, match="no sealed details"):
        world.service.unlock(ria, world.outcall_ref(), PIN)
    world.service.acknowledge(ria, world.outcall_ref())
    assert "You are handling" in world.last(ria)
    assert "Unlock details 🔓" not in str(_buttons(world, ria))  # nothing to unlock, no button


def test_duty_toggle_stops_and_restarts_responder_alerts(world: World) -> None:
    ria = person(world, "ria", RESPONDER)
    org = organisation(world)
    org.show_duty(ria)
    assert "You are on duty" in world.last(ria)
    org.set_duty(ria, False)
    assert "off duty now" in world.last(ria)
    start_and_miss(world, 31)
    assert not any(RESPONDER_ALERT in text for text in world.messages(ria))
    org.set_duty(ria, True)
    world.service.check_in(world.worker)
    start_and_miss(world, 31)
    assert RESPONDER_ALERT in world.last(ria)


def test_duty_is_refused_to_members_without_the_responder_role(world: World) -> None:
    with pytest.raises(Refusal, match="Only the organisation's responders can go on duty"):
        organisation(world).show_duty(world.buddy)
    with pytest.raises(Refusal, match="Only the organisation's responders"):
        organisation(world).set_duty(world.buddy, True)


def test_under_duress_responders_are_told_not_to_contact_the_worker(world: World) -> None:
    ria = person(world, "ria", RESPONDER)
    security = SecurityService(world.service)
    security.set_checkin_pin(world.worker, True, PIN)
    security.set_duress_pin(world.worker, PIN, "739146")
    world.service.start_outcall(world.worker, PLATE, ADDRESS, "", "30m")
    ref = world.outcall_ref()
    world.service.check_in(world.worker, ref, "739146")
    alert = world.last(ria)
    assert "Do NOT message or call Robin" in alert and "danger PIN" in alert
    assert "Try to reach" not in alert  # nothing below the warning contradicts it
