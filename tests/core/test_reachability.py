"""The reachability job: people alerts depend on are probed in bounded batches, oldest first;
whoever newly can't be reached is reported once to those who rely on them; coming back is quiet."""

from __future__ import annotations

from sqlalchemy import select

from checkins.reachability import Reachability
from storage.roles import ADMIN, RESPONDER
from storage.tables import Member
from tests.conftest import World
from tests.core.test_responders import person


def reachability(world: World) -> Reachability:
    return Reachability(world.db, world.service.policy, world.clock)


def member_id(world: World, address: str) -> int:
    with world.db.transaction() as session:
        return session.scalars(select(Member.id).where(Member.address == address)).one()


def test_probes_buddies_and_responders_oldest_first_in_bounded_batches(world: World) -> None:
    person(world, "ria", RESPONDER)
    person(world, "nobody")  # neither a buddy nor a responder: never probed
    job = reachability(world)
    first = job.batch(2)
    assert [t.address for t in first] == ["sam", "kit"]
    for target in first:
        job.record(target.member_id, True)
    world.clock.advance(hours=6)
    assert [t.address for t in job.batch(10)] == ["ria", "sam", "kit"]


def test_an_unreachable_buddy_is_reported_once_to_their_worker_and_returns_quietly(
    world: World,
) -> None:
    job = reachability(world)
    sam = member_id(world, "sam")
    job.record(sam, False)
    warning = world.last(world.worker)
    assert "We can't reach your buddy Sam" in warning and "send /start" in warning
    before = len(world.messages(world.worker))
    world.clock.advance(hours=6)
    job.record(sam, False)
    job.record(sam, None)  # the messenger couldn't tell: nothing changes
    assert len(world.messages(world.worker)) == before, "told once"
    job.record(sam, True)
    assert len(world.messages(world.worker)) == before, "coming back is quiet"
    with world.db.transaction() as session:
        assert session.get_one(Member, sam).unreachable_since is None


def test_an_unreachable_responder_is_reported_to_the_jurisdictions_admins(world: World) -> None:
    person(world, "ria", RESPONDER)
    ada = person(world, "ada", ADMIN)
    southern = person(world, "sue", ADMIN, jurisdiction="south")
    reachability(world).record(member_id(world, "ria"), False)
    assert "We can't reach the responder Ria" in world.last(ada)
    assert world.messages(southern)[1:] == []
