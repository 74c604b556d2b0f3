"""The one timer every adapter uses to delete what it sent after a while (unlocked details, a
duress PIN's confirmation): on time, tried again when the messenger fails, and at a clean
stop deleted at once rather than never."""

from __future__ import annotations

import asyncio

from bot.channels.base import TimedDeletions


class Messenger:
    """A delete call that fails the first `failures` times."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.attempts: list[str] = []
        self.deleted: list[str] = []

    async def delete(self, ref: str) -> bool:
        self.attempts.append(ref)
        if len(self.attempts) <= self.failures:
            return False
        self.deleted.append(ref)
        return True


async def test_a_message_is_deleted_when_its_time_comes_and_not_before() -> None:
    messenger = Messenger()
    timed = TimedDeletions(messenger.delete)
    timed.schedule("details", 0.2)
    await asyncio.sleep(0.05)
    assert messenger.deleted == []
    await asyncio.sleep(0.3)
    assert messenger.deleted == ["details"]


async def test_a_failed_delete_is_tried_again() -> None:
    messenger = Messenger(failures=2)
    timed = TimedDeletions(messenger.delete, attempts=3, pause=0.01)
    timed.schedule("details", 0)
    await asyncio.sleep(0.2)
    assert messenger.attempts == ["details"] * 3 and messenger.deleted == ["details"]


async def test_a_clean_stop_deletes_what_was_waiting_at_once() -> None:
    messenger = Messenger()
    timed = TimedDeletions(messenger.delete)
    timed.schedule("details", 3600)
    await timed.flush()
    assert messenger.deleted == ["details"]
    await timed.flush()  # nothing left to delete twice
    assert messenger.deleted == ["details"]
