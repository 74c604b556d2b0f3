"""A broken configuration gets one clear message naming the file, the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.cli import main
from bot.config import ConfigError, load_config, settings_from

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
