"""Changing a PIN keeps every sealed copy readable; a forgotten PIN means new keys."""

from __future__ import annotations

import pytest

from checkins.context import Refusal
from checkins.security import SecurityService
from storage.tables import SealedKey
from tests.conftest import PIN, World

NEW_PIN = "615243"


def overdue_outcall(world: World) -> str:
    world.service.start_outcall(world.worker, "KX482B", "14 Hollow Lane", "", "1h")
    world.clock.advance(minutes=75)
    world.engine.tick()
    return world.outcall_ref()


def test_pin_change_rewraps_the_same_key_so_sealed_details_stay_readable(world: World) -> None:
    ref = overdue_outcall(world)
    SecurityService(world.service).change_pin(world.buddy, PIN, NEW_PIN)
    assert "Your PIN is changed" in world.last(world.buddy)
    assert "KX482B" in world.service.unlock(world.buddy, ref, NEW_PIN).text
    with pytest.raises(Refusal, match="Wrong PIN"):
        world.service.unlock(world.buddy, ref, PIN)


def test_pin_change_needs_the_old_pin_and_counts_wrong_ones(world: World) -> None:
    with pytest.raises(Refusal, match="4 tries left"):
        SecurityService(world.service).change_pin(world.buddy, "905172", NEW_PIN)


def test_forgot_pin_gives_new_keys_and_drops_copies_sealed_to_the_old_ones(
    world: World,
) -> None:
    ref = overdue_outcall(world)
    security = SecurityService(world.service)
    security.request_reset(world.buddy)
    assert "old PIN still works" in world.last(world.buddy)
    assert "KX482B" in world.service.unlock(world.buddy, ref, PIN).text  # not yet
    world.clock.advance(hours=24, minutes=1)
    security.housekeeping()
    assert "old keys are destroyed" in world.last(world.buddy)
    security.reset_pin(world.buddy, NEW_PIN)
    assert "new PIN is set" in world.last(world.buddy)
    with world.db.transaction() as session:
        view = world.service.member(world.buddy)
        assert view is not None
        assert session.get(SealedKey, {"outcall_id": 1, "member_id": view.id}) is None
    with pytest.raises(Refusal, match="no sealed details"):
        world.service.unlock(world.buddy, ref, NEW_PIN)
    assert "KX482B" in world.service.unlock(world.buddy2, ref, PIN).text


def test_forgot_pin_is_refused_while_locked_out_or_during_own_outcall(world: World) -> None:
    security = SecurityService(world.service)
    world.service.start_outcall(world.worker, "KX482B", "14 Hollow Lane", "", "1h")
    with pytest.raises(Refusal, match="while your outcall is running"):
        security.request_reset(world.worker)
    for _try in range(5):
        with pytest.raises(Refusal):
            security.change_pin(world.buddy, "905172", NEW_PIN)
    with pytest.raises(Refusal, match="paused"):
        security.request_reset(world.buddy)
