"""The messengers buddycheck can talk over, and how each is built from the settings.

A messenger is one `Messenger` here: its name (also what an emergency contact's `channel`
may say), the module holding its adapter's `build_channel(settings)`, imported only when
the settings enable it (a deployment without Signal never loads signalbot), and the test
that the settings do. Adding a messenger means an adapter module, its settings section and
one line here; `buddycheck run` and the configuration checks read this list.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.channels.base import Channel
    from bot.config import Settings


@dataclass(frozen=True)
class Messenger:
    name: str
    module: str
    enabled: Callable[[Settings], bool]


MESSENGERS = (
    Messenger(
        "telegram", "bot.channels.telegram", lambda s: bool(s.telegram.token.get_secret_value())
    ),
    Messenger(
        "signal", "bot.channels.signal", lambda s: bool(s.signal.service and s.signal.phone_number)
    ),
)


def names() -> list[str]:
    """Every messenger's name."""
    return [messenger.name for messenger in MESSENGERS]


def build_channels(settings: Settings) -> dict[str, Channel]:
    """Every channel the configuration enables, each built by its own adapter module."""
    channels: dict[str, Channel] = {}
    for messenger in MESSENGERS:
        if messenger.enabled(settings):
            adapter = importlib.import_module(messenger.module)
            channels[messenger.name] = adapter.build_channel(settings)
    return channels
