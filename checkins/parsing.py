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
# The words for hours, minutes and seconds people type, in every shipped language (lower
# case, after NFKC; a trailing dot is dropped, so "мин." and "ชม." are found).
_UNIT_WORDS = {
    "h": (
        "h hr hrs hour hours"  # English
        " hora horas"  # Spanish, Portuguese
        " heure heures"  # French
        " oră ore ora orã"  # Romanian (with and without the breve)
        " ч час часа часов"  # Russian
        " ชม ชั่วโมง"  # Thai
    ),
    "m": ("m min mins minute minutes minuto minutos mn minut м мин минута минуты минут минуту นาที"),
    "s": (
        "s sec secs second seconds"
        " seg segundo segundos"
        " seconde secondes"
        " secundă secunde secunda"
        " с сек секунда секунды секунд секунду"
        " วินาที"
    ),
}
_UNITS = {word: unit for unit, words in _UNIT_WORDS.items() for word in words.split()}
# Words that join two parts ("1 hora e 30", "2 ore și 15"): dropped.
_JOINERS = frozenset(["and", "y", "e", "et", "și", "si", "и", "และ"])
# Words before a clock time ("at 23:30", "à 23h30", "в 23:30", "ตอน 23.30"): the text is a
# time of day, never a duration. And the Thai "o'clock" abbreviation after one.
_CLOCK_BEFORE = frozenset(
    {
        *("at", "by"),  # English
        *("a", "las", "hasta"),  # Spanish
        *("à", "às", "as", "até"),  # French, Portuguese
        *("la", "pe", "ora"),  # Romanian
        *("в", "к", "до"),  # Russian
        *("ที่", "ตอน", "เวลา", "ก่อน"),  # Thai
    }
)
_CLOCK_AFTER = ("น.", "น")
_DURATION_PART = re.compile(r"(\d{1,4})([^\d]*)")
_CLOCK = re.compile(r"(\d{1,2})(?:[:.h](\d{2}))?\s*(am|pm)?")
# "23h30" is a clock time in French and Portuguese, "1h30" a duration everywhere: from 13
# hours on, no one means a check-in that far ahead.
_CLOCK_LIKE = re.compile(r"(\d{1,2})h(\d{2})")
LONGEST_READ_AS_DURATION = 12


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
    """`90m`, `2h`, `1h30`, `1 h 30 min`, `45s`, `2 horas`, `1 ч 30`, `30 นาที` → timedelta;
    anything else (a time of day like "à 23h30" among it) → None."""
    words = _words(text)
    if not words or words[0] in _CLOCK_BEFORE:
        return None
    value = "".join(word for word in words if word not in _JOINERS)
    clock_like = _CLOCK_LIKE.fullmatch(value)
    if clock_like and int(clock_like[1]) > LONGEST_READ_AS_DURATION:
        return None
    total, position, previous = 0, 0, None
    for match in _DURATION_PART.finditer(value):
        word = match[2].rstrip(".")
        unit = _UNITS.get(word) if word else _bare_unit(previous, match.end() == len(value))
        if match.start() != position or unit is None:
            return None
        total += int(match[1]) * _UNIT_SECONDS[unit]
        position, previous = match.end(), unit
        if total > MAX_DURATION.total_seconds():
            return None
    if position != len(value) or total == 0:
        return None
    return timedelta(seconds=total)


def _bare_unit(previous: str | None, last: bool) -> str | None:
    """A number with no unit is minutes only as the last part after hours ("1h30")."""
    return "m" if previous == "h" and last else None


def _words(text: str) -> list[str]:
    return normalise(text).lower().split()


def parse_clock(text: str) -> time | None:
    """`23:30`, `23.30`, `23h30`, `11pm`, `11:30 pm`, `at 23:30`, `в 23:30`, `23.30 น.` → a
    wall-clock time; anything else → None."""
    words = _words(text)
    while len(words) > 1 and words[0] in _CLOCK_BEFORE:  # "a las 23:30", "la ora 23:30"
        words = words[1:]
    if words and words[-1] in _CLOCK_AFTER:
        words = words[:-1]
    value = " ".join(words)
    for suffix in _CLOCK_AFTER:  # "23.30น." typed without a space
        value = value.removesuffix(suffix)
    match = _CLOCK.fullmatch(value.strip())
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
    """Split `PLATE | ADDRESS | WHEN | NOTES` (or one part per line) into its parts.

    The plate and the address are the first two parts. Of the parts after them, the first
    that reads as a time (`reads_as_time`) is the check-in time, wherever it is (before or
    after the notes); the others are the notes. With none that reads as a time, they are all
    notes and the time is asked for, so nothing typed is lost in the time's place. Blank
    lines and extra spaces are dropped.
    """
    separator = "|" if "|" in text else "\n"
    parts = [" ".join(part.split()) for part in text.split(separator)]
    parts = [part for part in parts if part]
    if not parts:
        return OutcallForm()
    if len(parts) == 1:
        return OutcallForm(plate=parts[0])
    rest = parts[2:]
    at = next((index for index, part in enumerate(rest) if reads_as_time(part)), None)
    due = rest.pop(at) if at is not None else None
    return OutcallForm(plate=parts[0], address=parts[1], notes=" | ".join(rest), due=due)


def reads_as_time(text: str) -> bool:
    """Whether `text` is a duration or a clock time (not whether it is within the limits)."""
    return parse_duration(text) is not None or parse_clock(text) is not None


def normalise_code(text: str) -> str:
    """Invite codes are read case-blind and without spaces or dashes; O/I/L read as 0/1/1."""
    value = normalise(text).upper().replace("-", "").replace(" ", "")
    return value.translate(str.maketrans("OIL", "011"))
