"""Organisation roles are granted only by one-time codes, and a place never loses its last admin."""

from __future__ import annotations

import math
import re
import secrets
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bot.app import utc_now
from bot.cli import main
from bot.config import load_config
from checkins.admin import AdminService, is_role_code, show_code
from checkins.context import Context, Refusal
from checkins.messages import Identity
from checkins.sealing import KDF_COSTS, Sealer
from checkins.service import CheckinService
from storage.db import Database
from storage.roles import ADMIN, RESPONDER, admins_of, has_role, responders_on_duty
from storage.tables import AuditEntry, Role, RoleInvite
from tests.conftest import PIN, World, cli_config

SAME_REFUSAL = "That code doesn't work"


def admin_service(world: World) -> AdminService:
    return AdminService(world.service.ctx)


def make_admin(admin: AdminService, who: Identity, place: str = "north") -> None:
    admin.accept_role(who, admin.server_invite(ADMIN, place).code)


def role_ids(world: World, who: Identity) -> list[int]:
    member = world.service.member(who)
    assert member is not None
    with world.db.transaction() as session:
        return list(session.scalars(select(Role.id).where(Role.member_id == member.id)))


def test_a_server_code_makes_the_first_admin(world: World) -> None:
    admin = admin_service(world)
    made = admin.server_invite(ADMIN, "north")
    assert is_role_code(show_code(made.code))
    admin.accept_role(world.buddy2, show_code(made.code).lower())
    assert "You are now an admin (North)" in world.last(world.buddy2)
    with world.db.transaction() as session:
        assert [m.alias for m in admins_of(session, "north")] == ["Kit"]
        assert admins_of(session, "south") == []
    admin.open_menu(world.buddy2)
    assert "Rules for North" in world.last(world.buddy2)


def test_role_codes_have_enough_entropy_and_are_stored_only_as_keyed_hashes(world: World) -> None:
    admin = admin_service(world)
    codes = {admin.server_invite(RESPONDER, "north").code for _i in range(50)}
    assert len(codes) == 50
    body = next(iter(codes))[1:]
    assert len(body) * math.log2(30) >= 40
    with world.db.transaction() as session:
        stored = [row.code_hash for row in session.scalars(select(RoleInvite))]
    assert all(len(digest) == 32 for digest in stored)
    assert not any(code.encode() in digest for code in codes for digest in stored)


def test_unknown_used_and_expired_role_codes_are_refused_alike(world: World) -> None:
    admin = admin_service(world)
    used = admin.server_invite(RESPONDER, "north").code
    admin.accept_role(world.buddy, used)
    expired = admin.server_invite(RESPONDER, "north").code
    world.clock.advance(hours=24, seconds=1)
    refusals = []
    for code in (used, expired, "R-ZZZZZ-ZZZZZ"):
        with pytest.raises(Refusal) as refused:
            admin.accept_role(world.buddy2, code)
        refusals.append(str(refused.value))
    assert len(set(refusals)) == 1
    assert SAME_REFUSAL in refusals[0]
    with world.db.transaction() as session:
        assert not has_role(session, 3, RESPONDER, "north")


def test_a_code_used_once_cannot_grant_the_role_to_a_second_person(world: World) -> None:
    admin = admin_service(world)
    code = admin.server_invite(ADMIN, "north").code
    admin.accept_role(world.buddy, code)
    with pytest.raises(Refusal, match=SAME_REFUSAL):
        admin.accept_role(world.buddy2, code)
    with world.db.transaction() as session:
        assert [m.alias for m in admins_of(session, "north")] == ["Sam"]


def test_admins_invite_responders_only_for_places_they_administer(world: World) -> None:
    admin = admin_service(world)
    make_admin(admin, world.buddy, "north")
    made = admin.invite(world.buddy, RESPONDER, "north")
    assert show_code(made.code) in world.last(world.buddy)
    admin.accept_role(world.buddy2, made.code)
    with world.db.transaction() as session:
        assert [m.alias for m in responders_on_duty(session, "north")] == ["Kit"]
    for place in ("south", "*"):
        with pytest.raises(Refusal, match="only for your organisation's admins"):
            admin.invite(world.buddy, ADMIN, place)


