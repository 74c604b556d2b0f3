"""Reading what people type: durations, clock times, the one-message outcall form, keywords.

Every parser returns a value or `None` (or a result naming what is missing); none raises on
any input, so a typo always becomes a clear question back, never a crash or a silent guess.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MAX_FIELD_CHARS = 300
MAX_COMBINING_MARKS = 4
# A duration no one means (a century): longer ones are unreadable, not an overflow.
MAX_DURATION = timedelta(days=36525)
# Letters (not format characters) that render as nothing: the usual way to fake a blank name.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")

_UNIT_SECONDS = {"h": 3600, "m": 60, "s": 1}
_UNITS = {
    "h": "h",
    "hr": "h",
    "hrs": "h",
    "hour": "h",
    "hours": "h",
    "m": "m",
    "min": "m",
    "mins": "m",
    "minute": "m",
    "minutes": "m",
    "s": "s",
    "sec": "s",
    "secs": "s",
    "second": "s",
    "seconds": "s",
}
_DURATION_PART = re.compile(r"(\d{1,4})\s*([a-z]+)")
_HOURS_MINUTES = re.compile(r"(\d{1,2})\s*h\s*(\d{1,2})")
_CLOCK = re.compile(r"(\d{1,2})(?:[:.h](\d{2}))?\s*(am|pm)?")


def normalise(text: str) -> str:
    """NFKC-fold, drop invisible and control characters and collapse spaces.

    Full-width digits become ASCII. Control, format (bidi overrides, zero-width), private-use
    and unassigned characters become spaces, and so do letters that render as blank space
    (Hangul fillers, the blank Braille cell), so an alias or a detail cannot hide, reorder
    or forge text around it. Combining marks (spacing ones like the Gujarati visarga too)
    are kept only on a visible character and at most `MAX_COMBINING_MARKS` in a row, which
    every real script fits in but a tower of marks spilling over other lines ("zalgo") does
    not.
    """
    folded = unicodedata.normalize("NFKC", text)
    return " ".join(_tame_marks(_blank_out_invisible(folded)).split())


def _blank_out_invisible(text: str) -> str:
    return "".join(
        " " if ch in _BLANK_LETTERS or unicodedata.category(ch)[0] == "C" else ch for ch in text
    )


def _tame_marks(text: str) -> str:
    kept: list[str] = []
    run = 0
    for ch in text:
        if unicodedata.category(ch).startswith("M"):
            if not kept or kept[-1].isspace() or run >= MAX_COMBINING_MARKS:
                continue
            run += 1
        else:
            run = 0
        kept.append(ch)
    return "".join(kept)


def readable(text: str) -> bool:
    """Whether `text` has something a person can read and tell apart: a letter, a number or
    a symbol (an emoji counts), not only punctuation, spaces and marks."""
    return any(unicodedata.category(ch)[0] in "LNS" for ch in text)


def parse_duration(text: str) -> timedelta | None:
    """`90m`, `2h`, `1h30`, `1 h 30 min`, `45s` → timedelta; anything else → None."""
    value = normalise(text).lower().replace(" ", "")
    if not value:
        return None
    short = _HOURS_MINUTES.fullmatch(value)
    if short:
        return timedelta(hours=int(short[1]), minutes=int(short[2]))
    total, position = 0, 0
    for match in _DURATION_PART.finditer(value):
        unit = _UNITS.get(match[2])
        if match.start() != position or unit is None:
            return None
        total += int(match[1]) * _UNIT_SECONDS[unit]
        position = match.end()
        if total > MAX_DURATION.total_seconds():
            return None
    if position != len(value) or total == 0:
        return None
    return timedelta(seconds=total)


def parse_clock(text: str) -> time | None:
    """`23:30`, `23.30`, `11pm`, `11:30 pm` → a wall-clock time; anything else → None."""
    value = normalise(text).lower()
    match = _CLOCK.fullmatch(value)
    if not match or (match[2] is None and match[3] is None):
        return None
    hour, minute = int(match[1]), int(match[2] or 0)
    if match[3]:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if match[3] == "pm" else 0)
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def resolve_due(text: str, now: datetime, timezone: str) -> datetime | None:
    """When a check-in is due: a duration from now, or the next occurrence of a clock time."""
    duration = parse_duration(text)
    if duration is not None:
        return now + duration
    clock = parse_clock(text)
    if clock is None:
        return None
    zone = ZoneInfo(timezone)
    today = now.astimezone(zone).date()
    # Compare instants, not wall times: when clocks go back, 01:20 happens twice and the
    # worker means the next one still ahead, never one that has already passed.
    candidates = [
        datetime.combine(today + timedelta(days=days), clock, tzinfo=zone).replace(fold=fold)
        for days in (0, 1, 2)
        for fold in (0, 1)
        if fold == 0 or _is_repeated(today + timedelta(days=days), clock, zone)
    ]
    return min(due for due in candidates if due > now).astimezone(now.tzinfo)


def _is_repeated(day: date, clock: time, zone: ZoneInfo) -> bool:
    """Whether `clock` happens twice on `day` in `zone` (the hour the clocks go back)."""
    first = datetime.combine(day, clock, tzinfo=zone)
    if first.utcoffset() == first.replace(fold=1).utcoffset():
        return False
    # Both folds differ around a skipped hour too; a repeated time survives a round trip.
    return first.astimezone(UTC).astimezone(zone).time() == clock


@dataclass(frozen=True)
class OutcallForm:
    """What a one-message `/outcall` gave us; `None` fields must still be asked for."""

    plate: str | None = None
    address: str | None = None
    notes: str = ""
    due: str | None = None


def parse_outcall_form(text: str) -> OutcallForm:
    """Split `PLATE | ADDRESS | [NOTES |] WHEN` (or one part per line) into its parts.

    Parts are taken by position only; a part that is present but unreadable (a bad time) is
    kept as typed so the caller can say exactly what was wrong.
    """
    separator = "|" if "|" in text else "\n"
    parts = [" ".join(part.split()) for part in text.split(separator)]
    parts = [part for part in parts if part]
    if not parts:
        return OutcallForm()
    if len(parts) == 1:
        return OutcallForm(plate=parts[0])
    if len(parts) == 2:
        return OutcallForm(plate=parts[0], address=parts[1])
    if len(parts) == 3:
        return OutcallForm(plate=parts[0], address=parts[1], due=parts[2])
    return OutcallForm(
        plate=parts[0], address=parts[1], notes=" | ".join(parts[2:-1]), due=parts[-1]
    )


def normalise_code(text: str) -> str:
    """Invite codes are read case-blind and without spaces or dashes; O/I/L read as 0/1/1."""
    value = normalise(text).upper().replace("-", "").replace(" ", "")
    return value.translate(str.maketrans("OIL", "011"))
