"""The command table: every command the bot answers, declared once (errbot's `@botcmd` idea).

A command's name, handler, one-line description, who may use it and whether it is urgent
live in one `Command`. /help, Telegram's command menu (setMyCommands), the numbered help menu
on Signal and the console, the per-person rate limits, the safety threads and THREATS.md's
authorisation check all read them from here, so a new command is added in one place.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from bot.keywords import command_word
from checkins.actions import Verb
from checkins.i18n import _
from checkins.messages import Identity
from checkins.service import MemberView


class Audience(StrEnum):
    """Who may use a command. The conversation turns away non-members from every command
    but the `ANYONE` ones; the service authorises roles (responders, admins) itself."""

    ANYONE = "anyone"
    MEMBER = "member"
    RESPONDER = "responder"
    ADMIN = "admin"


@dataclass(frozen=True)
class Call:
    """One command as sent: who, their member record (None only for `ANYONE` commands), the
    text after the command, and the message that carried it (to delete it if it held details)."""

    who: Identity
    member: MemberView | None
    rest: str
    message_ref: str | None = None


CommandHandler = Callable[[Call], Awaitable[None]]


@dataclass(frozen=True)
class Command:
    """One command. `description` is marked with `N_` and rendered in the reader's language.

    `urgent` commands are never rate-limited and never wait behind a settings step;
    `safety` names the safety action a command is, so it runs on the safety threads and is
    retried through database trouble. `listed` commands appear in /help and Telegram's menu;
    `shortcut` ones are also buttons (numbered choices on Signal) under /help.
    """

    name: str
    handler: CommandHandler
    description: str
    audience: Audience = Audience.MEMBER
    urgent: bool = False
    safety: Verb | None = None
    aliases: tuple[str, ...] = ()
    listed: bool = True
    shortcut: bool = False


class CommandTable:
    """The commands in the order they were added (the order /help and the menus show)."""

    def __init__(self) -> None:
        self._commands: list[Command] = []
        self._by_name: dict[str, Command] = {}

    def add(self, command: Command) -> None:
        """Add a command; a name or alias used twice is a programming error."""
        for name in (command.name, *command.aliases):
            if name in self._by_name:
                raise ValueError(f"the command /{name} is declared twice")
            self._by_name[name] = command
        self._commands.append(command)

    def get(self, name: str) -> Command | None:
        """The command `/name` (or an alias of it) runs, if any."""
        return self._by_name.get(name)

    def names(self) -> set[str]:
        """Every name the bot answers to, aliases included."""
        return set(self._by_name)

    def __iter__(self) -> Iterator[Command]:
        return iter(self._commands)

    def listed(self) -> list[Command]:
        """The commands to show, members' commands first and /start, /help last."""
        shown = [c for c in self._commands if c.listed]
        return sorted(shown, key=lambda c: c.audience is Audience.ANYONE)

    def help_text(self, words_in: str | None = None) -> str:
        """/help: the keywords that always work, then one line per listed command; with
        `words_in` (a language, where there is no command menu) each command's word in it."""
        lines = [
            _("What you can send:"),
            _("SAFE — you're out and safe"),
            _("+30 — you need 30 more minutes"),
            _("SOS — alert your buddies now"),
        ]
        for c in self.listed():
            word = command_word(words_in, c.name) if words_in else None
            named = f"/{c.name} ({word})" if word and word != c.name else f"/{c.name}"
            lines.append(f"{named} — {_(c.description)}")
        if words_in:
            lines.append(_("You can also send a command without the /, or its word in brackets."))
        return "\n".join(lines)


def command_name(text: str) -> str:
    """`/Outcall@buddybot plate…` → `outcall` (empty for text that is not a command)."""
    if not text.startswith("/"):
        return ""
    words = text[1:].split(maxsplit=1)  # a space or a new line ends the name
    return words[0].split("@", 1)[0].lower() if words else ""
