"""Hostile input: a broken config file, a forged or absurd message, a booby-trapped nickname.

A configuration file gives working settings or one `ConfigError` naming the file, never a
traceback. Everything a person types is read by a parser that cannot crash. And whatever
characters a person puts in a nickname or an outcall detail, what reaches the other people
is plain, visible, bounded text: no control codes, no bidi tricks, no invisible names, no
forged lines.
"""

from __future__ import annotations

import copy
import json
import secrets
import unicodedata
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from bot.config import ConfigError, Settings, load_config, settings_from
from bot.conversation import MAX_INPUT_CHARS
from bot.keywords import keyword_action
from checkins import texts
from checkins.context import Refusal
from checkins.i18n import use_locale
from checkins.ladder import LegalModel, Notify
from checkins.messages import Identity
from checkins.parsing import (
    MAX_COMBINING_MARKS,
    MAX_DURATION,
    MAX_FIELD_CHARS,
    normalise,
    normalise_code,
    parse_clock,
    parse_duration,
    parse_outcall_form,
    resolve_due,
)
from checkins.policy import Policy
from checkins.sealing import Details
from checkins.service import ALIAS_MAX_CHARS, check_alias, check_field
from storage.tables import Outcall
from tests.chat import Chat
from tests.conftest import PIN, World, core_config

EXAMPLE = Path(__file__).parents[2] / "config.example.toml"
SOURCE = "x.toml"
FUZZ = settings(max_examples=150, deadline=None)

# -- the configuration file ----------------------------------------------------------------

# tests.conftest's configuration as a TOML file would parse into, with retention limits and
# the responders, not an emergency contact, last in south's ladder.
VALID = core_config("sqlite:///data/buddycheck.db", max_buddies=5, min_duration="10m")
VALID["retention"] = {"details": "48h", "ended_outcalls": "168h"}
del VALID["jurisdictions"]["south"]["emergency_contact"]
VALID["jurisdictions"]["south"]["ladder"][-1]["notify"] = "responders"

