"""Hostile and sloppy input: every parser gives a value or a clear None, never an exception."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.keywords import keyword_action
from checkins.actions import Verb, parse_action
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


@given(st.text(max_size=80))
def test_forged_button_tokens_are_parsed_or_rejected(token: str) -> None:
    action = parse_action(token)
    assert action is None or (isinstance(action.verb, Verb) and len(action.token()) <= 64)


@pytest.mark.parametrize("text", ["SAFE", "safe", "I'm safe!", "I’M SAFE", "Safe ✅"])
def test_safe_keyword_in_any_case(text: str) -> None:
    action = keyword_action(text)
    assert action is not None and action.verb is Verb.SAFE
