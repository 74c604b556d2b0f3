"""The engine advances due outcalls a group at a time with their reads preloaded; it must
queue exactly what advancing them one at a time (reading everything from the database)
would, and a row that breaks must neither hold up the others nor spin the engine."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, exc, select

from checkins import engine as engine_module
from checkins.messages import Identity
from storage import queries
from storage.roles import ADMIN, RESPONDER
from storage.tables import Alert, OutboxMessage, Outcall, Role
from tests.bench import engine_bench
from tests.conftest import PIN, ManualClock, World, make_world
from tests.core.test_responders import organisation, person

Step = Callable[[World], None]


def advance_one_at_a_time(world: World) -> None:
    """What the engine did before groups: each due outcall in its own transaction."""
    now = world.clock()
    with world.db.transaction() as session:
        due = queries.due_outcall_ids(session, now, 10_000)
    for outcall_id in due:
        world.engine._advance_one(outcall_id, now)


def story(world: World, advance: Step) -> None:
    """Reminders, buddies and responders alerted, an SOS, an acknowledgement timing out, a
    drill's report, the ladder spent and repeating to the admins, a whole ladder caught up
    in one go after downtime: every kind of step the engine takes, several outcalls due at
    once and sharing buddies."""
    person(world, "ria", RESPONDER)
    person(world, "ada", ADMIN)
    lou = Identity("console", "lou")
    world.service.register(lou, "Lou", PIN)
    world.pair(lou, world.buddy2)
    sos = Identity("console", "sky")
    world.service.register(sos, "Sky", PIN)
    world.pair(sos, world.buddy)
    world.service.start_outcall(world.worker, "KX482B", "14 Hollow Lane", "", "30m")
    world.service.start_outcall(lou, "LM55XY", "Mill Road 3", "", "30m")
    world.service.start_outcall(sos, "AB12CD", "Quay 9", "", "45m")
    organisation(world).start_drill(world.buddy2)
    actions: dict[int, Callable[[], None]] = {
        3: lambda: world.service.sos(sos),
        4: lambda: world.service.acknowledge(world.buddy, world.outcall_ref()),
    }
    for step, minutes in enumerate((5, 15, 11, 3, 20, 20, 40, 40, 60)):
        world.clock.advance(minutes=minutes)
        advance(world)
        actions.get(step, lambda: None)()
    late = Identity("console", "max")  # the engine was down: every stage in one transaction
    world.service.register(late, "Max", PIN)
    world.pair(late, world.buddy)
    on_duty(world, world.buddy)  # Sam is alerted as Max's buddy, then as a responder
    world.service.start_outcall(late, "ZZ99ZZ", "Dock 2", "", "30m")
    world.clock.advance(minutes=300)
    advance(world)


def on_duty(world: World, who: Identity) -> None:
    with world.db.transaction() as session:
        member = queries.member_by_identity(session, who.channel, who.address)
        assert member is not None
        grant = Role(member_id=member.id, role=RESPONDER, jurisdiction="north", on_duty=True)
        grant.created_at = world.clock()
        session.add(grant)


def queued(world: World) -> list[tuple[object, ...]]:
    """Every queued message and alert, with each outcall's random ref named by its id."""
    with world.db.transaction() as session:
        refs = {
            ref: f"<outcall {id_}>" for id_, ref in session.execute(select(Outcall.id, Outcall.ref))
        }
        pattern = re.compile("|".join(map(re.escape, refs))) if refs else None

        def named(value: object) -> str:
            text = str(value)
            return pattern.sub(lambda m: refs[m.group(0)], text) if pattern else text

        messages = session.execute(
            select(OutboxMessage)
            .where(OutboxMessage.outcall_id.is_not(None))
            .order_by(OutboxMessage.outcall_id, OutboxMessage.dedupe_key, OutboxMessage.id)
        ).scalars()
        rows: list[tuple[object, ...]] = [
            (m.address, m.kind, m.priority, named(m.text), named(m.buttons), m.dedupe_key)
            for m in messages
        ]
        alerts = session.scalars(select(Alert).order_by(Alert.outcall_id, Alert.member_id))
        rows += [(a.outcall_id, a.member_id, a.stage, a.last_resort, a.alerted_at) for a in alerts]
        outcalls = session.scalars(select(Outcall).order_by(Outcall.id))
        rows += [
            (o.id, o.state, o.next_stage, o.next_action_at, o.acknowledged_by_id, o.ended_at)
            for o in outcalls
        ]
    return rows