HOSTILE_TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",))
    # Bidi overrides, zero-width and control characters, a blank Hangul filler, a combining
    # accent, and spacing combining marks (Gujarati visarga, Devanagari visarga, Tamil ai).
    | st.sampled_from(
        "\u202e\u202d\u2066\u200b\u200d\ufeff\x00\x1b\n\t\u3164\u0301\u0a83\u0903\u0bc8"
    ),
    max_size=30,
)
BAD_DURATIONS = st.sampled_from(
    [
        "-5m",
        "0",
        "1h30x",
        "99999999999h",
        "9999h" * 200,
        "",
        " ",
        "10m\u202e",
        "１０ｍ",
        "1e9s",
        "ten minutes",
        "PT10M",
    ]
)
LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([0, -1, 2**63, -(2**63) - 1, 10**400]),
    st.floats(),
    HOSTILE_TEXT,
    BAD_DURATIONS,
    st.dates(),
    st.datetimes(),
    st.times(),
)
VALUES = st.recursive(
    LEAF,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(HOSTILE_TEXT, inner, max_size=3),
    max_leaves=8,
)
KNOWN_KEYS = st.sampled_from(
    [
        *("service", "database", "telegram", "signal", "crypto", "security", "retention"),
        *("outbox", "jurisdictions", "ladder", "after", "notify", "timezone", "legal_model", "x"),
    ]
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key path into a parsed config (list positions included)."""
    if isinstance(node, dict | list):
        for key, child in node.items() if isinstance(node, dict) else enumerate(node):
            yield (*prefix, key)
            yield from _paths(child, (*prefix, key))


def _parent(data: dict[str, Any], path: tuple[Any, ...]) -> Any:
    node: Any = data
    for key in path[:-1]:
        node = node[key]
    return node


@st.composite
def mutated_configs(draw: st.DrawFn) -> dict[str, Any]:
    """The valid config with a few keys retyped, dropped or added (unknown or misplaced)."""
    data = copy.deepcopy(VALID)
    for _edit in range(draw(st.integers(1, 4))):
        paths = list(_paths(data))
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = _parent(data, path)
        how = draw(st.sampled_from(["retype", "drop", "add"]))
        if how == "retype":
            parent[path[-1]] = draw(VALUES)
        elif how == "drop":
            del parent[path[-1]]
        elif isinstance(parent[path[-1]], dict):
            parent[path[-1]][draw(KNOWN_KEYS | HOSTILE_TEXT)] = draw(VALUES)
    return data


def assert_settings_or_config_error(load: Any, source: str) -> Settings | None:
    """`load()` gives usable settings or a ConfigError naming `source`; nothing else."""
    try:
        result = load()
    except ConfigError as error:
        assert source in str(error), str(error)
        return None
    assert isinstance(result, Settings)
    policy = result.policy()  # what `buddycheck run` does next must work too
    assert policy.jurisdiction(policy.default_jurisdiction) is not None
    assert_every_ladder_reaches_someone_in_time(policy)
    return result


# A date well past any test clock: a deadline this far on must still be computable.
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)


def assert_every_ladder_reaches_someone_in_time(policy: Policy) -> None:
    """Buddies or responders are alerted before the retention limit closes the outcall, even
    for the longest check-in with all its extra time, and no duration overflows a deadline."""
    limits = policy.limits
    for place in policy.jurisdictions.values():
        ladder = place.ladder
        first_alert = next(s for s in ladder.stages if s.notify is not Notify.WORKER)
        latest_due = limits.max_duration + ladder.max_extension
        assert latest_due + first_alert.after < ladder.retention, place.id
        durations = [
            *(stage.after for stage in ladder.stages),
            *(ladder.reminder_before, ladder.ack_timeout, ladder.max_extension, ladder.retention),
            *(value for value in vars(limits).values() if isinstance(value, timedelta)),
        ]
        for duration in durations:
            assert FAR_FUTURE + duration >= FAR_FUTURE  # OverflowError if it were absurd


def _with(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(VALID)
    _parent(data, path)[path[-1]] = value
    return data


@FUZZ
@given(mutated_configs())
@example(_with(("jurisdictions", "north", "ack_timeout"), 80_000_000_000_000))
@example(_with(("jurisdictions", "north", "ladder", 1, "after"), "49h"))
@example(_with(("jurisdictions", "north", "details_retention"), "3h"))
@example(_with(("service", "max_duration"), "47h"))
def test_a_mutated_config_gives_settings_or_a_config_error_naming_the_source(
    data: dict[str, Any],
) -> None:
    assert_settings_or_config_error(lambda: settings_from(data, SOURCE), SOURCE)


@FUZZ
@given(st.dictionaries(KNOWN_KEYS | HOSTILE_TEXT, VALUES, max_size=6))
def test_any_nested_data_gives_settings_or_a_config_error(data: dict[str, Any]) -> None:
    assert_settings_or_config_error(lambda: settings_from(data, SOURCE), SOURCE)


def test_the_valid_base_really_is_valid() -> None:
    """Otherwise the mutation tests above would only ever see errors."""
    assert assert_settings_or_config_error(lambda: settings_from(VALID, SOURCE), SOURCE)


def to_toml(data: dict[str, Any]) -> str:
    """Write parsed data back as TOML: one inline table per top-level key."""

    def value(item: Any) -> str:
        if isinstance(item, bool):
            return "true" if item else "false"
        if isinstance(item, int | float):
            return repr(item)  # TOML spells inf and nan the same way
        if isinstance(item, str):
            return json.dumps(item, ensure_ascii=False)
        if isinstance(item, list):
            return "[" + ", ".join(value(v) for v in item) + "]"
        if isinstance(item, dict):
            pairs = (f"{json.dumps(k, ensure_ascii=False)} = {value(v)}" for k, v in item.items())
            return "{" + ", ".join(pairs) + "}"
        if item is None:
            return '""'
        return item.isoformat()  # dates, times and datetimes are TOML values too

    lines = (f"{json.dumps(key, ensure_ascii=False)} = {value(item)}" for key, item in data.items())
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("config") / "config.toml"


def test_the_toml_writer_round_trips_the_valid_config(config_file: Path) -> None:
    config_file.write_text(to_toml(VALID), encoding="utf-8")
    assert load_config(config_file).service.default_jurisdiction == "north"


@FUZZ
@given(mutated_configs())
def test_a_mutated_config_file_loads_or_says_which_file_is_wrong(
    config_file: Path, data: dict[str, Any]
) -> None:
    config_file.write_text(to_toml(data), encoding="utf-8")
    assert_settings_or_config_error(lambda: load_config(config_file), str(config_file))


@FUZZ
@given(st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300))
def test_any_text_as_a_config_file(config_file: Path, content: str) -> None:
    config_file.write_text(content, encoding="utf-8")
    assert_settings_or_config_error(lambda: load_config(config_file), str(config_file))


@FUZZ
@given(st.data())
def test_the_example_file_with_random_damage(config_file: Path, data: st.DataObject) -> None:
    content = EXAMPLE.read_text(encoding="utf-8")
    for _edit in range(data.draw(st.integers(1, 3))):
        start = data.draw(st.integers(0, len(content)))
        end = data.draw(st.integers(start, min(len(content), start + 40)))
        content = content[:start] + data.draw(HOSTILE_TEXT) + content[end:]
    config_file.write_text(content, encoding="utf-8")
    assert_settings_or_config_error(lambda: load_config(config_file), str(config_file))


@FUZZ
@given(st.binary(max_size=300))
@example(b"\xff\xfe[\x00s\x00")  # UTF-16
@example("[service]\ndefault_jurisdiction = 'nörth'\n".encode("latin-1"))
@example(b"\xef\xbb\xbf[service]\n")  # a UTF-8 byte-order mark
def test_any_bytes_as_a_config_file(config_file: Path, content: bytes) -> None:
    config_file.write_bytes(content)
    assert_settings_or_config_error(lambda: load_config(config_file), str(config_file))


def test_a_config_in_another_encoding_is_named_as_unreadable(config_file: Path) -> None:
    config_file.write_bytes(EXAMPLE.read_text(encoding="utf-8").encode("utf-16"))
    with pytest.raises(ConfigError, match="Cannot read configuration file") as raised:
        load_config(config_file)
    assert str(config_file) in str(raised.value)


def test_a_directory_instead_of_a_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path)
    assert str(tmp_path) in str(raised.value)


def test_deeply_nested_toml_is_a_config_error(config_file: Path) -> None:
    config_file.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        load_config(config_file)


@pytest.mark.parametrize(
    ("section", "key"),
    [("retention", "details"), ("security", "pin_lockout"), ("service", "min_duration")],
)
def test_a_negative_duration_is_refused(section: str, key: str) -> None:
    data = copy.deepcopy(VALID)
    data.setdefault(section, {})[key] = -300
    with pytest.raises(ConfigError, match=key):
        settings_from(data, SOURCE)


def test_a_snapshot_with_an_absurd_duration_still_escalates_and_holds_up_nobody(
    world: World,
) -> None:
    """An outcall's ladder snapshot stored before durations were bounded (an ack_timeout of
    80000000000000 s once made every engine tick fail on it with OverflowError, and "I'm on
    it" too): its buddy can still take it on, its next step still comes, and another
    worker's outcall is alerted in the same tick."""
    world.pair(world.buddy2, world.buddy)  # Kit is a worker too, with Sam as buddy
    world.service.start_outcall(world.worker, "KX482B", "14 Hollow Lane", "", "30m")
    with world.db.transaction() as session:
        outcall = session.scalars(select(Outcall)).one()
        absurd = {"ack_timeout": 80_000_000_000_000, "reminder_before": 10**15}
        outcall.ladder = {**outcall.ladder, **absurd}
    robin_ref = world.outcall_ref()
    world.clock.advance(minutes=41)
    assert world.engine.tick() == 1
    world.service.acknowledge(world.buddy, robin_ref)
    world.service.start_outcall(world.buddy2, "LM12CD", "3 Quay Street", "", "30m")
    world.clock.advance(hours=6, minutes=1)  # past the longest wait after "I'm on it"
    assert world.engine.tick() == 2, "both outcalls advanced"
    wakeup = world.engine.next_wakeup()
    assert wakeup is not None and wakeup > world.clock()
    assert any("Kit missed their check-in" in m for m in world.messages(world.buddy))


# -- parsers not yet covered by test_parsing.py --------------------------------------------

MARKS = ("Mn", "Mc", "Me")


def assert_plain(value: str) -> None:
    """Visible text only: nothing invisible, no control or bidi codes, no towers of marks."""
    assert value == value.strip() and "  " not in value
    run = 0
    for index, ch in enumerate(value):
        category = unicodedata.category(ch)
        assert category[0] != "C", f"{ch!r} ({category}) survived"
        assert ch not in "\u115f\u1160\u3164\uffa0\u2800", f"blank letter {ch!r} survived"
        assert ch == " " or not ch.isspace(), f"{ch!r} survived"
        if category in MARKS:
            assert index > 0 and value[index - 1] != " ", "a mark with nothing to sit on"
            run += 1
            assert run <= MAX_COMBINING_MARKS
        else:
            run = 0


@given(HOSTILE_TEXT | st.text())
@example("\u202eevil\u202c")
@example("a" + "\u0301\u0316\u0317" * 20)
@example("\u3164 \u2800 \ufe0f")
def test_normalise_leaves_only_plain_visible_text(value: str) -> None:
    cleaned = normalise(value)
    assert_plain(cleaned)
    assert normalise(cleaned) == cleaned, "cleaning twice changes nothing"


@pytest.mark.parametrize(
    "typed",
    [
        "{code}",
        "{lower}",
        "{a}-{b}",
        " {a} {b} ",
        "{a}\u200b-\u200b{b}",
        "{fullwidth}",
        "\u202d{code}\u202c",
    ],
)
def test_invite_codes_are_read_however_they_are_typed(typed: str) -> None:
    code = "K0M1P2Q3"
    shown = typed.format(
        code=code,
        lower=code.lower(),
        a=code[:4],
        b=code[4:],
        fullwidth="".join(chr(ord(c) + 0xFEE0) for c in code),
    )
    assert normalise_code(shown) == code
    assert normalise_code(code.replace("0", "O").replace("1", "l")) == code


@given(st.text())
def test_normalise_code_never_raises_and_keeps_no_separators(value: str) -> None:
    code = normalise_code(value)
    assert " " not in code and "-" not in code


@given(st.text(max_size=MAX_INPUT_CHARS))
@example("9999h" * 400)  # the longest a message may be, all of it hours
@example("1h" * 1000)
def test_durations_are_positive_and_bounded(value: str) -> None:
    duration = parse_duration(value)
    assert duration is None or timedelta(0) < duration <= MAX_DURATION


@pytest.mark.parametrize(("parts", "readable"), [(87, True), (88, False), (3_000, False)])
def test_a_duration_beyond_a_century_is_unreadable_not_an_overflow(
    parts: int, readable: bool
) -> None:
    """Parts add up, so enough of them would overflow a timedelta: past a century, None."""
    assert (parse_duration("9999h" * parts) is not None) is readable
    due = resolve_due("9999h" * parts, datetime(2026, 1, 1, tzinfo=UTC), "UTC")
    assert (due is not None) is readable


ZONES = sorted(available_timezones() - {"Factory", "localtime"})
DUE_TEXTS = st.sampled_from(["00:00", "00:30", "01:05", "01:20", "1:30am", "02:30", "23:59"]) | (
    st.text(max_size=12)
)
# The next occurrence of a wall-clock time: within a day, plus the largest clock change.
MAX_CLOCK_WAIT = timedelta(hours=26)


@settings(max_examples=300, deadline=None)
@given(
    value=DUE_TEXTS,
    now=st.datetimes(
        min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    zone=st.sampled_from(ZONES),
)
@example(value="01:20", now=datetime(2026, 10, 25, 1, 10, tzinfo=UTC), zone="Europe/London")
def test_a_check_in_time_is_always_ahead_in_every_timezone(
    value: str, now: datetime, zone: str
) -> None:
    due = resolve_due(value, now, zone)
    duration = parse_duration(value)
    if due is None:
        assert duration is None and parse_clock(value) is None
    elif duration is not None:
        assert due == now + duration
    else:
        assert now < due <= now + MAX_CLOCK_WAIT
        clock, local = parse_clock(value), due.astimezone(ZoneInfo(zone))
        assert clock is not None
        # The time asked for, unless the clocks skipped over it that day.
        days = (local.date(), local.date() - timedelta(days=1))
        assert local.time() == clock or not all(exists(d, clock, zone) for d in days)


def exists(day: date, clock: time, zone: str) -> bool:
    """Whether a wall-clock time happens on `day` (it doesn't when the clocks skip it)."""
    wall = datetime.combine(day, clock, tzinfo=ZoneInfo(zone))
    return wall.astimezone(UTC).astimezone(ZoneInfo(zone)).replace(tzinfo=None) == wall.replace(
        tzinfo=None
    )


@pytest.mark.parametrize(
    ("now", "typed", "wait"),
    [
        # 25 Oct 2026 in London: 01:00–02:00 BST, then the clocks go back to 01:00 GMT.
        (datetime(2026, 10, 25, 1, 10, tzinfo=UTC), "01:20", timedelta(minutes=10)),
        (datetime(2026, 10, 25, 0, 10, tzinfo=UTC), "01:05", timedelta(minutes=55)),
        (datetime(2026, 10, 25, 0, 10, tzinfo=UTC), "01:20", timedelta(minutes=10)),
        (datetime(2026, 10, 25, 1, 10, tzinfo=UTC), "01:05", timedelta(hours=23, minutes=55)),
    ],
)
def test_the_night_the_clocks_go_back_a_check_in_time_is_the_next_one(
    now: datetime, typed: str, wait: timedelta
) -> None:
    """At 01:10 (the second time round) "01:20" means in ten minutes, not an hour ago."""
    assert resolve_due(typed, now, "Europe/London") == now + wait


@given(st.text(max_size=400))
def test_the_outcall_form_gives_clean_parts_by_position(value: str) -> None:
    form = parse_outcall_form(value)
    parts = [form.plate, form.address, form.due]
    for part in [*parts, form.notes]:
        assert part is None or part == " ".join(part.split())
    assert form.plate is None or form.plate, "a part is missing or has text, never empty"
    assert form.address is None or form.plate is not None
    assert form.due is None or form.address is not None
    if "|" in value:
        assert all(p is None or "|" not in p for p in parts)


@pytest.mark.parametrize("typed", ["not safe", "unsafe", "safe?", "I don't feel safe", "sos?"])
def test_a_keyword_inside_another_sentence_is_not_acted_on(typed: str) -> None:
    assert keyword_action(typed) is None


# -- what other people see: aliases and details --------------------------------------------


@given(HOSTILE_TEXT | st.text(max_size=60))
@example("\u202eniboR")
@example("Sam\n🚨 Robin missed their check-in")
@example("\u3164")
@example("x" * (ALIAS_MAX_CHARS + 1))
@example("\u0a83")  # a spacing combining mark with nothing to sit on
@example("\u0903\u0a83 \u0bc8")
@example("?!.")
def test_an_alias_is_refused_or_plain_visible_and_short(alias: str) -> None:
    try:
        cleaned = check_alias(alias)
    except Refusal:
        return
    assert_plain(cleaned)
    assert 1 <= len(cleaned) <= ALIAS_MAX_CHARS
    # Something a person can read and tell apart: a letter, a number or a symbol (emoji).
    assert any(unicodedata.category(ch)[0] in "LNS" for ch in cleaned)


@given(HOSTILE_TEXT | st.text(max_size=400))
@example("KX482B\nAddress: somewhere else")
@example("x" * (MAX_FIELD_CHARS + 1))
def test_a_detail_is_refused_or_one_plain_bounded_line(value: str) -> None:
    try:
        cleaned = check_field(value)
    except Refusal:
        assert len(normalise(value)) > MAX_FIELD_CHARS
        return
    assert_plain(cleaned)
    assert len(cleaned) <= MAX_FIELD_CHARS


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("\u202eSam", "Sam"),  # right-to-left override
        ("Sam\u200b\u200d\ufeff", "Sam"),  # zero-width characters
        ("\u2066Sam\u2069", "Sam"),  # bidi isolates
        ("\x1b[31mSam\x1b[0m", "[31mSam [0m"),  # a terminal escape loses its ESC
        ("Sam\nKit", "Sam Kit"),  # one line, never two
        ("  Sam\t ", "Sam"),
    ],
)
def test_invisible_and_control_characters_are_cleaned_from_an_alias(typed: str, shown: str) -> None:
    assert check_alias(typed) == shown


