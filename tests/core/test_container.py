"""The Dockerfile and docker-compose.yml agree with the code they run: no engine builds or
starts them in CI (`make lint` only lints them), so a renamed command, option, setting or
path would otherwise first fail on the server. `.ci/container-check` runs the image itself.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from click.testing import CliRunner
from packaging.requirements import Requirement
from packaging.version import Version
from pydantic import BaseModel

from bot.channels.signal import MIN_SERVER_VERSION
from bot.cli import main
from bot.config import DEFAULT_DATABASE_URL, HOME_VARIABLE, Settings, load_config

ROOT = Path(__file__).parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text("utf-8"))
BOT, SIGNAL = COMPOSE["services"]["bot"], COMPOSE["services"]["signal-api"]


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    lines = [line for line in dockerfile.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    found = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def only(keyword: str) -> str:
    matches = [rest for name, rest in instructions(DOCKERFILE) if name == keyword]
    assert len(matches) == 1, f"expected one {keyword}, found {matches}"
    return matches[0]


def docker_healthcheck() -> tuple[str, str]:
    """The HEALTHCHECK's options and its shell command (the exec form runs `sh -c <command>`)."""
    options, _, command = only("HEALTHCHECK").partition("CMD ")
    argv = json.loads(command)
    assert argv[:2] == ["sh", "-c"], argv
    return options, str(argv[2])


def buddycheck_call(shell: str) -> list[str]:
    """The `buddycheck …` arguments of '<buddycheck …> || exit 1'."""
    call, separator, fallback = shell.partition("||")
    assert separator and fallback.strip() == "exit 1", (
        f"{shell!r}: `buddycheck status` exits 2 when nothing answers, which Docker reserves; "
        "it must become 1"
    )
    argv = shlex.split(call)
    assert argv[0] == "buddycheck", argv
    return argv[1:]


def assert_real_command(args: list[str]) -> None:
    """`args` names an existing subcommand and only options it has; its --help works."""
    name, *rest = args
    command = main.commands.get(name)
    assert command is not None, f"`buddycheck {name}` does not exist"
    known = {
        opt for param in command.params if isinstance(param, click.Option) for opt in param.opts
    }
    for word in rest:
        if word.startswith("-"):
            assert word in known, f"`buddycheck {name}` has no option {word}"
    result = CliRunner().invoke(main, [name, "--help"])
    assert result.exit_code == 0, result.output


def test_the_dockerfile_healthcheck_runs_buddycheck_status_with_the_served_config() -> None:
    args = buddycheck_call(docker_healthcheck()[1])
    assert args[0] == "status"
    assert_real_command(args)
    run = json.loads(only("CMD"))
    assert json.loads(only("ENTRYPOINT")) == ["buddycheck"]
    assert_real_command(run)
    # The probe must read the same file as the process it asks, or it asks the wrong port.
    assert args[args.index("--config") + 1] == run[run.index("--config") + 1]


def test_the_healthcheck_timings_leave_room_for_the_probe_and_the_start() -> None:
    options = dict(re.findall(r"--([a-z-]+)=(\d+)s", docker_healthcheck()[0]))
    from bot.status import TIMEOUT

    assert int(options["timeout"]) > TIMEOUT, "the probe itself waits up to TIMEOUT for /healthz"
    assert int(options["start-period"]) >= 30 and int(options["interval"]) >= 10
    # Compose repeats the image's check: the same command and timings, in compose's words.
    check = BOT["healthcheck"]
    assert check["test"] == ["CMD-SHELL", docker_healthcheck()[1]]
    for docker, compose in [
        ("interval", "interval"),
        ("timeout", "timeout"),
        ("start-period", "start_period"),
    ]:
        assert check[compose] == f"{options[docker]}s"