def test_a_group_queues_exactly_what_one_outcall_at_a_time_would(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    results = []
    for name, advance in (("groups", lambda w: w.engine.tick()), ("one", advance_one_at_a_time)):
        world = make_world(f"sqlite:///{tmp_path / name}.db", ManualClock())
        try:
            story(world, advance)
            results.append(queued(world))
        finally:
            world.db.dispose()
    grouped, single = results
    assert len(grouped) > 30  # the story really alerted people
    assert grouped == single
    fallbacks = [r for r in caplog.records if "one at a time" in r.getMessage()]
    assert not fallbacks, "a group failed and was redone one outcall at a time"


def test_a_broken_outcall_holds_up_nobody_and_is_retried_later_not_at_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    for index in range(4):
        who = Identity("console", f"w{index}")
        world.service.register(who, f"W{index}", PIN)
        world.pair(who, world.buddy)
        world.service.start_outcall(who, "QQ11AA", f"Street {index}", "", "30m")
    world.service.start_outcall(world.worker, "KX482B", "14 Hollow Lane", "", "30m")
    broken_ref = world.outcall_ref()
    real_apply = engine_module.apply
    attempts = []

    def apply(session, policy, outcall, event, now, **kwargs):  # type: ignore[no-untyped-def]
        if outcall.ref == broken_ref:
            attempts.append(now)
            raise RuntimeError("a corrupt row")
        return real_apply(session, policy, outcall, event, now, **kwargs)

    monkeypatch.setattr(engine_module, "apply", apply)
    world.clock.advance(minutes=41)  # past the reminder and the worker's own stage
    world.engine.tick()
    alerts = [text for text in world.messages(world.buddy) if "missed their check-in" in text]
    assert sorted(text.split()[1] for text in alerts) == ["W0", "W1", "W2", "W3"]
    tried = len(attempts)
    assert world.engine.tick() == 0 and len(attempts) == tried, "the broken row was retried at once"
    wake = world.engine.next_wakeup()
    assert wake is not None and wake > world.clock(), "the engine would spin on the broken row"
    world.clock.advance(seconds=engine_module.RETRY_BROKEN.total_seconds())
    monkeypatch.setattr(engine_module, "apply", real_apply)  # the row is mended
    world.engine.tick()
    assert "Robin missed their check-in" in world.last(world.buddy)


def test_a_locked_database_postpones_nothing(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A lock held elsewhere is no row's fault: the round fails (the engine loop tries
    again a second later) and every outcall stays due, rather than waiting `RETRY_BROKEN`."""
    world.service.start_outcall(world.worker, "KX482B", "14 Hollow Lane", "", "30m")
    real_apply = engine_module.apply

    def locked(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise exc.OperationalError("UPDATE outcalls", {}, sqlite3.OperationalError("locked"))

    monkeypatch.setattr(engine_module, "apply", locked)
    world.clock.advance(minutes=41)
    with pytest.raises(exc.OperationalError):
        world.engine.tick()
    wake = world.engine.next_wakeup()
    assert wake is not None and wake <= world.clock(), "the outcall was postponed"
    monkeypatch.setattr(engine_module, "apply", real_apply)  # the lock is gone
    world.engine.tick()
    assert "Robin missed their check-in" in world.last(world.buddy)


def test_alerting_a_group_costs_a_few_statements_per_outcall_not_one_per_alert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A storm is alerted at once only while a group's writes go out together at commit:
    a lookup inside a stage (the place's rules, read for every alert's checklist) that
    flushed the pending writes cost a round trip per alert and halved the engine."""
    clock = ManualClock()
    world = make_world(f"sqlite:///{tmp_path / 'b.db'}", clock)
    monkeypatch.setattr(engine_bench, "SPREAD", timedelta(seconds=10))
    engine_bench.fill(world, 50)  # 50 outcalls, each with two buddies to alert
    for minutes in (11, 10):  # the reminder, then the worker's own stage
        clock.advance(minutes=minutes)
        world.engine.tick()
    clock.advance(minutes=10)
    statements = []
    event.listen(world.db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    assert world.engine.tick() == 50
    assert len(statements) < 3 * 50, f"{len(statements)} statements for 50 outcalls"
    world.db.dispose()