@pytest.mark.parametrize(
    "typed",
    [
        "\u3164",  # Hangul filler: a "blank" nickname
        "\uffa0\uffa0",
        "\u115f",
        "\u2800\u2800\u2800",  # blank Braille cells
        "\u200b\u200b",
        "\u202e",
        "\ufe0f",  # a variation selector on nothing
        "\u0301\u0301",  # accents on nothing
        "\u0a83",  # a spacing combining mark on nothing
        "\u0903 \u0a83\u0bc8",
        "x" * (ALIAS_MAX_CHARS + 1),
        "\x00",
    ],
)
def test_a_blank_or_oversized_alias_is_refused(typed: str) -> None:
    with pytest.raises(Refusal, match="nickname of 1 to"):
        check_alias(typed)


def test_a_tower_of_accents_is_cut_to_what_a_real_script_needs() -> None:
    assert check_alias("Z" + "\u0336\u0334\u0337" * 10) == "Z" + "\u0336\u0334\u0337\u0336"
    assert check_alias("Nguyễn") == "Nguyễn"
    assert check_alias("שָׁלוֹם") == unicodedata.normalize("NFKC", "שָׁלוֹם")
    assert check_alias("❤️ Kit") == "❤️ Kit"
    assert check_alias("કેતન") == "કેતન"  # Gujarati with its spacing vowel signs
    assert check_alias("தமிழ்") == "தமிழ்"


