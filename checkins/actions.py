"""Button actions: short tokens `verb:ref` that fit Telegram's 64-byte callback limit.

A token names what to do and to which outcall; it grants nothing by itself. Every action is
authorised against the person pressing it and the outcall's current state.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

_MAX_ID_DIGITS = 18


class Verb(StrEnum):
    SAFE = "safe"
    EXTEND = "ext"
    SOS = "sos"
    CANCEL = "cancel"
    UNLOCK = "unlock"
    ON_IT = "onit"
    CONFIRM_SAFE = "ok"
    REMOVE_LINK = "rmlink"


@dataclass(frozen=True)
class Action:
    verb: Verb
    ref: str = ""
    minutes: int = 0

    def token(self) -> str:
        parts = [self.verb.value, self.ref]
        if self.minutes:
            parts.append(str(self.minutes))
        return ":".join(parts)


def parse_action(token: str) -> Action | None:
    """The action a button token names, or None for anything malformed."""
    parts = token.split(":")
    if len(parts) not in (2, 3) or len(token) > 64:
        return None
    try:
        verb = Verb(parts[0])
        minutes = int(parts[2]) if len(parts) == 3 else 0
    except ValueError:
        return None
    if not parts[1].isalnum() and parts[1] != "":
        return None
    if verb is Verb.REMOVE_LINK and not _is_row_id(parts[1]):
        return None
    return Action(verb=verb, ref=parts[1], minutes=minutes)


def _is_row_id(ref: str) -> bool:
    """A database id: ASCII digits that fit a 64-bit column (`int()` of "²" or of 50 digits
    would fail or overflow deep inside the service instead of getting an answer)."""
    return ref.isascii() and ref.isdigit() and len(ref) <= _MAX_ID_DIGITS
