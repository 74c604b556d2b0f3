"""Numbered choices for messengers without buttons (Signal, the console).

One number never means two things to the same person at once. A person may hold, at the
same moment, their own outcall's buttons, the buttons of one or more buddies' alerts and the
buttons of whatever they asked for last (/help, /buddies, a question). Each of these is a
*block* of numbers of its own (docs/architecture.md, "Numbered replies"):

- the last menu (help, buddies, settings, a question's answers): 1, 2, 3, … — replaced by
  the next such menu;
- the person's own outcall: a block of ten, 11 I'm safe, 12 +30 min, 13 SOS, 14 cancel;
- each buddy's alert: the next free block of ten, e.g. 21 Unlock, 22 I'm on it, 23 Robin is
  safe, 24 "Yes, they are safe"; a second alert gets 31–34.

An outcall's or an alert's numbers stay the same for as long as they are remembered, so the
numbers printed under an alert keep working after Unlock or /help. Menus skip the numbers
an outcall or alert block holds; a new block takes a ten no menu number is in. The buttons'
tokens decide the block (`checkins.actions`). All of this is in memory: after a restart the
numbers are forgotten, and the keywords (SAFE, SOS, …) always work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from checkins.actions import Verb, parse_action
from checkins.i18n import _
from checkins.messages import Button

_OWN_SLOTS = {Verb.SAFE: 1, Verb.EXTEND: 2, Verb.SOS: 3, Verb.CANCEL: 4}
_ALERT_SLOTS = {Verb.UNLOCK: 1, Verb.ON_IT: 2, Verb.CONFIRM_SAFE: 3, Verb.SAFE_CONFIRMED: 4}
_OWN_TENS = 1
_ALERT_BLOCKS = 8  # at most this many alerts keep their numbers; the oldest is forgotten


class Context(StrEnum):
    """What a numbered choice belongs to; each has its own numbers."""

    MENU = "menu"
    OUTCALL = "outcall"
    ALERT = "alert"


@dataclass(frozen=True)
class Choice:
    """One numbered line: the number to reply, the button it presses, what it belongs to."""

    number: int
    button: Button
    context: Context


@dataclass
class _Block:
    """An outcall's or an alert's numbers: `tens` * 10 + the verb's slot."""

    tens: int
    ref: str
    actions: dict[int, str] = field(default_factory=dict)


@dataclass
class _Person:
    menu: dict[int, str] = field(default_factory=dict)
    own: _Block | None = None
    alerts: list[_Block] = field(default_factory=list)  # oldest first

    def blocks(self) -> list[_Block]:
        return ([self.own] if self.own else []) + self.alerts

    def taken_tens(self) -> set[int]:
        return {block.tens for block in self.blocks()}


def context_of(token: str) -> tuple[Context, str, int]:
    """The block a button belongs to, the outcall it names and its slot in that block."""
    action = parse_action(token)
    if action is not None and action.ref:
        if action.verb in _OWN_SLOTS:
            return Context.OUTCALL, action.ref, _OWN_SLOTS[action.verb]
        if action.verb in _ALERT_SLOTS:
            return Context.ALERT, action.ref, _ALERT_SLOTS[action.verb]
    return Context.MENU, "", 0


class NumberedMenus:
    """Numbers buttons by block and maps a typed number back to its action."""

    def __init__(self) -> None:
        self._people: dict[str, _Person] = {}

    def remember(self, address: str, rows: tuple[tuple[Button, ...], ...]) -> list[Choice]:
        """Give `rows` their numbers for this person; return them in the order shown.

        Buttons of the person's outcall or of an alert join that block (same numbers as
        before); the other buttons become the person's menu, replacing the previous one.
        """
        buttons = [button for row in rows for button in row]
        if not buttons:
            return []
        person = self._people.setdefault(address, _Person())
        placed = [(button, *context_of(button.action)) for button in buttons]
        menu = [button for button, context, _ref, _slot in placed if context is Context.MENU]
        if menu:
            person.menu = self._number_menu(person, menu)
        numbers = {action: number for number, action in person.menu.items()}
        choices = []
        for button, context, ref, slot in placed:
            if context is Context.MENU:
                number = numbers[button.action]
            else:
                block = self._block(person, context, ref)
                number = block.tens * 10 + slot
                block.actions[number] = button.action
            choices.append(Choice(number, button, context))
        return choices

    def resolve(self, address: str, text: str) -> str | None:
        """The action for a reply like `2` or `22`, if it is one of this person's numbers."""
        choice = text.strip().rstrip(".")
        person = self._people.get(address)
        if person is None or not choice.isascii() or not choice.isdigit():
            return None
        number = int(choice)
        for block in person.blocks():
            if number in block.actions:
                return block.actions[number]
        return person.menu.get(number)

    def _number_menu(self, person: _Person, buttons: list[Button]) -> dict[int, str]:
        """Number a menu 1, 2, 3, … skipping every number an outcall or alert block holds."""
        taken = person.taken_tens()
        numbered: dict[int, str] = {}
        number = 0
        for button in buttons:
            number += 1
            while number // 10 in taken:
                number += 1
            numbered[number] = button.action
        return numbered

    def _block(self, person: _Person, context: Context, ref: str) -> _Block:
        """The block of this outcall or alert, made (in a free ten) the first time it is seen."""
        if context is Context.OUTCALL:
            if person.own is None or person.own.ref != ref:
                tens = person.own.tens if person.own else self._free_tens(person, _OWN_TENS)
                person.own = _Block(tens, ref)
            return person.own
        for block in person.alerts:
            if block.ref == ref:
                return block
        if len(person.alerts) >= _ALERT_BLOCKS:
            del person.alerts[0]
        block = _Block(self._free_tens(person, _OWN_TENS + 1), ref)
        person.alerts.append(block)
        return block

    def _free_tens(self, person: _Person, first: int) -> int:
        """The lowest ten from `first` that no block and no menu number is in."""
        menu_tens = {number // 10 for number in person.menu}
        taken = person.taken_tens() | menu_tens | {0}
        tens = first
        while tens in taken:
            tens += 1
        return tens


def heading(context: Context, choices: str) -> str:
    """Signal's line under a message: what the numbers belong to, and the numbers."""
    if context is Context.OUTCALL:
        return _("For your outcall, reply {choices}.").format(choices=choices)
    if context is Context.ALERT:
        return _("For this alert, reply {choices}.").format(choices=choices)
    return _("Reply {choices}.").format(choices=choices)


def grouped(choices: list[Choice]) -> list[tuple[Context, list[Choice]]]:
    """The choices by block, in the order the blocks first appear."""
    groups: dict[Context, list[Choice]] = {}
    for choice in choices:
        groups.setdefault(choice.context, []).append(choice)
    return list(groups.items())


def render_lines(choices: list[Choice]) -> str:
    """The console's menu under a message: one numbered line each, headed by its block."""
    lines = []
    for context, group in grouped(choices):
        if context is Context.OUTCALL:
            lines.append(_("For your outcall:"))
        elif context is Context.ALERT:
            lines.append(_("For this alert:"))
        lines += [f"  {choice.number}. {choice.button.label}" for choice in group]
    return "\n\n" + "\n".join(lines) if lines else ""