@pytest.mark.parametrize("typed", ["...", "?!", "- _ -"])
def test_an_alias_of_only_punctuation_is_refused(typed: str) -> None:
    with pytest.raises(Refusal, match="at least one letter"):
        check_alias(typed)


@given(
    alias=HOSTILE_TEXT | st.text(max_size=40),
    plate=HOSTILE_TEXT,
    address=HOSTILE_TEXT | st.text(max_size=200),
    notes=HOSTILE_TEXT,
)
@example(alias="Robin", plate="KX1\nAddress: 1 Fake St", address="a\u2028b", notes="x\u2029y")
def test_rendered_details_have_one_line_per_field(
    alias: str, plate: str, address: str, notes: str
) -> None:
    """A buddy reading unlocked details sees each field on its own line, no forged lines."""
    try:
        alias, fields = check_alias(alias), [check_field(v) for v in (plate, address, notes)]
    except Refusal:
        return
    with use_locale("en"):
        rendered = texts.unlocked(alias, Details(*fields), timedelta(minutes=10))
        steps = texts.default_protocol(alias, LegalModel.CRIMINALISED, unlock=True)
        alert = texts.alert("abc123", alias, "23:30", sos=False, repeat=False, steps=steps)
    lines = rendered.split("\n")
    unknown = "Car plate: not known (they didn't know it)"
    plate = f"Car plate: {fields[0]}" if texts.known(fields[0]) else unknown
    expected = [f"🔓 {alias}'s details:", plate, f"Address: {fields[1]}"]
    if fields[2]:
        expected.append(f"Notes: {fields[2]}")
    assert lines[:-1] == expected
    assert alert.text.split("\n")[0] == f"🚨 {alias} missed their check-in (due 23:30)."
    assert len(alert.text.split("\n")) == 7  # head, "What to do:", 3 steps, unlock, take it
    for blob in (rendered, alert.text):
        assert not any(unicodedata.category(ch)[0] == "C" for ch in blob.replace("\n", ""))


