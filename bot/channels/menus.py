"""Numbered choices for messengers without buttons (Signal, the console).

Each person's last menu is remembered in memory, so replying "2" presses the second button.
After a restart the numbers are forgotten; the keywords (SAFE, SOS, …) always work.
"""

from __future__ import annotations

from checkins.messages import Button


class NumberedMenus:
    """Renders buttons as numbered lines and maps a typed number back to its action."""

    def __init__(self) -> None:
        self._last: dict[str, list[str]] = {}

    def remember(self, address: str, rows: tuple[tuple[Button, ...], ...]) -> list[Button]:
        """Make `rows` this person's current menu (unless empty); return its buttons in order.

        For adapters with their own wording; `render` is the plain numbered list.
        """
        buttons = [button for row in rows for button in row]
        if buttons:
            self._last[address] = [button.action for button in buttons]
        return buttons

    def render(self, address: str, rows: tuple[tuple[Button, ...], ...]) -> str:
        """The menu text to append to a message (empty when there are no buttons)."""
        buttons = self.remember(address, rows)
        if not buttons:
            return ""
        lines = [f"  {number}. {button.label}" for number, button in enumerate(buttons, 1)]
        return "\n\n" + "\n".join(lines)

    def resolve(self, address: str, text: str) -> str | None:
        """The action for a reply like `2`, if it picks from this person's last menu."""
        choice = text.strip().rstrip(".")
        actions = self._last.get(address, [])
        if choice.isdigit() and 1 <= int(choice) <= len(actions):
            return actions[int(choice) - 1]
        return None
