"""The panic wipe: afterwards nothing stored can be unsealed, and members can carry on."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from sqlalchemy import func, select

from checkins.security import SecurityService
from checkins.wipe import wipe
from storage.db import Database
from storage.tables import AuditEntry, Envelope, Invite, Member, SealedKey
from tests.conftest import ManualClock, make_world

CANARIES = ("CANARYPLATE77", "17 Canary Wharf Mews", "canary-notes-client-phone")


def raw_bytes(db_file: Path) -> bytes:
    """The database file and its WAL, as someone who seized the disk would read them."""
    return b"".join(p.read_bytes() for p in (db_file, Path(f"{db_file}-wal")) if p.exists())


def test_wipe_leaves_no_ciphertext_or_canary_on_disk_and_members_rekey(
    tmp_path: Path, clock: ManualClock
) -> None:
    db_file = tmp_path / "b.db"
    world = make_world(f"sqlite:///{db_file}", clock)
    world.service.start_outcall(world.worker, *CANARIES, "1h")
    world.service.create_invite(world.worker)
    with world.db.transaction() as session:
        envelope = session.scalars(select(Envelope)).one().ciphertext
        wrapped = session.scalars(select(Member.wrapped_secret)).first()
    assert wrapped and envelope

    report = wipe(world.db, world.clock())

    assert (report.envelopes, report.sealed_keys, report.invites) == (1, 2, 3)  # 2 used, 1 open
    assert report.member_keys == 3
    with world.db.transaction() as session:
        for table in (Envelope, SealedKey, Invite):
            assert session.scalar(select(func.count()).select_from(table)) == 0
        audited = session.scalars(select(AuditEntry).where(AuditEntry.action == "wipe")).one()
        assert audited.actor == "server" and audited.after == asdict(report)
        assert set(session.scalars(select(Member.wrapped_secret))) == {b""}
    disk = raw_bytes(db_file)
    for secret in (*[c.encode() for c in CANARIES], envelope, wrapped):
        assert secret not in disk

    security = SecurityService(world.service)
    view = world.service.member(world.buddy)
    assert view is not None and view.needs_new_pin
    security.reset_pin(world.buddy, "615243")
    assert "new PIN is set" in world.last(world.buddy)
    world.service.cancel(world.worker)
    security.reset_pin(world.worker, "615243")
    world.service.start_outcall(world.worker, "AB12CDE", "2 New Road", "", "1h")
    world.clock.advance(minutes=75)
    world.engine.tick()
    ref = world.outcall_ref()
    unlocked = world.service.unlock(world.buddy, ref, "615243")
    assert "AB12CDE" in unlocked.text
    world.db.dispose()


def test_wipe_refuses_without_the_typed_phrase(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from bot.cli import main

    config = tmp_path / "c.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "b.db"}"\n'
        '[jurisdictions.north]\nlegal_model = "criminalised"\ntimezone = "Europe/London"\n'
        'ladder = [{after = "0m", notify = "worker"}, {after = "10m", notify = "buddies"}]\n'
        '[service]\ndefault_jurisdiction = "north"\n'
    )
    result = CliRunner().invoke(main, ["wipe", "--config", str(config)], input="no thanks\n")
    assert result.exit_code != 0
    assert "Nothing was destroyed" in result.output
    Database(f"sqlite:///{tmp_path / 'b.db'}").migrate()
    result = CliRunner().invoke(main, ["wipe", "--config", str(config), "--yes-destroy-everything"])
    assert "Destroyed: 0 sealed details" in result.output, result.output


def test_wipe_on_postgresql_empties_every_sealed_table_and_key(
    postgres_url: str, clock: ManualClock
) -> None:
    world = make_world(postgres_url, clock)
    try:
        world.service.start_outcall(world.worker, *CANARIES, "1h")
        report = wipe(world.db, world.clock())  # VACUUM FULL runs outside a transaction
        assert (report.envelopes, report.sealed_keys, report.member_keys) == (1, 2, 3)
        with world.db.transaction() as session:
            for table in (Envelope, SealedKey, Invite):
                assert session.scalar(select(func.count()).select_from(table)) == 0
            assert set(session.scalars(select(Member.public_key))) == {b""}
    finally:
        world.db.dispose()