def outbox_texts(world: World) -> list[str]:
    with world.db.transaction() as session:
        return [row[0] for row in session.execute(text("SELECT text FROM outbox ORDER BY id"))]


def test_a_booby_trapped_alias_reaches_the_buddy_cleaned(world: World) -> None:
    eve = Identity("console", "eve")
    view = world.service.register(eve, "\u202eEve\u200b\nRobin is safe", PIN)
    assert view.alias == "Eve Robin is safe"
    world.pair(world.worker, eve)
    told = world.last(world.worker).split("\n")
    assert told[0].startswith("Eve Robin is safe is now your buddy. If you miss")
    for message in outbox_texts(world):
        assert "\u202e" not in message and "\u200b" not in message


def test_booby_trapped_details_unlock_as_plain_lines(world: World) -> None:
    world.service.start_outcall(
        world.worker,
        "KX\u202e482B",
        "14 Hollow Lane\nCar plate: FAKE1",
        "\u2066white\u2069 van" + "\u200b" * 500,
        "30m",
    )
    world.service.sos(world.worker)
    unlocked = world.service.unlock(world.buddy, world.outcall_ref(), PIN)
    lines = unlocked.text.split("\n")
    assert lines[1:4] == [
        "Car plate: KX 482B",
        "Address: 14 Hollow Lane Car plate: FAKE1",
        "Notes: white van",
    ]
    assert len(lines) == 5