def test_the_healthcheck_says_unhealthy_not_reserved_when_nothing_answers(tmp_path: Path) -> None:
    """Run the HEALTHCHECK's own shell line against a config whose health port is closed."""
    config = tmp_path / "config.toml"
    example = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    config.write_text(example.replace('listen = "127.0.0.1:9108"', 'listen = "127.0.0.1:9"'))
    shell = docker_healthcheck()[1].replace("/config/config.toml", shlex.quote(str(config)))
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    done = subprocess.run(
        ["sh", "-c", shell],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": path},
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Nothing answers on 127.0.0.1:9" in done.stdout


def test_the_volume_holds_the_default_sqlite_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The example config, mounted at /config in the image, puts its relative SQLite path
    under the image's BUDDYCHECK_HOME: in the volume, not in the read-only /config."""
    home = re.search(r"BUDDYCHECK_HOME=(\S+)", only("ENV"))
    assert home is not None
    monkeypatch.setenv(HOME_VARIABLE, home.group(1))
    mounted = tmp_path / "config.toml"
    mounted.write_text((ROOT / "config.example.toml").read_text(encoding="utf-8"))
    url = load_config(mounted).database.url
    assert Path(url.removeprefix("sqlite:///")).parent == Path(only("VOLUME"))
    assert DEFAULT_DATABASE_URL == "sqlite:///data/buddycheck.db"


def test_the_image_runs_as_the_user_it_creates_and_copies_every_package() -> None:
    uid = re.search(r"useradd [^&]*--uid (\d+)", only("RUN"))
    assert uid is not None
    assert only("USER").split(":")[0] == uid.group(1)
    copied = {rest.split()[0] for name, rest in instructions(DOCKERFILE) if name == "COPY"}
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    assert packages <= copied, f"not copied into the image: {packages - copied}"


def test_the_base_image_is_pinned_by_digest_and_setuptools_by_constraints() -> None:
    assert re.fullmatch(r"python:3\.11-slim-bookworm@sha256:[0-9a-f]{64}", only("FROM"))
    # The Debian files are the pinned base's: nothing installed or upgraded over them.
    assert "apt-get" not in only("RUN")
    pins = dict(
        line.split("==") for line in (ROOT / "constraints.txt").read_text().split() if "==" in line
    )
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    for requirement in map(Requirement, pyproject["build-system"]["requires"]):
        assert requirement.name in pins, f"{requirement.name} is built with, so pin it"
        assert requirement.specifier.contains(pins[requirement.name])
    assert "PIP_CONSTRAINT=" in only("RUN"), "-c alone does not reach pip's build environment"


def field_of(model: type[BaseModel], dotted: list[str]) -> bool:
    head, *rest = dotted
    field = model.model_fields.get(head)
    if field is None:
        return False
    if not rest:
        return True
    inner = field.annotation
    return isinstance(inner, type) and issubclass(inner, BaseModel) and field_of(inner, rest)


def compose_environment() -> dict[str, str]:
    """The bot's environment with compose's ${VAR:?…} filled in as .env would."""
    filled = {"POSTGRES_PASSWORD": "pw", "SIGNAL_NUMBER": "+15551234567"}
    return {
        key: re.sub(r"\$\{(\w+)[^}]*\}", lambda m: filled[m.group(1)], value)
        for key, value in BOT["environment"].items()
    }


def test_the_compose_settings_are_real_settings_and_load(monkeypatch: pytest.MonkeyPatch) -> None:
    environment = compose_environment()
    for key in environment:
        assert key.startswith("BUDDYCHECK_"), key
        dotted = key.removeprefix("BUDDYCHECK_").lower().split("__")
        assert field_of(Settings, dotted), f"{key} names no setting"
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    settings = load_config(ROOT / "config.example.toml")
    assert settings.signal.service == "signal-api:8080"
    assert settings.database.url.startswith("postgresql+psycopg://buddycheck:pw@postgres")
    assert str(settings.crypto.pepper_file) == "/run/secrets/buddycheck_pepper"
    assert "buddycheck_pepper" in BOT["secrets"]
    assert any(volume.split(":")[1] == "/config" for volume in BOT["volumes"])
    assert_real_command(BOT["command"])


def test_compose_starts_the_bot_once_signal_is_healthy_on_a_pinned_release() -> None:
    image, _, tag = SIGNAL["image"].partition(":")
    assert image == "bbernhard/signal-cli-rest-api"
    assert re.fullmatch(r"\d+\.\d+", tag), f"pin a release, not {tag!r}"
    assert Version(tag) >= MIN_SERVER_VERSION, "signalbot refuses older servers"
    assert SIGNAL["environment"]["MODE"] == "json-rpc"
    assert "http://localhost:8080/v1/health" in SIGNAL["healthcheck"]["test"]
    assert "--fail" in SIGNAL["healthcheck"]["test"]
    for name, service in BOT["depends_on"].items():
        assert service["condition"] == "service_healthy", name
        assert "healthcheck" in COMPOSE["services"][name], name
