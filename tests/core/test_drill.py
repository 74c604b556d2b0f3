"""/drill: a marked practice alert through the worker's real ladder, a Got it button, and a
report after the acknowledgement timeout; it never touches a real outcall or police."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, update

from checkins.context import Refusal
from checkins.messages import Kind
from storage.roles import RESPONDER
from storage.tables import Member, OutboxMessage, Outcall
from tests.channels import telegram_harness
from tests.channels.telegram_harness import STEP, Harness
from tests.conftest import World
from tests.core.test_responders import organisation, person

DRILL = "🧪 DRILL — this is practice, nobody is in danger"


def drill_ref(world: World) -> str:
    with world.db.transaction() as session:
        return session.scalars(select(Outcall.ref).where(Outcall.drill.is_(True))).one()


def test_drill_reaches_buddies_and_on_duty_responders_at_once_and_reports_back(
    world: World,
) -> None:
    ria = person(world, "ria", RESPONDER)
    resting = person(world, "otto", RESPONDER, on_duty=False)
    org = organisation(world)
    org.start_drill(world.worker)
    started = world.last(world.worker)
    assert "Drill started" in started and "Sam, Kit, Ria" in started
    for recipient in (world.buddy, world.buddy2, ria):
        alert = world.last(recipient)
        assert alert.startswith(DRILL) and "Robin is testing" in alert
        outside_preview = [line for line in alert.splitlines() if not line.startswith("┆")]
        assert "missed" not in "\n".join(outside_preview), "nobody is told someone missed"
        assert "┆ 🚨 Robin missed their check-in" in alert  # the real alert, framed as a preview
    assert "as an on-duty responder" in world.last(ria)
    assert world.messages(resting)[1:] == []
    ref = drill_ref(world)
    org.drill_got_it(world.buddy, ref)
    assert "Robin will see that you got it" in world.last(world.buddy)
    with world.db.transaction() as session:  # Kit blocked the bot: the alert failed for good
        session.execute(
            update(Member).where(Member.address == "kit").values(unreachable_since=world.clock())
        )
    world.clock.advance(minutes=14)
    world.engine.tick()
    assert "Drill report" not in world.last(world.worker)
    world.clock.advance(minutes=2)
    world.engine.tick()
    report = world.last(world.worker)
    assert "Drill report" in report
    assert "Got it: Sam" in report and "No answer: Ria" in report
    assert "Could not be reached: Kit" in report and "send /start" in report
    with pytest.raises(Refusal, match="This drill is over"):
        org.drill_got_it(world.buddy2, ref)
    world.clock.advance(hours=3)
    world.engine.tick()
    alerts = [t for p in (world.buddy, world.buddy2, ria) for t in world.messages(p) if DRILL in t]
    assert len(alerts) == 3, "a drill alert is never repeated"


def test_drill_never_blocks_a_real_outcall_or_sos(world: World) -> None:
    org = organisation(world)
    org.start_drill(world.worker)
    world.service.start_outcall(world.worker, "KX482B", "14 Hollow Lane", "", "30m")
    assert "Saved and sealed" in world.last(world.worker)
    assert world.service.current_outcall(world.worker) is not None
    world.clock.advance(minutes=41)
    world.engine.tick()
    assert "Robin missed their check-in" in world.last(world.buddy)
    with pytest.raises(Refusal, match="a real alert about you is running"):
        org.start_drill(world.worker)
    world.service.check_in(world.worker)
    world.service.sos(world.worker)
    assert "Robin pressed SOS" in world.last(world.buddy)


def test_a_second_drill_waits_for_the_first_and_a_drill_needs_someone_to_reach(
    world: World,
) -> None:
    org = organisation(world)
    org.start_drill(world.worker)
    with pytest.raises(Refusal, match="A drill is already running"):
        org.start_drill(world.worker)
    with pytest.raises(Refusal, match="nobody to practise with"):
        org.start_drill(person(world, "lone"))


def test_drill_alerts_never_carry_details_and_never_use_alert_buttons(world: World) -> None:
    organisation(world).start_drill(world.worker)
    ref = drill_ref(world)
    with world.db.transaction() as session:
        rows = list(
            session.scalars(select(OutboxMessage).where(OutboxMessage.text.like(DRILL + "%")))
        )
        assert rows and all(r.kind == Kind.REMINDER for r in rows)
        for row in rows:
            tokens = [action for line in row.buttons for _label, action in line]
            assert tokens == [f"drill:{ref}"]


# -- over Telegram ---------------------------------------------------------------------------


telegram = telegram_harness.telegram  # the fixture, reused as it is


async def test_drill_over_telegram_marks_the_alert_takes_got_it_and_reports(
    telegram: Harness,
) -> None:
    alice, bob = telegram.api.user(1001, "Alice"), telegram.api.user(1002, "Bob")
    await telegram.onboard(alice, "Alice")
    await telegram.onboard(bob, "Bob")
    await telegram.pair(alice, bob, "Alice")
    await telegram.say(alice, "/drill", "Drill started")
    alert = await bob.wait_for_message(DRILL, timeout=STEP)
    assert [b["text"] for b in alert.buttons()] == ["Got it 👍"]
    await telegram.press(bob, "Got it 👍", "Alice will see that you got it", alert)
    await telegram.say(alice, "/outcall KX482B | 14 Hollow Lane | 1h", "Saved and sealed")
    # The report is due after the ack timeout (30 s here): bring that deadline to now.
    app = telegram.app
    with app.db.transaction() as session:
        session.execute(
            update(Outcall).where(Outcall.drill.is_(True)).values(next_action_at=app.clock())
        )
    await asyncio.to_thread(app.engine.tick)
    app.poke()
    report = await alice.wait_for_message("Drill report", timeout=STEP)
    assert "Got it: Bob" in report.text
    for message in bob.messages():  # a real alert appears only as a framed preview
        assert message.text.startswith("🧪 DRILL") or "missed" not in message.text
    status = await telegram.say(alice, "/status", "Your outcall is running")
    assert "I'm safe ✅" in [b["text"] for b in status.buttons()]
