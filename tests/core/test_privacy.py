"""A seized database file or a log reveals no plate, address or note — before or after."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.conftest import PIN, ManualClock, make_world

CANARIES = ("CANARYPLATE77", "17 Canary Wharf Row", "canary-note-tattoo")


def raw_database_bytes(directory: Path) -> bytes:
    """The database file plus its WAL and shared-memory files, as a thief would copy them."""
    return b"".join(p.read_bytes() for p in directory.iterdir() if p.name.startswith("buddycheck"))


def test_no_detail_ever_reaches_the_database_file_or_the_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    clock = ManualClock()
    world = make_world(f"sqlite:///{tmp_path / 'buddycheck.db'}", clock)
    plate, address, note = CANARIES
    world.service.start_outcall(world.worker, plate, address, note, "30m")
    clock.advance(minutes=41)
    world.engine.tick()
    stored_while_alerting = raw_database_bytes(tmp_path)
    unlocked = world.service.unlock(world.buddy, world.outcall_ref(), PIN)
    assert plate in unlocked.text  # the details are really there for the buddy ...
    world.service.confirm_safe(world.buddy, world.outcall_ref())
    world.db.dispose()
    stored_after = raw_database_bytes(tmp_path)
    for canary in CANARIES:
        for blob in (stored_while_alerting, stored_after):
            assert canary.encode() not in blob  # ... and nowhere in the file, WAL included
            assert canary.encode("utf-16-le") not in blob
        assert canary not in caplog.text
    assert PIN.encode() not in stored_after
