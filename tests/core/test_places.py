"""Places: a new member picks theirs, a touring worker moves with /place after seeing what
changes, a running outcall keeps the place it started in, and times read in the member's
place are shown to a buddy elsewhere with the worker's zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from checkins.escalation import ladder_of
from checkins.ladder import Notify
from checkins.places import PlaceService
from storage.roles import RESPONDER
from storage.tables import JurisdictionRules, Member, Outcall
from tests.chat import Chat
from tests.conftest import PIN, World
from tests.core.test_responders import person, start_and_miss

PLATE, ADDRESS = "KX482B", "14 Hollow Lane"


def member(chat: Chat, name: str) -> Member:
    with chat.app.db.transaction() as session:
        found = session.scalars(select(Member).where(Member.address == name)).one()
        session.expunge(found)
        return found


def outcalls(chat: Chat) -> list[Outcall]:
    with chat.app.db.transaction() as session:
        rows = list(session.scalars(select(Outcall).order_by(Outcall.id)))
        session.expunge_all()
        return rows


async def move(chat: Chat, person: str, place: str) -> tuple[str, str]:
    """`person` opens /place, taps `place`, reads what changes and says yes."""
    await chat.send(person, "/place")
    preview = await chat.pick(person, place)
    done = await chat.pick(person, f"Yes, move me to {place}")
    return preview, done


async def test_a_newcomer_picks_their_place_by_its_name(chat: Chat) -> None:
    await chat.send("robin", "/start")
    asked = await chat.send("robin", "English")
    assert "Where do you work?" in asked and "North" in asked and "South" in asked
    assert "no such place. Choose one of: North, South" in await chat.send("robin", "East")
    assert "choose a nickname" in await chat.pick("robin", "South")
    for line in ("Robin", PIN, PIN):
        await chat.send("robin", line)
    assert member(chat, "robin").jurisdiction == "south"


async def test_a_worker_moves_north_to_south_and_back_with_the_emergency_contact_only_south(
    chat: Chat,
) -> None:
    await chat.register("robin")  # in North
    assert "no emergency contact where you are" in await chat.send("robin", "/emergency")

    await chat.send("robin", "/place")
    preview = await chat.pick("robin", "South")
    assert "Move from North to South? This changes:" in preview
    assert "Your times are shown and read in New Zealand Time. It is 10:00 AM" in (
        preview.replace("\u202f", " ")
    )
    assert "If you miss a check-in in South:" in preview
    assert "1 h late: alert the emergency contact" in preview
    assert (
        "In South the last step can be an emergency contact, if you turn it on with "
        "/emergency. In North it never is." in preview
    )
    assert member(chat, "robin").jurisdiction == "north"  # nothing moves before Yes
    done = await chat.pick("robin", "Yes, move me to South")
    assert "Done. You are now in South. Your times are in New Zealand Time." in done
    assert member(chat, "robin").jurisdiction == "south"

    assert "Emergency contact: if you miss a check-in" in await chat.send("robin", "/emergency")
    assert "Turned on" in await chat.pick("robin", "Turn on")
    assert member(chat, "robin").emergency_opt_in

    preview, done = await move(chat, "robin", "North")
    assert "In North there is no emergency contact: it is never told." in preview
    assert "Your emergency contact setting will be turned off." in preview
    assert "Your emergency contact setting was turned off: North has none." in done
    back = member(chat, "robin")
    assert back.jurisdiction == "north" and not back.emergency_opt_in
    assert "no emergency contact where you are" in await chat.send("robin", "/emergency")


async def test_saying_no_or_the_same_place_changes_nothing(chat: Chat) -> None:
    await chat.register("robin")
    await chat.send("robin", "/place")
    await chat.pick("robin", "South")
    assert "Nothing changed. You are still in North." in await chat.pick("robin", "No, stay")
    assert "already in North" in await chat.send("robin", "/place north")
    assert "no such place" in await chat.send("robin", "/place atlantis")
    assert member(chat, "robin").jurisdiction == "north"


async def test_a_running_outcall_keeps_its_place_and_its_consent(chat: Chat) -> None:
    for name in ("robin", "sam"):
        await chat.register(name)
    await chat.pair("robin", "sam")
    await move(chat, "robin", "South")
    await chat.send("robin", "/emergency")
    await chat.pick("robin", "Turn on")
    await chat.send("robin", f"/outcall {PLATE} | {ADDRESS} | 1h")

    preview, _done = await move(chat, "robin", "North")
    assert "Your running outcall keeps the rules of South until it ends." in preview
    running = outcalls(chat)[0]
    assert running.jurisdiction == "south" and running.emergency_consent
    assert Notify.EMERGENCY in {stage.notify for stage in ladder_of(running).stages}

    await chat.send("robin", "SAFE")
    await chat.send("robin", f"/outcall {PLATE} | {ADDRESS} | 1h")
    assert outcalls(chat)[1].jurisdiction == "north"  # the next one takes the new place


async def test_times_read_in_the_workers_place_and_shown_to_a_buddy_elsewhere_with_its_zone(
    chat: Chat,
) -> None:
    for name in ("robin", "sam"):
        await chat.register(name)  # both in North (London)
    await chat.pair("robin", "sam")
    await move(chat, "robin", "South")  # Robin tours to Auckland; Sam stays in London

    await chat.send("robin", f"/outcall {PLATE} | {ADDRESS} | 19:30")
    due = outcalls(chat)[0].due_at.replace(tzinfo=UTC)
    assert due.astimezone(ZoneInfo("Pacific/Auckland")).strftime("%H:%M") == "19:30"

    chat.clock.now = due
    chat.clock.advance(minutes=11)
    chat.app.engine.tick()
    await chat.app.dispatcher.drain()
    alert = "\n".join(t for to, t in chat.console.transcript if to == "sam").replace("\u202f", " ")
    # 19:30 in Auckland (NZDT, UTC+13) is 6:30 AM in London the same day.
    assert "7:30 PM New Zealand Time (6:30 AM for you)" in alert
    assert due == datetime(2026, 11, 24, 6, 30, tzinfo=UTC)


def test_a_moved_workers_next_outcall_reaches_the_responders_of_her_new_place(
    world: World,
) -> None:
    """Duty follows the worker's place: after Robin moves South, South's on-duty responder is
    alerted about her missed check-in, North's is not."""
    ria = person(world, "ria", RESPONDER)  # North's
    sol = person(world, "sol", RESPONDER, jurisdiction="south")
    south_ladder = [
        {"after": "0m", "notify": "worker"},
        {"after": "10m", "notify": "buddies"},
        {"after": "30m", "notify": "responders"},
    ]
    with world.db.transaction() as session:
        rules = {"ladder": south_ladder}
        session.add(JurisdictionRules(jurisdiction="south", rules=rules, updated_at=world.clock()))
    PlaceService(world.service.ctx).move(world.worker, "south")
    start_and_miss(world, 31)
    assert any("Robin missed their check-in" in text for text in world.messages(sol))
    assert not any("Robin missed their check-in" in text for text in world.messages(ria))
