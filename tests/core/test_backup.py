"""A backup taken while the bot runs, restored into a fresh database, still delivers the
alert that was waiting; backup and restore never overwrite anything, and say what a
backup holds and where it must never be kept."""

from __future__ import annotations

import asyncio
import sqlite3
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.channels.base import ChannelLimits
from bot.cli import main
from bot.dispatcher import Dispatcher
from storage.db import Database
from tests.conftest import ManualClock, World, cli_config, make_world
from tests.core.test_dispatch import Recorder

PLATE, ADDRESS = "KX482B", "14 Hollow Lane"


@pytest.fixture
def live(tmp_path: Path) -> World:
    """Robin missed her check-in: her buddies' alerts wait in the outbox, unsent."""
    world = make_world(f"sqlite:///{tmp_path / 'live.db'}", ManualClock())
    world.service.start_outcall(world.worker, PLATE, ADDRESS, "", "30m")
    world.clock.advance(minutes=41)
    world.engine.tick()
    return world


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_backup_restore_run_delivers_the_alert_that_was_waiting(
    live: World, tmp_path: Path
) -> None:
    config = cli_config(tmp_path, str(live.db.url))
    backup_file = tmp_path / "backups" / "monday.db"
    writer = sqlite3.connect(tmp_path / "live.db")  # the bot is writing meanwhile
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE members SET probed_at = probed_at")
    try:
        code, said = run("backup", str(backup_file), "--config", str(config))
    finally:
        writer.rollback()
        writer.close()
    assert code == 0, said
    assert stat.S_IMODE(backup_file.stat().st_mode) == 0o600
    assert "In it: members 3, open outcalls 1, sealed details 1" in said
    assert "Never keep it with the pepper" in said and "delete backups soon" in said
    live.service.check_in(live.worker)  # "I'm safe" shreds the live copy, not the backup

    restored_dir = tmp_path / "restored"
    restored_dir.mkdir()
    restored_config = cli_config(restored_dir, f"sqlite:///{restored_dir / 'new.db'}")
    code, said = run("restore", str(backup_file), "--config", str(restored_config))
    assert code == 0, said
    assert "open outcalls 1, sealed details 1" in said and "same pepper" in said

    restored = Database(f"sqlite:///{restored_dir / 'new.db'}")
    channel = Recorder(ChannelLimits(per_second=100.0), name="console")
    dispatcher = Dispatcher(restored, live.engine, {"console": channel}, live.clock)
    asyncio.run(dispatcher.drain())
    restored.dispose()
    alerts = [text for _at, to, text in channel.sent if "Robin missed their check-in" in text]
    assert sorted(to for _at, to, text in channel.sent if text in alerts) == ["kit", "sam"]
    assert PLATE not in "".join(text for _at, _to, text in channel.sent)


def test_backup_and_restore_never_overwrite(live: World, tmp_path: Path) -> None:
    config = cli_config(tmp_path, str(live.db.url))
    taken = tmp_path / "taken.db"
    taken.write_bytes(b"someone's file")
    code, said = run("backup", str(taken), "--config", str(config))
    assert code == 1 and "already exists" in said and "nothing was overwritten" in said
    assert taken.read_bytes() == b"someone's file"
    code, said = run("restore", str(tmp_path / "nope.db"), "--config", str(config))
    assert code == 1 and "There is nothing at" in said
    code, said = run("restore", str(taken), "--config", str(config))  # the live database
    assert code == 1 and "already exists" in said


def test_postgresql_gets_the_pg_dump_command_without_its_password(tmp_path: Path) -> None:
    url = "postgresql+psycopg://bot:s3cret-pw@127.0.0.1:5432/buddycheck"
    code, said = run("backup", "/backups/b.dump", "--config", str(cli_config(tmp_path, url)))
    assert code == 0, said
    assert "pg_dump --format=custom --file=/backups/b.dump" in said
    assert "postgresql://bot@127.0.0.1:5432/buddycheck" in said
    assert "s3cret-pw" not in said
