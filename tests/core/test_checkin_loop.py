"""The core loop as a worker and buddies live it: seal, check in, miss it, escalate, settle."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from checkins.context import Refusal
from checkins.lifecycle import State
from storage.tables import Envelope, OutboxMessage, SealedKey
from tests.conftest import PIN, World

PLATE, ADDRESS = "KX482B", "14 Hollow Lane, flat 3"


def sealed_rows(world: World) -> int:
    with world.db.transaction() as session:
        return sum(
            session.scalar(select(func.count()).select_from(table)) or 0
            for table in (Envelope, SealedKey)
        )


def test_safe_check_in_destroys_details_and_alerts_nobody(world: World) -> None:
    world.service.start_outcall(world.worker, PLATE, ADDRESS, "", "90m")
    assert "Check in by" in world.last(world.worker)
    assert sealed_rows(world) == 3  # one envelope, one sealed key per buddy
    world.clock.advance(minutes=30)
    world.service.check_in(world.worker)
    assert "Glad you're safe" in world.last(world.worker)
    assert sealed_rows(world) == 0
    world.clock.advance(hours=3)
    assert world.engine.tick() == 0
    assert not any("missed" in m for m in world.messages(world.buddy))


def test_missed_check_in_reminds_then_alerts_buddies_on_schedule(world: World) -> None:
    world.service.start_outcall(world.worker, PLATE, ADDRESS, "white van", "60m")
    world.clock.advance(minutes=50)
    world.engine.tick()
    assert "due at" in world.last(world.worker)
    world.clock.advance(minutes=10)
    world.engine.tick()
    assert "has passed" in world.last(world.worker)
    assert world.messages(world.buddy)[-1].startswith("You are now")  # not alerted yet
    world.clock.advance(minutes=9)
    assert world.engine.tick() == 0
    world.clock.advance(minutes=1)
    world.engine.tick()
    for buddy in (world.buddy, world.buddy2):
        assert "Robin missed their check-in" in world.last(buddy)
        assert PLATE not in world.last(buddy) and ADDRESS not in world.last(buddy)


def test_buddy_unlocks_with_pin_acknowledges_and_confirms_safe(world: World) -> None:
    world.service.start_outcall(world.worker, PLATE, ADDRESS, "blue hat", "30m")
    world.clock.advance(minutes=40)
    world.engine.tick()
    world.engine.tick()
    ref = world.outcall_ref()
    unlocked = world.service.unlock(world.buddy, ref, PIN)
    assert PLATE in unlocked.text and ADDRESS in unlocked.text and "blue hat" in unlocked.text
    world.service.acknowledge(world.buddy, ref)
    assert "You are handling" in world.last(world.buddy)
    assert "Sam is handling Robin's alert" in world.last(world.buddy2)
    world.service.confirm_safe(world.buddy, ref)
    assert "Sam confirmed you are safe" in world.last(world.worker)
    assert "confirmed Robin is safe" in world.last(world.buddy2)
    assert sealed_rows(world) == 0
    with pytest.raises(Refusal, match="no longer active"):
        world.service.unlock(world.buddy2, ref, PIN)


def test_acknowledged_alert_escalates_again_after_the_timeout(world: World) -> None:
    world.service.start_outcall(world.worker, PLATE, ADDRESS, "", "30m")
    world.clock.advance(minutes=40)
    world.engine.tick()
    world.service.acknowledge(world.buddy, world.outcall_ref())
    world.clock.advance(minutes=16)  # the ack timeout has passed, the next stage (due+30m) not
    assert world.engine.tick() == 0
    world.clock.advance(minutes=5)
    world.engine.tick()  # responders stage: nobody yet, so the alert repeats to the alerted
    assert "Still no check-in from Robin" in world.last(world.buddy2)


def test_late_check_in_tells_everyone_alerted(world: World) -> None:
    world.service.start_outcall(world.worker, PLATE, ADDRESS, "", "30m")
    world.clock.advance(minutes=45)
    world.engine.tick()
    world.service.check_in(world.worker)
    assert "Everyone who was alerted" in world.last(world.worker)
    assert "Robin checked in" in world.last(world.buddy)


def test_extension_moves_the_deadline_and_stands_alerted_buddies_down(world: World) -> None:
    world.service.start_outcall(world.worker, PLATE, ADDRESS, "", "30m")
    world.clock.advance(minutes=41)
    world.engine.tick()
    world.service.extend(world.worker, 30)
    assert "stand down" in world.last(world.buddy)
    assert world.service.current_outcall(world.worker).state is State.ACTIVE  # type: ignore[union-attr]
    with pytest.raises(Refusal, match="only add 90 more minutes"):
        world.service.extend(world.worker, 120)


def test_sos_alerts_buddies_at_once_even_without_an_outcall(world: World) -> None:
    world.service.sos(world.worker)
    assert "SOS sent" in world.last(world.worker)
    assert "Robin pressed SOS" in world.last(world.buddy)
    with pytest.raises(Refusal, match="no sealed details"):
        world.service.unlock(world.buddy, world.service.open_alerts(world.buddy)[0].ref, PIN)


def test_wrong_pins_lock_unlocking_then_it_reopens(world: World) -> None:
    world.service.start_outcall(world.worker, PLATE, ADDRESS, "", "30m")
    world.clock.advance(minutes=41)
    world.engine.tick()
    ref = world.outcall_ref()
    for left in (4, 3, 2, 1):
        with pytest.raises(Refusal, match=f"{left} tr"):
            world.service.unlock(world.buddy, ref, "000111")
    with pytest.raises(Refusal, match="paused for"):
        world.service.unlock(world.buddy, ref, "000111")
    with pytest.raises(Refusal, match="paused until"):
        world.service.unlock(world.buddy, ref, PIN)  # even the right PIN waits
    world.clock.advance(minutes=31)
    assert PLATE in world.service.unlock(world.buddy, ref, PIN).text


def test_only_alerted_recipients_can_act_on_an_alert(world: World) -> None:
    stranger = world.worker.__class__("console", "mallory")
    world.service.register(stranger, "Mallory", PIN)
    world.service.start_outcall(world.worker, PLATE, ADDRESS, "", "30m")
    ref = world.outcall_ref()
    with pytest.raises(Refusal, match="no longer active"):
        world.service.unlock(world.buddy, ref, PIN)  # a buddy, but not alerted yet
    world.clock.advance(minutes=41)
    world.engine.tick()
    for action in (world.service.acknowledge, world.service.confirm_safe):
        with pytest.raises(Refusal, match="no longer active"):
            action(stranger, ref)
    with pytest.raises(Refusal, match="no longer active"):
        world.service.unlock(stranger, ref, PIN)


def test_removed_buddy_loses_access_to_open_details(world: World) -> None:
    world.service.start_outcall(world.worker, PLATE, ADDRESS, "", "30m")
    link = next(p for p in world.service.pairings(world.worker) if p.other_alias == "Sam")
    world.service.end_pairing(world.worker, link.link_id)
    assert sealed_rows(world) == 2  # the envelope and Kit's key
    assert "no longer buddies" in world.last(world.buddy)


def test_buddy_removed_mid_alert_can_no_longer_settle_or_read_it(world: World) -> None:
    world.service.start_outcall(world.worker, PLATE, ADDRESS, "", "30m")
    world.clock.advance(minutes=41)
    world.engine.tick()
    ref = world.outcall_ref()
    world.service.acknowledge(world.buddy, ref)
    link = next(p for p in world.service.pairings(world.worker) if p.other_alias == "Sam")
    world.service.end_pairing(world.worker, link.link_id)
    for act in (
        lambda: world.service.confirm_safe(world.buddy, ref),
        lambda: world.service.acknowledge(world.buddy, ref),
        lambda: world.service.unlock(world.buddy, ref, PIN),
    ):
        with pytest.raises(Refusal, match="no longer active"):
            act()
    current = world.service.current_outcall(world.worker)
    assert current is not None and current.state is not State.SAFE  # still escalating
    assert world.service.open_alerts(world.buddy2)  # Kit still holds the alert


def test_outcall_needs_a_buddy_and_readable_parts(world: World) -> None:
    loner = world.worker.__class__("console", "alex")
    world.service.register(loner, "Alex", PIN)
    with pytest.raises(Refusal, match="don't have a buddy"):
        world.service.start_outcall(loner, PLATE, ADDRESS, "", "1h")
    with pytest.raises(Refusal, match="couldn't read"):
        world.service.start_outcall(world.worker, PLATE, ADDRESS, "", "soonish")
    with pytest.raises(Refusal, match="too soon"):
        world.service.start_outcall(world.worker, PLATE, ADDRESS, "", "2m")
    with pytest.raises(Refusal, match="too far ahead"):
        world.service.start_outcall(world.worker, PLATE, ADDRESS, "", "30h")
    with pytest.raises(Refusal, match="too long"):
        world.service.start_outcall(world.worker, PLATE, "x" * 400, "", "1h")


def test_invite_codes_work_once_and_expire(world: World) -> None:
    alex = world.worker.__class__("console", "alex")
    world.service.register(alex, "Alex", PIN)
    code = world.service.create_invite(world.buddy)
    world.service.accept_invite(alex, code.lower())
    with pytest.raises(Refusal, match="doesn't work"):
        world.service.accept_invite(world.buddy2, code)
    late = world.service.create_invite(world.buddy)
    world.clock.advance(hours=25)
    with pytest.raises(Refusal, match="doesn't work"):
        world.service.accept_invite(world.buddy2, late)


def test_alerts_are_queued_before_everything_else(world: World) -> None:
    world.service.start_outcall(world.worker, PLATE, ADDRESS, "", "30m")
    world.clock.advance(minutes=41)
    world.engine.tick()
    with world.db.transaction() as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        alert_priorities = {r.priority for r in rows if "missed their check-in" in r.text}
        reply_priorities = {r.priority for r in rows if "is now your buddy" in r.text}
    assert max(alert_priorities) < min(reply_priorities)