def test_an_oversized_detail_is_refused_and_nothing_is_sealed(world: World) -> None:
    with pytest.raises(Refusal, match="under 300 characters"):
        world.service.start_outcall(world.worker, "K" * 301, "14 Hollow Lane", "", "30m")
    assert world.service.current_outcall(world.worker) is None


# -- the conversation's size limit ---------------------------------------------------------


def stored(chat: Chat) -> str:
    """Every text column the database holds, joined."""
    with chat.app.db.transaction() as session:
        rows = session.execute(text("SELECT text FROM outbox"))
        aliases = session.execute(text("SELECT alias FROM members"))
        return "\n".join([r[0] for r in rows] + [a[0] for a in aliases])


TOO_LONG = "K" * (MAX_INPUT_CHARS + 1)


async def test_an_over_long_nickname_is_refused_and_the_step_waits(chat: Chat) -> None:
    await chat.start("robin")
    assert "too long" in await chat.send("robin", TOO_LONG)
    assert chat.app.service.member(Identity("console", "robin")) is None
    assert "choose a PIN" in await chat.send("robin", "Robin")
    assert TOO_LONG[:50] not in stored(chat)


async def test_an_over_long_outcall_detail_is_refused_and_nothing_is_kept(chat: Chat) -> None:
    for person in ("robin", "sam"):
        await chat.register(person)
    await chat.pair("robin", "sam")
    robin = Identity("console", "robin")

    assert "too long" in await chat.send("robin", f"/outcall {TOO_LONG} | 1 Main St | 1h")
    assert chat.app.service.current_outcall(robin) is None
    assert "car plate" in await chat.send("robin", "/outcall")
    assert "too long" in await chat.send("robin", TOO_LONG)
    # The long message was not taken as the plate: the plate is still what is asked for.
    assert "What is the address" in await chat.send("robin", "KX482B")
    assert TOO_LONG[:50] not in stored(chat)


