"""Argon2 cannot starve safety actions.

Every PIN check and PIN change runs Argon2id, which is slow on purpose (and takes
`cost.mem` of memory). Twelve members changing their PIN over and over used to fill the
threads every request shared, so another worker's SOS waited behind them. Now Argon2 runs
on its own small pool, safety actions on their own threads, and a check-in PIN or an
unlock has an Argon2 thread of its own; one member's PIN changes have a budget.

The cost is the real `interactive` one (about 0.1 s a run here), so the queue is real. The
tests assert order, not speed: the SOS is recorded while PIN changes are still queued, and
no more than the Argon2 pool's own threads finish meanwhile. Timings: docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from bot.app import App
from bot.channels.base import Inbound
from bot.channels.console import ConsoleChannel
from bot.config import settings_from
from checkins.argon2_pool import ARGON2_LANE, BUDGET_RUNS, Argon2Lane, Argon2Pool
from checkins.messages import Identity
from tests.conftest import PIN, ManualClock, core_config

OTHER_PIN = "615243"
CHANGERS = 12
CHANGES_EACH = 2


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[App]:
    """The app with the real `interactive` Argon2 cost, Robin and her buddy Sam, and twelve
    more members."""
    config = core_config(database_url)
    config["crypto"]["kdf"] = "interactive"
    console = ConsoleChannel(printer=lambda _text: None)
    app = App(
        settings_from(config, "test"), secrets.token_bytes(32), {"console": console}, ManualClock()
    )
    app.db.migrate()
    for name in ("robin", "sam", *(f"changer{n}" for n in range(CHANGERS))):
        await asyncio.to_thread(app.service.register, Identity("console", name), name.title(), PIN)
    code = app.service.create_invite(Identity("console", "robin"))
    app.service.accept_invite(Identity("console", "sam"), code)
    yield app
    app.db.dispose()


async def type_in(app: App, person: str, line: str = "", button: str = "") -> None:
    """What an adapter hands the conversation when `person` types a line or taps a button."""
    event = Inbound("console", person, text=line or None, action=button or None)
    await app.conversation.handle(event)


async def change_pin_repeatedly(app: App, person: str) -> None:
    """Settings → Change my PIN → current PIN → new PIN twice; and back again."""
    old, new = PIN, OTHER_PIN
    for _change in range(CHANGES_EACH):
        await type_in(app, person, button="set:change")
        for line in (old, new, new):
            await type_in(app, person, line)
        old, new = new, old


def count(app: App, like: str, address: str = "%") -> int:
    """Messages queued whose text and address match these LIKE patterns."""
    with app.db.transaction() as session:
        return int(
            session.scalar(
                text("SELECT count(*) FROM outbox WHERE text LIKE :like AND address LIKE :to"),
                {"like": like, "to": address},
            )
        )


def pin_changes_done(app: App) -> int:
    return count(app, "Your PIN is changed%")


async def while_pins_change(app: App, *lines: str) -> int:
    """Robin types `lines` while twelve members change their PINs; returns how many PIN
    changes finished meanwhile (after checking the queue was full all along)."""
    changers = [
        asyncio.create_task(change_pin_repeatedly(app, f"changer{n}")) for n in range(CHANGERS)
    ]
    deadline = time.monotonic() + 60
    while pin_changes_done(app) < 1:  # the Argon2 queue is full and moving
        assert time.monotonic() < deadline, "no PIN change finished within a minute"
        await asyncio.sleep(0.01)
    before = pin_changes_done(app)
    for line in lines:
        await type_in(app, "robin", line)
    during = pin_changes_done(app) - before
    still_queued = CHANGERS * CHANGES_EACH - pin_changes_done(app)
    await asyncio.gather(*changers)
    assert pin_changes_done(app) == CHANGERS * CHANGES_EACH  # every PIN change went through
    assert still_queued > CHANGERS, "Robin must be measured against a full queue"
    return during


async def test_an_sos_is_recorded_while_pin_changes_are_still_queued(app: App) -> None:
    during = await while_pins_change(app, "SOS")
    assert count(app, "%SOS%", address="sam") >= 1  # the buddy's alert is in the outbox
    # Only PIN changes already on an Argon2 thread may finish while the SOS is handled.
    assert during <= 2, f"{during} PIN changes finished while the SOS waited"


async def test_a_check_in_pin_is_checked_while_pin_changes_are_still_queued(app: App) -> None:
    """The check-in PIN (which may be the duress PIN) needs Argon2 too: it has its own."""
    robin = Identity("console", "robin")
    await asyncio.to_thread(app.conversation.security.set_checkin_pin, robin, True, PIN)
    app.service.start_outcall(robin, "KX482B", "14 Hollow Lane", "", "1h")
    during = await while_pins_change(app, "SAFE", PIN)
    assert count(app, "%Glad you're safe%", address="robin") == 1
    assert during <= 2, f"{during} PIN changes finished while the check-in waited"


async def test_one_member_hammering_pin_changes_is_paused_and_others_are_not(
    database_url: str,
) -> None:
    app = App(
        settings_from(core_config(database_url), "test"),
        secrets.token_bytes(32),
        {"console": ConsoleChannel(printer=lambda _text: None)},
        ManualClock(),
    )
    app.db.migrate()
    for name in ("robin", "sam"):
        await asyncio.to_thread(app.service.register, Identity("console", name), name.title(), PIN)
    try:
        for _round in range(BUDGET_RUNS // 2 + 1):  # each change: the old PIN, then the new
            await change_pin_repeatedly(app, "robin")
        told = count(app, "You've used your PIN many times%", address="robin")
        assert told >= 1 and count(app, "Your PIN is changed%", "robin") == BUDGET_RUNS // 2
        await change_pin_repeatedly(app, "sam")  # somebody else is not held up
        assert count(app, "Your PIN is changed%", "sam") == CHANGES_EACH
        await type_in(app, "robin", "SOS")  # and safety actions never count
        assert count(app, "🆘 SOS%", address="robin") == 1
    finally:
        app.db.dispose()


def test_no_more_argon2_runs_at_once_than_the_memory_budget_allows() -> None:
    """Sized to its memory cost: 256 MiB runs in a 1 GiB budget on 8 cores: 4 at once."""
    pool = Argon2Pool(256 * 2**20, 2**30, cores=8)
    lock, running, most = threading.Lock(), [0], [0]

    def work() -> bytes:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.02)
        with lock:
            running[0] -= 1
        return b""

    def caller(urgent: bool) -> None:
        ARGON2_LANE.set(Argon2Lane(urgent=urgent))
        pool.run(work)

    threads = [threading.Thread(target=caller, args=(n % 3 == 0,)) for n in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert pool.urgent_threads + pool.other_threads == 4
    assert 1 < most[0] <= 4
