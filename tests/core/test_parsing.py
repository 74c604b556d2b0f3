"""Hostile and sloppy input: every parser gives a value or a clear None, never an exception."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.keywords import keyword_action
from checkins.actions import Verb, parse_action
from checkins.locations import find_location
from checkins.parsing import (
    parse_clock,
    parse_duration,
    parse_outcall_form,
    resolve_due,
)

NOW = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)


@given(st.text(max_size=200))
def test_parsers_never_raise(text: str) -> None:
    parse_duration(text)
    parse_clock(text)
    parse_outcall_form(text)
    find_location(text)
    parse_action(text)
    keyword_action(text)
    due = resolve_due(text, NOW, "Europe/London")
    assert due is None or due > NOW


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("90m", 90), ("2h", 120), ("1h30", 90), ("1 h 30 min", 90), ("２h", 120), ("45 MINS", 45)],
)
def test_durations_people_type(text: str, minutes: int) -> None:
    assert parse_duration(text) == timedelta(minutes=minutes)


@pytest.mark.parametrize("text", ["90", "soon", "0m", "-5m", "1h 2x", ""])
def test_unreadable_durations_are_not_guessed(text: str) -> None:
    assert parse_duration(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("23:30", time(23, 30)), ("23.30", time(23, 30)), ("11pm", time(23)), ("7:05 am", time(7, 5))],
)
def test_clock_times(text: str, expected: time) -> None:
    assert parse_clock(text) == expected


def test_a_clock_time_already_past_today_means_tomorrow() -> None:
    assert resolve_due("21:30", NOW, "UTC") == datetime(2026, 11, 24, 21, 30, tzinfo=UTC)


def test_one_message_form_takes_parts_by_position_and_never_guesses() -> None:
    form = parse_outcall_form("KX482B | 14 Hollow Lane, flat 3 | 90m")
    assert (form.plate, form.address, form.notes, form.due) == (
        "KX482B",
        "14 Hollow Lane, flat 3",
        "",
        "90m",
    )
    lines = parse_outcall_form("KX482B\n14 Hollow Lane\nwhite van\n2h")
    assert (lines.notes, lines.due) == ("white van", "2h")
    short = parse_outcall_form("KX482B | 14 Hollow Lane")
    assert short.due is None


def test_one_message_form_finds_the_time_line_wherever_it_is_and_keeps_every_other_line() -> None:
    before = parse_outcall_form("KX482B\n14 Hollow Lane\n1h\nwhite van\nsays Dan")
    assert (before.due, before.notes) == ("1h", "white van | says Dan")
    missing = parse_outcall_form("KX482B | 14 Hollow Lane | tbd")
    assert (missing.due, missing.notes) == (None, "tbd")  # kept as a note; the time is asked


@pytest.mark.parametrize(
    ("text", "coordinates", "label"),
    [
        ("https://maps.google.com/maps?q=51.5%2C-0.12", "51.500000,-0.120000", ""),
        (
            "Rex\n\nOpenStreetMap: https://www.openstreetmap.org/?mlat=1.5&mlon=2",
            "1.500000,2.000000",
            "Rex",
        ),
        (
            "14 Elm Row https://www.google.com/maps/@-33.86,151.2,17z",
            "-33.860000,151.200000",
            "14 Elm Row",
        ),
        ("geo:10.5,20.25", "10.500000,20.250000", ""),
        ("https://maps.apple.com/?ll=48.85,2.35&q=Cafe", "48.850000,2.350000", ""),
    ],
)
def test_map_links_people_share_are_read_as_a_place(
    text: str, coordinates: str, label: str
) -> None:
    place = find_location(text)
    assert place is not None and (place.coordinates, place.label) == (coordinates, label)
    assert coordinates not in repr(place)  # a stray log of an event can't say where


@pytest.mark.parametrize(
    "text",
    [
        "https://example.com/a",
        "geo:91,0",
        "https://maps.google.com/maps?q=cafe",
        "KX1\ngeo:1,2\n1h",
    ],
)
def test_text_that_is_not_a_shared_place_is_left_alone(text: str) -> None:
    assert find_location(text) is None


@given(st.text(max_size=80))
def test_forged_button_tokens_are_parsed_or_rejected(token: str) -> None:
    action = parse_action(token)
    assert action is None or (isinstance(action.verb, Verb) and len(action.token()) <= 64)


@pytest.mark.parametrize("text", ["SAFE", "safe", "I'm safe!", "I’M SAFE", "Safe ✅"])
def test_safe_keyword_in_any_case(text: str) -> None:
    action = keyword_action(text)
    assert action is not None and action.verb is Verb.SAFE


# Per shipped language: the words for hours and minutes people type, and how they write a
# time of day (checkins/parsing.py keeps the word lists).
HOURS_MINUTES = {
    "en": ("hours", "min"),
    "es": ("horas", "minutos"),
    "pt_BR": ("horas", "minutos"),
    "fr": ("heures", "min"),
    "ro": ("ore", "minute"),
    "ru": ("часа", "минут"),
    "th": ("ชั่วโมง", "นาที"),
}
JOINED = {"es": "y", "pt_BR": "e", "fr": "et", "ro": "și", "ru": "и"}
AT_TIME = {
    "en": "at {h}:{m}",
    "es": "a las {h}:{m}",
    "pt_BR": "às {h}h{m}",
    "fr": "à {h}h{m}",
    "ro": "la ora {h}:{m}",
    "ru": "в {h}:{m}",
    "th": "{h}.{m} น.",
}


@pytest.mark.parametrize("locale", sorted(HOURS_MINUTES))
@given(hours=st.integers(0, 12), minutes=st.integers(0, 59))
def test_durations_in_every_shipped_language(locale: str, hours: int, minutes: int) -> None:
    hour_word, minute_word = HOURS_MINUTES[locale]
    total = timedelta(hours=hours, minutes=minutes)
    typed = [f"{hours} {hour_word} {minutes} {minute_word}", f"{hours}{hour_word}{minutes}"]
    if locale in JOINED:
        typed.append(f"{hours} {hour_word} {JOINED[locale]} {minutes} {minute_word}")
    for text in typed:
        assert parse_duration(text) == (total or None), text
    assert parse_duration(f"{minutes or 1} {minute_word}") == timedelta(minutes=minutes or 1)


@pytest.mark.parametrize("locale", sorted(AT_TIME))
@given(hour=st.integers(0, 23), minute=st.integers(0, 59))
def test_times_of_day_in_every_shipped_language(locale: str, hour: int, minute: int) -> None:
    text = AT_TIME[locale].format(h=hour, m=f"{minute:02d}")
    assert parse_clock(text) == time(hour, minute), text
    assert parse_duration(text) is None, text  # never read as "in so many hours"
    due = resolve_due(text, NOW, "UTC")
    assert due is not None and due.time() == time(hour, minute)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("23h30", "clock 23:30"),
        ("13h05", "clock 13:05"),
        ("2h30", "150 minutes"),
        ("1 ч 30", "90 minutes"),
    ],
)
def test_nhmm_is_a_duration_up_to_twelve_hours_and_a_time_of_day_after(
    text: str, expected: str
) -> None:
    due = resolve_due(text, NOW, "UTC")
    assert due is not None
    if expected.startswith("clock"):
        hour, minute = map(int, expected.split()[1].split(":"))
        assert due.time() == time(hour, minute)
    else:
        assert due - NOW == timedelta(minutes=int(expected.split()[0]))