async def test_a_message_at_the_limit_is_read_then_the_field_limit_applies(chat: Chat) -> None:
    for person in ("robin", "sam"):
        await chat.register(person)
    await chat.pair("robin", "sam")
    form = "/outcall {plate} | 1 Main St | 1h"
    plate = "K" * (MAX_INPUT_CHARS - len(form.format(plate="")))
    assert len(form.format(plate=plate)) == MAX_INPUT_CHARS
    reply = await chat.send("robin", form.format(plate=plate))
    assert "under 300 characters" in reply
    assert chat.app.service.current_outcall(Identity("console", "robin")) is None
    assert "K" * 50 not in stored(chat)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    head=st.text(max_size=20),
    filler=st.sampled_from(["K", "🆘", "\u202e", " x", "SAFE ", "/outcall "]),
    tail=st.text(max_size=20),
)
async def test_any_over_long_message_gets_the_same_clear_answer(
    chat: Chat, head: str, filler: str, tail: str
) -> None:
    line = head + filler * (MAX_INPUT_CHARS // len(filler) + 1) + tail
    assume(len(line.strip()) > MAX_INPUT_CHARS)
    person = secrets.token_hex(4)  # a new person each time, well within per-person limits
    assert "That message is too long" in await chat.send(person, line)
    assert "/outcall" not in stored(chat)
