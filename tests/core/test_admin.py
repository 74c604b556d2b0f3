"""Admins edit their place's rules from the bot: held to the file's rules, audited, and never
changing a check-in that is already running."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from bot.cli import main
from bot.config import settings_from
from checkins.admin import AdminService
from checkins.context import Context, Refusal
from checkins.jurisdictions import effective
from checkins.ladder import LegalModel
from checkins.messages import Identity
from checkins.sealing import KDF_COSTS, Sealer
from checkins.service import CheckinService
from storage.db import Database
from storage.roles import ADMIN, EVERYWHERE
from storage.tables import Alert, AuditEntry, JurisdictionRules, Outcall
from tests.conftest import PIN, ManualClock, World

PLATE, ADDRESS, NOTES = "KX-482-B", "14 Hollow Lane, flat 3", "blue Golf, says he's Tom"
EMERGENCY_REFUSED = "only allowed where legal_model is 'decriminalised'"


def admin_service(world: World) -> AdminService:
    return AdminService(world.service.ctx)


@pytest.fixture
def admin(world: World) -> AdminService:
    """Kit administers north."""
    service = admin_service(world)
    service.accept_role(world.buddy2, service.server_invite(ADMIN, "north").code)
    return service


def audit(db: Database) -> list[AuditEntry]:
    with db.transaction() as session:
        rows = list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
        session.expunge_all()
        return rows


def overrides(db: Database, place: str) -> dict[str, Any] | None:
    with db.transaction() as session:
        row = session.get(JurisdictionRules, place)
        return dict(row.rules) if row else None


def test_the_menu_shows_the_ladder_in_plain_words(world: World, admin: AdminService) -> None:
    admin.open_menu(world.buddy2)
    screen = world.last(world.buddy2)
    assert "Rules for North" in screen
    assert "Sex work is criminalised here. Alerts never go to police." in screen
    assert "1. At the check-in time: remind the worker" in screen
    assert "2. 10 min late: alert their buddies" in screen
    assert "3. 30 min late: alert the on-duty responders" in screen
    assert "Reminder: 10 min before the check-in time" in screen
    assert "wait 15 min before the next step" in screen
    assert "Most extra time a worker can add: 2 h" in screen


def test_a_valid_edit_is_stored_audited_and_shown(world: World, admin: AdminService) -> None:
    admin.set_stage_after(world.buddy2, "north", 1, "1h30")
    screen = world.last(world.buddy2)
    assert "Saved" in screen
    assert "2. 30 min late: alert the on-duty responders" in screen  # steps stay in order
    assert "3. 1 h 30 min late: alert their buddies" in screen
    stored = overrides(world.db, "north")
    assert stored is not None
    assert stored["ladder"][2] == {"after": 5400, "notify": "buddies"}
    (*_granted, entry) = audit(world.db)
    assert (entry.actor, entry.action, entry.jurisdiction) == ("Kit", "ladder_changed", "north")
    assert entry.before is not None and entry.after is not None
    assert entry.before["ladder"][1] == {"after": 600, "notify": "buddies"}
    assert entry.after["ladder"][2] == {"after": 5400, "notify": "buddies"}


@pytest.mark.parametrize(
    ("attempt", "reason"),
    [
        (lambda a, who: a.set_stage_after(who, "north", 1, "soon"), "is not a duration"),
        (lambda a, who: a.set_stage_notify(who, "north", 1, "emergency"), EMERGENCY_REFUSED),
        (lambda a, who: a.add_stage(who, "north", "2h", "emergency"), EMERGENCY_REFUSED),
        (lambda a, who: a.set_duration(who, "north", "at", "0"), "longer than zero"),
        (lambda a, who: a.set_stage_after(who, "north", 7, "10m"), "has changed since"),
        (lambda a, who: a.set_duration(who, "north", "kp", "30m"), "between 1h and 168h"),
        (lambda a, who: a.set_duration(who, "north", "kp", "200h"), "between 1h and 168h"),
        (lambda a, who: a.set_duration(who, "north", "at", "7h"), "longest allowed is 6 h"),
        # 12 h check-in + 2 h extra + 40 h + 15 min to act > 48 h of retention.
        (lambda a, who: a.set_stage_after(who, "north", 1, "40h"), r"step 3 \(40 h late"),
        (lambda a, who: a.set_duration(who, "north", "kp", "2h"), "comes too late"),
    ],
)
def test_an_invalid_edit_says_why_changes_nothing_and_is_not_audited(
    world: World, admin: AdminService, attempt: Any, reason: str
) -> None:
    entries = len(audit(world.db))
    with pytest.raises(Refusal, match=reason):
        attempt(admin, world.buddy2)
    assert overrides(world.db, "north") is None
    assert len(audit(world.db)) == entries


def test_a_ladder_that_alerts_nobody_but_the_worker_is_refused(
    world: World, admin: AdminService
) -> None:
    admin.remove_stage(world.buddy2, "north", 2)
    with pytest.raises(Refusal, match="must alert someone other than the worker"):
        admin.remove_stage(world.buddy2, "north", 1)
    stored = overrides(world.db, "north")
    assert stored is not None and len(stored["ladder"]) == 2


def every_legal_model(url: str) -> dict[str, Any]:
    """One place per legal model; only the decriminalised one has an emergency contact."""
    places: dict[str, Any] = {
        model.value: {
            "legal_model": model.value,
            "timezone": "UTC",
            "ladder": [{"after": "10m", "notify": "buddies"}],
        }
        for model in LegalModel
    }
    places["decriminalised"]["emergency_contact"] = {"webhook_url": "http://127.0.0.1:9/x"}
    return {
        "service": {"default_jurisdiction": "criminalised"},
        "database": {"url": url},
        "crypto": {"kdf": "insecure-fast"},
        "jurisdictions": places,
    }


@pytest.fixture
def org(database_url: str, clock: ManualClock) -> Iterator[tuple[AdminService, Identity]]:
    """An organisation with a place of each legal model and one admin for all of them."""
    settings = settings_from(every_legal_model(database_url), "test")
    db = Database(database_url)
    db.migrate()
    sealer = Sealer(secrets.token_bytes(32), KDF_COSTS["insecure-fast"])
    policy = settings.policy()
    who = Identity("console", "ash")
    CheckinService(Context(db, sealer, policy, clock)).register(who, "Ash", PIN)
    admin = AdminService(Context(db, sealer, policy, clock))
    admin.accept_role(who, admin.server_invite(ADMIN, EVERYWHERE).code)
    yield admin, who
    db.dispose()


@pytest.mark.parametrize("model", list(LegalModel))
def test_each_legal_model_allows_peer_ladders_and_only_decriminalised_allows_emergency(
    org: tuple[AdminService, Identity], model: LegalModel
) -> None:
    admin, who = org
    admin.add_stage(who, model.value, "30m", "responders")
    if model is LegalModel.DECRIMINALISED:
        admin.add_stage(who, model.value, "1h", "emergency")
        with admin.db.transaction() as session:
            place = effective(session, admin.policy, model.value)
        assert [s.notify.value for s in place.ladder.stages] == [
            "buddies",
            "responders",
            "emergency",
        ]
    else:
        with pytest.raises(Refusal, match=EMERGENCY_REFUSED):
            admin.add_stage(who, model.value, "1h", "emergency")
        assert "emergency" not in [n.value for n in admin.target_choices(model.value)]
        with admin.db.transaction() as session:
            place = effective(session, admin.policy, model.value)
        assert [s.notify.value for s in place.ladder.stages] == ["buddies", "responders"]


def test_people_who_are_not_admins_here_cannot_edit(world: World, admin: AdminService) -> None:
    south_admin = world.buddy
    admin.accept_role(south_admin, admin.server_invite(ADMIN, "south").code)
    entries = len(audit(world.db))
    for who in (world.worker, south_admin):
        for attempt in (
            lambda w=who: admin.set_stage_after(w, "north", 1, "20m"),
            lambda w=who: admin.toggle_sealing(w, "north"),
            lambda w=who: admin.set_rights(w, "north", "en", "Hello"),
            lambda w=who: admin.reset(w, "north"),
        ):
            with pytest.raises(Refusal, match="only for your organisation's admins"):
                attempt()
    assert overrides(world.db, "north") is None
    assert len(audit(world.db)) == entries


def test_timings_and_the_responder_copy_are_edited_and_reset_to_the_file(
    world: World, admin: AdminService
) -> None:
    admin.set_duration(world.buddy2, "north", "rb", "0")
    admin.set_duration(world.buddy2, "north", "at", "20m")
    admin.set_duration(world.buddy2, "north", "mx", "45m")
    admin.toggle_sealing(world.buddy2, "north")
    screen = world.last(world.buddy2)
    assert "Reminder: 0 s before" in screen
    assert "wait 20 min before the next step" in screen
    assert "Most extra time a worker can add: 45 min" in screen
    assert "Responders get a sealed copy of the details: yes" in screen
    with world.db.transaction() as session:
        ladder = effective(session, admin.policy, "north").ladder
    assert ladder.seal_to_responders and ladder.max_extension.total_seconds() == 2700
    admin.reset(world.buddy2, "north")
    assert "Back to the rules from the configuration file" in world.last(world.buddy2)
    assert overrides(world.db, "north") is None
    entry = audit(world.db)[-1]
    assert entry.action == "rules_reset"
    assert entry.before == {
        "ack_timeout": 1200,
        "max_extension": 2700,
        "reminder_before": 0,
        "seal_to_responders": True,
    }
    assert entry.after == {
        "ack_timeout": 900,
        "max_extension": None,
        "reminder_before": 600,
        "seal_to_responders": False,
    }


def test_an_edit_mid_outcall_leaves_the_running_outcall_on_its_old_ladder(
    world: World, admin: AdminService
) -> None:
    world.service.start_outcall(world.worker, PLATE, ADDRESS, "", "1h")
    admin.set_stage_after(world.buddy2, "north", 1, "25m")  # buddies: 10 min → 25 min late
    world.pair(world.buddy2, world.buddy)
    world.service.start_outcall(world.buddy2, PLATE, ADDRESS, "", "1h")
    with world.db.transaction() as session:
        old, new = session.scalars(select(Outcall).order_by(Outcall.id)).all()
        old_id, new_id = old.id, new.id
        assert old.ladder["stages"][1] == [600.0, "buddies"]
        assert new.ladder["stages"][1] == [1500.0, "buddies"]

    def alerted(outcall_id: int) -> int:
        with world.db.transaction() as session:
            query = select(func.count()).select_from(Alert).where(Alert.outcall_id == outcall_id)
            return session.scalar(query) or 0

    world.clock.advance(hours=1, minutes=11)
    world.engine.tick()
    assert alerted(old_id) == 2  # Sam and Kit, by the old ladder
    assert alerted(new_id) == 0
    world.clock.advance(minutes=15)
    world.engine.tick()
    assert alerted(new_id) == 1  # Sam, by the new ladder


def test_the_audit_log_never_holds_outcall_details(world: World, admin: AdminService) -> None:
    world.service.start_outcall(world.worker, PLATE, ADDRESS, NOTES, "1h")
    admin.set_stage_after(world.buddy2, "north", 1, "20m")
    admin.set_rights(world.buddy2, "north", "en", "You may refuse a search without a warrant.")
    admin.invite(world.buddy2, "responder", "north")
    world.clock.advance(hours=2)
    world.engine.tick()
    admin.reset(world.buddy2, "north")
    logged = json.dumps(
        [[e.actor, e.action, e.jurisdiction, e.before, e.after] for e in audit(world.db)]
    )
    for secret in (PLATE, ADDRESS, NOTES, PIN, world.outcall_ref()):
        assert secret not in logged
    assert "R-" not in logged  # nor a role code


def test_buddycheck_admin_audit_prints_who_changed_what(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: ManualClock
) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    pepper = secrets.token_hex(32)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[service]\ndefault_jurisdiction = "north"\n[database]\nurl = "{url}"\n'
        '[crypto]\nkdf = "insecure-fast"\n[jurisdictions.north]\nlegal_model = "criminalised"\n'
        'timezone = "UTC"\nladder = [{ after = "10m", notify = "buddies" }]\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("BUDDYCHECK_PEPPER", pepper)
    runner = CliRunner()
    assert "empty" in runner.invoke(main, ["admin", "audit", "--config", str(config)]).output
    settings = settings_from(
        {
            "service": {"default_jurisdiction": "north"},
            "database": {"url": url},
            "jurisdictions": {
                "north": {
                    "legal_model": "criminalised",
                    "timezone": "UTC",
                    "ladder": [{"after": "10m", "notify": "buddies"}],
                }
            },
        },
        "test",
    )
    db = Database(url)
    sealer = Sealer(pepper.encode(), KDF_COSTS["insecure-fast"])
    who = Identity("console", "ash")
    CheckinService(Context(db, sealer, settings.policy(), clock)).register(who, "Ash", PIN)
    admin = AdminService(Context(db, sealer, settings.policy(), clock))
    admin.accept_role(who, admin.server_invite(ADMIN, "north").code)
    admin.set_stage_after(who, "north", 0, "20m")
    db.dispose()
    printed = runner.invoke(main, ["admin", "audit", "--config", str(config)]).output
    lines = printed.splitlines()
    assert "server  invite_created  north" in lines[0]
    assert "Ash (#1)  role_granted  north" in lines[1]
    assert "Ash (#1)  ladder_changed  north" in lines[2]
    assert '"after": 1200' in lines[2]


def test_a_shorter_retention_closes_new_outcalls_sooner_but_not_running_ones(
    world: World, admin: AdminService
) -> None:
    world.service.start_outcall(world.worker, "KX482B", "14 Hollow Lane", "", "30m")
    # The shortest that still fits a 12 h check-in, 2 h extra, 30 min of steps, 15 min to act.
    admin.set_duration(world.buddy2, "north", "kp", "15h")
    assert "Sealed details kept at most: 15 h" in world.last(world.buddy2)
    assert audit(world.db)[-1].after == {"details_retention": 54000}
    world.pair(world.buddy, world.worker)
    world.service.start_outcall(world.buddy, "SAMCAR1", "2 Other Road", "", "30m")
    world.clock.advance(hours=16)
    report = world.engine.purge()
    assert report.expired == 1  # Sam's, under the new 15 h; Robin's keeps its 48 h
    assert world.service.current_outcall(world.buddy) is None
    assert world.service.current_outcall(world.worker) is not None
    world.clock.advance(hours=33)
    assert world.engine.purge().expired == 1