def test_people_without_the_admin_role_are_refused_without_naming_anything(
    world: World,
) -> None:
    admin = admin_service(world)
    make_admin(admin, world.buddy, "south")
    refusals = set()
    for attempt in (
        lambda: admin.open_menu(world.worker),
        lambda: admin.invite(world.worker, ADMIN, "north"),
        lambda: admin.show_roles(world.worker, "north"),
        lambda: admin.invite(world.buddy, RESPONDER, "north"),
        lambda: admin.show_rules(world.buddy, "north"),
        lambda: admin.show_roles(world.buddy, "nowhere"),
    ):
        with pytest.raises(Refusal) as refused:
            attempt()
        refusals.add(str(refused.value))
    assert len(refusals) == 1
    assert "north" not in refusals.pop()


def test_the_last_admin_cannot_be_removed(world: World) -> None:
    admin = admin_service(world)
    make_admin(admin, world.buddy, "north")
    (only,) = role_ids(world, world.buddy)
    with pytest.raises(Refusal, match="can't remove the last admin"):
        admin.revoke(world.buddy, only)
    make_admin(admin, world.buddy2, "north")
    admin.revoke(world.buddy2, only)
    assert "no longer an admin (North)" in world.last(world.buddy)
    (remaining,) = role_ids(world, world.buddy2)
    with pytest.raises(Refusal, match="can't remove the last admin"):
        admin.revoke(world.buddy2, remaining)
    with world.db.transaction() as session:
        actions = [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions.count("role_revoked") == 1


def test_an_admin_everywhere_cannot_be_removed_while_they_are_the_only_admin_somewhere(
    world: World,
) -> None:
    admin = admin_service(world)
    make_admin(admin, world.buddy, "*")
    make_admin(admin, world.buddy2, "north")
    (everywhere,) = role_ids(world, world.buddy)
    with pytest.raises(Refusal, match="can't remove the last admin"):
        admin.revoke(world.buddy, everywhere)  # south would have no admin left


def test_an_admin_of_another_place_cannot_remove_roles_here(world: World) -> None:
    admin = admin_service(world)
    make_admin(admin, world.buddy, "north")
    make_admin(admin, world.buddy2, "south")
    admin.accept_role(world.worker, admin.server_invite(RESPONDER, "north").code)
    (responder,) = role_ids(world, world.worker)
    with pytest.raises(Refusal, match="only for your organisation's admins"):
        admin.revoke(world.buddy2, responder)
    admin.revoke(world.buddy, responder)
    assert "no longer a responder (North)" in world.last(world.worker)


def test_buddycheck_admin_invite_prints_a_code_that_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pepper = secrets.token_hex(32)
    url = f"sqlite:///{tmp_path / 'b.db'}"
    config = cli_config(tmp_path, url)
    monkeypatch.setenv("BUDDYCHECK_PEPPER", pepper)
    result = CliRunner().invoke(main, ["admin", "invite", "--config", str(config)])
    assert result.exit_code == 0, result.output
    found = re.search(r"R-[0-9A-Z]{5}-[0-9A-Z]{5}", result.output)
    assert found is not None, result.output
    assert "/accept" in result.output
    assert "admin (every place)" in result.output, result.output

    db = Database(url)
    sealer = Sealer(pepper.encode(), KDF_COSTS["insecure-fast"])
    policy = load_config(config).policy()
    first = Identity("console", "first-admin")
    CheckinService(Context(db, sealer, policy, utc_now)).register(first, "Ash", PIN)
    admin = AdminService(Context(db, sealer, policy, utc_now))
    admin.accept_role(first, found[0])
    with db.transaction() as session:
        assert [m.alias for m in admins_of(session, "north")] == ["Ash"]
    db.dispose()
