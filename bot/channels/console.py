"""The console channel: the same flows in a terminal, for `buddycheck demo` and operators.

Several people share one terminal; each is an address (their name). Buttons are shown as
numbered choices, and typing the number presses the button, numbered as on Signal
(`bot/channels/menus.py`).
"""

from __future__ import annotations

from collections.abc import Callable

from bot.channels.base import (
    RECEIVING,
    Channel,
    ChannelLimits,
    DeliveryError,
    DeliveryReceipt,
    Inbound,
    InboundHandler,
    Outbound,
)
from bot.channels.menus import NumberedMenus, render_lines
from checkins.i18n import use_locale

Printer = Callable[[str], None]


class ConsoleChannel(Channel):
    """Prints messages for named people and feeds their typed lines to the bot."""

    name = "console"

    def __init__(self, printer: Printer = print) -> None:
        self.limits = ChannelLimits(per_second=1000.0, per_chat_interval=0.0)
        self._printer = printer
        self._on_inbound: InboundHandler | None = None
        self._menus = NumberedMenus()
        self._unreachable: set[str] = set()
        self._counter = 0
        self.transcript: list[tuple[str, str]] = []

    async def start(self, on_inbound: InboundHandler) -> None:
        self._on_inbound = on_inbound

    async def stop(self) -> None:
        self._on_inbound = None

    def receive_state(self) -> str:
        return RECEIVING if self._on_inbound is not None else "stopped"

    async def send(self, message: Outbound) -> DeliveryReceipt:
        if message.address in self._unreachable:
            raise DeliveryError("blocked", permanent=True)
        choices = self._menus.remember(message.address, message.buttons)
        with use_locale(message.locale or "en"):
            text = message.text + render_lines(choices)
        self.transcript.append((message.address, text))
        self._printer(_frame(message.address, text))
        self._counter += 1
        return DeliveryReceipt(str(self._counter))

    async def feed(self, address: str, text: str) -> None:
        """A person typed a line: a number picks from their last menu, anything else is text."""
        if self._on_inbound is None:
            raise RuntimeError("console channel is not started")
        action = self._menus.resolve(address, text)
        if action is not None:
            await self._on_inbound(Inbound(self.name, address, action=action))
        else:
            await self._on_inbound(Inbound(self.name, address, text=text))

    def make_unreachable(self, address: str) -> None:
        """Behave like a messenger whose user blocked the bot (for demos and tests)."""
        self._unreachable.add(address)


def _frame(address: str, text: str) -> str:
    lines = text.splitlines() or [""]
    return "\n".join([f"┌─ to {address}"] + [f"│ {line}" for line in lines] + ["└─"])
