"""Outside decriminalised places an emergency message can never be produced or sent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import update

from bot.config import ConfigError, settings_from
from bot.dispatcher import Dispatcher
from checkins.ladder import EmergencyNotAllowed, Ladder, LegalModel, Notify, Stage
from checkins.messages import Kind, Message, enqueue
from storage.tables import Member, OutboxMessage, Outcall
from tests.conftest import World

UNSAFE_MODELS = [m for m in LegalModel if m is not LegalModel.DECRIMINALISED]


@given(
    model=st.sampled_from(UNSAFE_MODELS),
    notifies=st.lists(st.sampled_from(list(Notify)), min_size=1, max_size=6),
)
def test_no_ladder_with_an_emergency_stage_can_exist_outside_decriminalised(
    model: LegalModel, notifies: list[Notify]
) -> None:
    stages = tuple(Stage(timedelta(minutes=10 * i), n) for i, n in enumerate(notifies))
    try:
        ladder = Ladder(model, stages, timedelta(minutes=10), timedelta(minutes=15))
    except EmergencyNotAllowed:
        assert Notify.EMERGENCY in notifies
        return
    except ValueError:
        return  # refused for another reason (e.g. nobody but the worker is alerted)
    assert Notify.EMERGENCY not in [s.notify for s in ladder.stages]


@pytest.mark.parametrize("model", UNSAFE_MODELS)
def test_config_with_police_in_an_unsafe_place_is_refused_with_the_reason(model: str) -> None:
    with pytest.raises(ConfigError, match="only allowed where legal_model is 'decriminalised'"):
        settings_from(
            {
                "service": {"default_jurisdiction": "x"},
                "jurisdictions": {
                    "x": {
                        "legal_model": model,
                        "timezone": "UTC",
                        "ladder": [
                            {"after": "10m", "notify": "buddies"},
                            {"after": "30m", "notify": "emergency"},
                        ],
                    }
                },
            },
            "config.toml",
        )


def test_a_tampered_ladder_in_the_database_still_cannot_call_police(world: World) -> None:
    world.service.start_outcall(world.worker, "KX482B", "14 Hollow Lane", "", "30m")
    with world.db.transaction() as session:
        outcall = session.query(Outcall).one()
        tampered = dict(outcall.ladder)
        tampered["stages"] = [[0, "emergency"]]
        session.execute(update(Outcall).values(ladder=tampered))
    world.clock.advance(hours=2)
    world.engine.tick()
    with world.db.transaction() as session:
        kinds = {row.kind for row in session.query(OutboxMessage)}
    assert Kind.EMERGENCY.value not in kinds
    assert "missed their check-in" in world.last(world.buddy)  # still escalates, safely


async def test_dispatcher_refuses_an_emergency_message_for_a_criminalised_outcall(
    world: World,
) -> None:
    from bot.channels.console import ConsoleChannel

    world.service.start_outcall(world.worker, "KX482B", "14 Hollow Lane", "", "30m")
    with world.db.transaction() as session:
        outcall = session.query(Outcall).one()
        buddy = session.query(Member).filter_by(address="sam").one()
        enqueue(
            session,
            buddy,
            Message("EMERGENCY-CANARY", kind=Kind.EMERGENCY),
            world.clock(),
            outcall_id=outcall.id,
        )
    console = ConsoleChannel(printer=lambda _text: None)
    dispatcher = Dispatcher(world.db, world.engine, {"console": console}, world.clock)
    await dispatcher.drain()
    assert all("EMERGENCY-CANARY" not in text for _to, text in console.transcript)
    assert console.transcript  # the ordinary messages did go out
    with world.db.transaction() as session:
        row = session.query(OutboxMessage).filter_by(kind="emergency").one()
        assert (row.state, row.last_error) == ("failed", "refused_by_policy")
