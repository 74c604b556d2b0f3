"""How long an SOS takes while many members change their PIN over and over.

    python -m tests.bench.sos_under_pin_changes --changers 12 --samples 7 [--kdf moderate]

Registers `--changers` members who change their PIN in a loop through the conversation
(Settings → Change my PIN), and `--samples` workers, each with a buddy; once the PIN changes
are running, the workers send SOS one after another, a second apart, and the time from the
SOS arriving to its alerts being in the outbox is measured. Prints median and min–max in
milliseconds. SQLite in a temporary directory; the Argon2 cost is a real one (`--kdf`).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
from pathlib import Path

from bot.app import App
from bot.channels.base import Inbound
from bot.channels.console import ConsoleChannel
from bot.config import settings_from
from checkins.messages import Identity
from tests.conftest import PIN, ManualClock, core_config

OTHER_PIN = "615243"


async def change_pins_until(app: App, person: str, stop: asyncio.Event) -> int:
    """Change `person`'s PIN back and forth until `stop`; returns how many changes."""
    old, new, changes = PIN, OTHER_PIN, 0
    while not stop.is_set():
        for event in (
            Inbound("console", person, action="set:change"),
            Inbound("console", person, text=old),
            Inbound("console", person, text=new),
            Inbound("console", person, text=new),
        ):
            await app.conversation.handle(event)
        old, new, changes = new, old, changes + 1
    return changes


async def measure(directory: Path, changers: int, samples: int, kdf: str) -> list[float]:
    config = core_config(f"sqlite:///{directory / 'bench.db'}")
    config["crypto"]["kdf"] = kdf
    console = ConsoleChannel(printer=lambda _text: None)
    app = App(
        settings_from(config, "bench"), secrets.token_bytes(32), {"console": console}, ManualClock()
    )
    app.db.migrate()
    names = [f"changer{n}" for n in range(changers)] + ["buddy"]
    names += [f"worker{n}" for n in range(samples)]
    await asyncio.gather(
        *(
            asyncio.to_thread(app.service.register, Identity("console", n), n.title(), PIN)
            for n in names
        )
    )
    buddy = Identity("console", "buddy")
    for n in range(samples):
        app.service.accept_invite(
            buddy, app.service.create_invite(Identity("console", f"worker{n}"))
        )
    stop = asyncio.Event()
    loops = [
        asyncio.create_task(change_pins_until(app, f"changer{n}", stop)) for n in range(changers)
    ]
    await asyncio.sleep(2)  # the PIN changes are queued and running
    latencies = []
    for n in range(samples):
        began = time.perf_counter()
        await app.conversation.handle(Inbound("console", f"worker{n}", text="SOS"))
        latencies.append((time.perf_counter() - began) * 1000)
        await asyncio.sleep(1)
    stop.set()
    changes = sum(await asyncio.gather(*loops))
    print(f"PIN changes done meanwhile: {changes}")
    app.db.dispose()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changers", type=int, default=12)
    parser.add_argument("--samples", type=int, default=7)
    parser.add_argument("--kdf", default="moderate")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        latencies = asyncio.run(measure(Path(directory), args.changers, args.samples, args.kdf))
    print(
        f"SOS with {args.changers} members changing PINs ({args.kdf}): "
        f"median {statistics.median(latencies):.0f} ms, "
        f"min {min(latencies):.0f}, max {max(latencies):.0f} (n={len(latencies)})"
    )


if __name__ == "__main__":
    main()
