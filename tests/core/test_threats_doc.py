"""THREATS.md stays honest: every test it cites exists, and its authorisation table has a row
for every command the bot answers."""

from __future__ import annotations

import inspect
import re
import secrets
from pathlib import Path

from bot.app import App
from bot.channels.console import ConsoleChannel
from bot.conversation import SAFETY_COMMANDS, Conversation
from tests.conftest import ManualClock, core_settings

ROOT = Path(__file__).resolve().parents[2]
THREATS = ROOT / "THREATS.md"
CITATION = re.compile(r"(tests/[\w/]+\.py)::(\w+)")


def citations() -> list[tuple[str, str]]:
    return sorted(set(CITATION.findall(THREATS.read_text(encoding="utf-8"))))


def test_every_cited_test_exists() -> None:
    cited = citations()
    assert len(cited) > 40, "the citation pattern found too little: is THREATS.md intact?"
    missing = []
    for path, name in cited:
        file = ROOT / path
        source = file.read_text(encoding="utf-8") if file.is_file() else ""
        if f"def {name}(" not in source:  # also matches `async def name(`
            missing.append(f"{path}::{name}")
    assert not missing, f"THREATS.md cites tests that do not exist: {missing}"


def core_commands() -> set[str]:
    """The commands `Conversation._on_command` routes itself (read from its source, so a new
    core command shows up here without anyone remembering to list it), and the safety
    commands it routes through `SAFETY_COMMANDS`."""
    source = inspect.getsource(Conversation._on_command)
    return set(re.findall(r'command == "(\w+)"', source)) | set(SAFETY_COMMANDS)


def table_commands() -> set[str]:
    text = THREATS.read_text(encoding="utf-8")
    table = text.split("### Commands", 1)[1].split("###", 1)[0]
    found = set()
    for line in table.splitlines():
        found.update(re.findall(r"`/(\w+)`", line.split("|")[1]) if line.startswith("| `/") else [])
    return found


def test_the_table_lists_every_command_the_bot_answers(tmp_path: Path) -> None:
    app = App(
        core_settings(f"sqlite:///{tmp_path / 'b.db'}"),
        secrets.token_bytes(32),
        {"console": ConsoleChannel(printer=lambda _text: None)},
        clock=ManualClock(),
    )
    try:
        answered = core_commands() | set(app.conversation.command_names())
    finally:
        app.db.dispose()
    assert {"start", "outcall", "safe", "accept", "admin", "duty"} <= answered
    listed = table_commands()
    assert not answered - listed, f"commands without a row in THREATS.md: {answered - listed}"
    assert not listed - answered, f"rows for commands the bot does not have: {listed - answered}"
