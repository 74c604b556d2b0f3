"""`buddycheck run`: build the configured channels and serve until interrupted."""

from __future__ import annotations

import asyncio
import signal

from bot.app import App
from bot.channels.registry import build_channels
from bot.config import ConfigError, Settings, load_pepper, no_pepper, production_problems
from checkins.i18n import _


async def serve(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM. Refuses to start without a pepper or any channel, and with
    crypto fit only for tests (`production_problems`)."""
    pepper = load_pepper(settings)
    if pepper is None:
        raise ConfigError(no_pepper())
    problems = production_problems(settings)
    if problems:
        raise ConfigError("\n".join(problems))
    channels = build_channels(settings)
    if not channels:
        raise ConfigError(
            _(
                "No channel is configured. Set [telegram] token, or [signal] service and "
                "phone_number."
            )
        )
    app = App(settings, pepper, channels)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await app.start()
    try:
        await stop.wait()
    finally:
        await app.stop()
