"""A broken configuration gets one clear message naming the file, the key and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.cli import main
from bot.config import ConfigError, load_config, settings_from
from tests.conftest import core_config

EXAMPLE = Path(__file__).parents[2] / "config.example.toml"


def test_the_example_config_is_valid_and_check_config_prints_the_ladders() -> None:
    result = CliRunner().invoke(main, ["check-config", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert "[north] legal_model=criminalised" in result.output
    assert "emergency" in result.output.split("[south]")[1]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (('legal_model = "decriminalised"', 'legal_model = "legalised"'), "only allowed where"),
        (('timezone = "Europe/London"', 'timezone = "Europe/Lundon"'), "unknown timezone"),
        (("max_buddies = 5", "max_budies = 5"), "service.max_budies: unknown key"),
        (('min_duration = "10m"', 'min_duration = "ten"'), "is not a duration"),
        (
            ('default_jurisdiction = "north"', 'default_jurisdiction = "west"'),
            "no [jurisdictions.west]",
        ),
        (
            ('{ after = "10m", notify = "buddies" },', '{ after = "10m", notify = "cops" },'),
            "notify",
        ),
        (('url = "sqlite', "url = sqlite"), "not valid TOML"),
        (('listen = "127.0.0.1:9108"', 'listen = "0.0.0.0:9108"'), "must be a loopback host"),
        (('listen = "127.0.0.1:9108"', 'listen = "127.0.0.1"'), "must be a loopback host"),
    ],
)
def test_broken_configs_are_explained(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    path = tmp_path / "config.toml"
    text = EXAMPLE.read_text()
    assert edit[0] in text
    path.write_text(text.replace(edit[0], edit[1], 1))
    result = CliRunner().invoke(main, ["check-config", str(path)])
    assert result.exit_code == 1
    assert message in result.output
    assert str(path) in result.output
    assert "Traceback" not in result.output


def test_a_missing_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"Copy config\.example\.toml"):
        load_config(tmp_path / "nope.toml")


def test_environment_overrides_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUDDYCHECK_DATABASE__URL", "sqlite:///elsewhere.db")
    assert load_config(EXAMPLE).database.url == "sqlite:///elsewhere.db"


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["service", "database", "jurisdictions", "x"]),
        st.one_of(
            st.none(),
            st.integers(),
            st.text(max_size=5),
            st.dictionaries(st.text(max_size=5), st.text(max_size=5)),
        ),
    )
)
def test_any_parsed_toml_gives_settings_or_a_config_error(data: dict[str, object]) -> None:
    try:
        settings_from(data, "fuzz.toml")
    except ConfigError as error:
        assert "fuzz.toml" in str(error)


# -- every duration is bounded, and every ladder reaches someone in time --------------------

DURATIONS = [
    ("service", "min_duration"),
    ("service", "max_duration"),
    ("service", "max_extension"),
    ("service", "invite_ttl"),
    ("signal", "disappearing_timer"),
    ("signal", "send_timeout"),
    ("security", "pin_lockout"),
    ("security", "unlocked_details_visible"),
    ("security", "pin_reset_cooling_off"),
    ("retention", "details"),
    ("retention", "ended_outcalls"),
    ("retention", "sent_messages"),
    ("outbox", "max_backoff"),
    ("jurisdictions.north", "reminder_before"),
    ("jurisdictions.north", "ack_timeout"),
    ("jurisdictions.north", "max_extension"),
    ("jurisdictions.north", "details_retention"),
]


def with_value(section: str, key: str, value: object) -> dict[str, Any]:
    data = core_config("sqlite:///data/buddycheck.db")
    node = data
    for part in section.split("."):
        node = node.setdefault(part, {})
    node[key] = value
    return data


@pytest.mark.parametrize(("section", "key"), DURATIONS)
@pytest.mark.parametrize("value", [80_000_000_000_000, "9999h", 10**12])
def test_every_duration_has_a_maximum(section: str, key: str, value: object) -> None:
    """An absurd value (once, 80000000000000 seconds of ack_timeout made every engine tick
    fail) is refused where it was written, saying the longest allowed."""
    with pytest.raises(ConfigError) as raised:
        settings_from(with_value(section, key, value), "x.toml")
    message = str(raised.value)
    assert f"{section}.{key}: " in message, message
    assert "the longest allowed is" in message or "between 1h and 168h" in message, message


def test_a_step_after_the_details_are_destroyed_is_refused_naming_it() -> None:
    data = core_config("sqlite:///data/buddycheck.db")
    data["jurisdictions"]["north"]["ladder"] = [
        {"after": "0m", "notify": "worker"},
        {"after": "49h", "notify": "buddies"},
    ]
    with pytest.raises(ConfigError) as raised:
        settings_from(data, "x.toml")
    message = str(raised.value)
    assert "jurisdictions.north" in message
    assert "step 2 (49 h late: alert their buddies) comes too late" in message
    assert "48 h" in message, "says when the details are destroyed"


def test_the_longest_check_in_and_all_extra_time_must_leave_room_for_the_alert() -> None:
    """A step at 35 h fits a 4 h check-in in 48 h, not a 12 h one: an outcall started for 12 h
    and extended by 2 h would be closed before its buddies were told."""
    ladder = [{"after": "0m", "notify": "worker"}, {"after": "35h", "notify": "buddies"}]
    data = core_config("sqlite:///data/buddycheck.db", max_duration="12h")
    data["jurisdictions"]["north"]["ladder"] = ladder
    with pytest.raises(ConfigError, match=r"step 2 .* comes too late"):
        settings_from(data, "x.toml")
    data = core_config("sqlite:///data/buddycheck.db", max_duration="4h")
    data["jurisdictions"]["north"]["ladder"] = ladder
    assert settings_from(data, "x.toml").policy().jurisdiction("north")


def test_the_shortest_check_in_cannot_be_longer_than_the_longest() -> None:
    with pytest.raises(ConfigError, match="min_duration"):
        settings_from(
            core_config("sqlite:///data/buddycheck.db", min_duration="3h", max_duration="2h"),
            "x.toml",
        )


def test_relative_paths_in_the_file_are_found_next_to_it_wherever_the_command_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "deploy"
    home.mkdir()
    config = home / "config.toml"
    text = EXAMPLE.read_text().replace(
        'pepper_file = "/etc/buddycheck/pepper"', 'pepper_file = "secrets/pepper"'
    )
    assert 'pepper_file = "secrets/pepper"' in text
    config.write_text(text.replace('url = "sqlite:///data/buddycheck.db"', ""))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    settings = load_config("../deploy/config.toml")
    assert settings.database.url == f"sqlite:///{home / 'data' / 'buddycheck.db'}"
    assert settings.crypto.pepper_file == home / "secrets" / "pepper"
    monkeypatch.setenv("BUDDYCHECK_DATABASE__URL", "sqlite:///here.db")  # the environment wins
    assert load_config(config).database.url == "sqlite:///here.db"
