"""Waiting for an `asyncio.Event` with a timeout, without swallowing a cancellation.

Python 3.11's `asyncio.wait_for` returns normally when the task is cancelled at the moment
the awaited thing completes (the event was set by a person's message just as the app
stopped), so a service loop around it never sees the cancellation and `App.stop` waits for
it forever. `asyncio.timeout` counts cancellations (`Task.uncancel`) and has no such gap
(python/cpython#86296; 3.12 rebuilt `wait_for` on it).
"""

from __future__ import annotations

import asyncio
import contextlib


async def wait_for_event(event: asyncio.Event, timeout: float) -> bool:
    """Wait until `event` is set or `timeout` seconds pass; True if it was set."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            await event.wait()
    return event.is_set()
