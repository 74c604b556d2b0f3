"""Every button token the bot sends: short strings that fit Telegram's 64-byte callback limit.

Safety actions are `verb:ref` (`Action`); a guided form's own buttons are `c:…` (`Control`);
a feature menu's are `prefix:…` (`Menu`, with the admin menu's op codes in `AdminOp`). A
token names what to do and to what; it grants nothing by itself. Every action is authorised
against the person pressing it and the current state. `texts.py` holds only the wording.
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
    CONFIRM_SAFE = "ok"  # asks "are you sure?"; SAFE_CONFIRMED is the second tap
    SAFE_CONFIRMED = "oky"
    REMOVE_LINK = "rmlink"  # asks "are you sure?"; REMOVE_CONFIRMED removes
    REMOVE_CONFIRMED = "rmyes"


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
    if verb in PAIRING_VERBS and not _is_row_id(parts[1]):
        return None
    return Action(verb=verb, ref=parts[1], minutes=minutes)


PAIRING_VERBS = frozenset({Verb.REMOVE_LINK, Verb.REMOVE_CONFIRMED})
"""Buttons about a buddy pairing (its row id), not about an outcall: no safety actions."""


def _is_row_id(ref: str) -> bool:
    """A database id: ASCII digits that fit a 64-bit column (`int()` of "²" or of 50 digits
    would fail or overflow deep inside the service instead of getting an answer)."""
    return ref.isascii() and ref.isdigit() and len(ref) <= _MAX_ID_DIGITS


class Control(StrEnum):
    """A guided form's own buttons: they steer what is being typed and grant nothing."""

    STOP = "c:abort"
    SKIP = "c:skip"
    BACK = "c:back"
    DONE = "c:done"
    ANSWER = "c:ans"  # `c:ans:<value>`: a button that answers the question asked
    NO_PIN = "c:nopin"  # "I can't give my PIN" at a check-in
    KEYPAD = "c:keypad"  # a PIN keypad tapped while none is open (Telegram, after a restart)


def is_control(token: str) -> bool:
    """Whether a token is one of a form's own buttons (`c:…`)."""
    return token.startswith("c:")


def answer_token(value: str) -> str:
    """The token of a button that answers the current question with `value` (e.g. 30m)."""
    return f"{Control.ANSWER}:{value}"


class Menu(StrEnum):
    """Prefixes of the feature menus' buttons, `prefix:rest`; each feature routes its own."""

    SETTINGS = "set"
    LANGUAGE = "lang"
    DUTY = "duty"
    DRILL = "drill"
    EMERGENCY = "emerg"
    ADMIN = "adm"
    RELAY = "relay"  # `relay:REF`: a message through the bot between an alert's handler and worker
    COMMAND = "cmd"  # a numbered help menu's line: `cmd:outcall` runs /outcall
    WARNINGS = "wl"  # the warning list and raid alerts: `wl:op:id` (see `ListOp`)
    PLACE = "place"  # /place: `place:see:south` shows what a move changes, `place:go:south` moves


def menu_token(menu: Menu, *parts: object) -> str:
    """A feature's button token, e.g. `duty:on` or `adm:st:north:1` (step 2 of north)."""
    return ":".join([menu.value, *map(str, parts)])


class PlaceStep(StrEnum):
    """The two steps of moving to another place: see what changes, then move."""

    SEE = "see"
    GO = "go"


class Toggle(StrEnum):
    """The two answers of an on/off button (duty, the emergency contact)."""

    ON = "on"
    OFF = "off"


class SettingsKey(StrEnum):
    """The /settings menu's lines and the confirmations they lead to."""

    CHECKIN_PIN = "checkin"
    DURESS = "duress"
    CHANGE = "change"
    FORGOT = "forgot"
    FORGET = "forget"
    EMERGENCY = "emergency"
    RESET_YES = "forgot_yes"
    RESET_STOP = "reset_stop"
    FORGET_YES = "forget_yes"


class AdminOp(StrEnum):
    """The admin menu's op codes: `adm:op:place:arg…`."""

    RULES = "j"
    SEALING = "seal"
    PEOPLE = "ppl"
    STAGE = "st"
    REMOVE_STAGE = "sr"
    STAGE_AFTER = "sa"
    STAGE_WHO = "sw"
    SET_STAGE_WHO = "sn"
    ADD_STAGE = "add"
    ADD_STAGE_WHO = "an"
    DURATION = "d"
    INVITE = "inv"
    REVOKE = "rv"
    RESET = "rs"
    RESET_YES = "rsy"
    TEXT = "tx"  # `adm:tx:place:kind`: choose the language of an organisation text
    TEXT_LANGUAGE = "tl"  # `adm:tl:place:kind:language`
    OTHER_LANGUAGE = "ol"  # `adm:ol:place:kind`
    REMOVE_TEXT = "tr"  # `adm:tr:place:kind:language`


class OrgText(StrEnum):
    """The texts an organisation writes per place and language, by the short name buttons carry:
    the know-your-rights text (`/rights`) and the response protocol shown in alerts."""

    RIGHTS = "r"
    PROTOCOL = "p"


class Timing(StrEnum):
    """The timings an admin may set, by the short name their buttons carry."""

    REMINDER = "rb"
    ACK_TIMEOUT = "at"
    MAX_EXTENSION = "mx"
    RETENTION = "kp"


def admin_token(op: AdminOp, *parts: object) -> str:
    """A button token for the admin menu, e.g. `adm:st:north:1` (step 2 of north)."""
    return menu_token(Menu.ADMIN, op.value, *parts)


class ListOp(StrEnum):
    """The warning list's and raid alerts' buttons: `wl:op:id` (`checkins.reports`)."""

    PUBLISH = "pub"
    REJECT = "rej"
    EDIT = "edit"
    ASK = "ask"
    WITHDRAW = "wd"
    ANSWER = "ans"  # the reporter answers a moderator's question
    NEXT = "next"  # the next report or raid alert waiting for moderation
    RAID_PUBLISH = "rpub"
    RAID_REJECT = "rrej"
    RAID_WITHDRAW = "rwd"
    MUTE = "mute"
    UNMUTE = "unmute"
    RIGHTS = "rights"


class ReportKind(StrEnum):
    """What happened, as a report's first question offers it."""

    VIOLENT = "violent"
    ASSAULT = "assault"
    ROBBED = "robbed"
    CONDOM = "condom"
    THREAT = "threat"
    POLICE = "police"
    OTHER = "other"


class RaidKind(StrEnum):
    RAID = "raid"
    STREET = "street"
    IMMIGRATION = "immigration"
    OTHER = "other"


class Happened(StrEnum):
    """When, in words a frightened person can tap: never a date that identifies a booking."""

    NOW = "now"
    TODAY = "today"
    WEEK = "week"
    EARLIER = "earlier"


class Consent(StrEnum):
    YES = "yes"
    NO = "no"


def list_token(op: ListOp, item: int | str = "") -> str:
    """`wl:pub:12`: publish report 12."""
    return menu_token(Menu.WARNINGS, op.value, item)
