"""Per-channel sending limits: a global rate and a minimum gap between messages to one chat.

Limits are obeyed, never fought: a message that would break one waits, and the outbox sends
something else meanwhile (alerts still first).
"""

from __future__ import annotations

from bot.channels.base import ChannelLimits


class RateGate:
    """Decides whether a message to `address` may go now, and if not, how long to wait."""

    def __init__(self, limits: ChannelLimits) -> None:
        self._interval = 1.0 / limits.per_second
        self._per_chat = limits.per_chat_interval
        self._next_global = 0.0
        self._next_chat: dict[str, float] = {}
        self._paused_until = 0.0

    def wait_time(self, address: str, now: float) -> float:
        """Seconds until a message to `address` may be sent (0 means now)."""
        ready = max(self._next_global, self._next_chat.get(address, 0.0), self._paused_until)
        return max(0.0, ready - now)

    def take(self, address: str, now: float) -> None:
        """Record a send to `address` at `now`."""
        self._next_global = max(self._next_global, now) + self._interval
        self._next_chat[address] = now + self._per_chat
        if len(self._next_chat) > 10_000:  # forget chats whose gap has long passed
            self._next_chat = {a: t for a, t in self._next_chat.items() if t > now}

    def pause(self, seconds: float, now: float) -> None:
        """The messenger asked us to slow down (HTTP 429): hold every send on this channel."""
        self._paused_until = max(self._paused_until, now + seconds)
