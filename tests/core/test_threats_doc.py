"""THREATS.md stays honest: every test it cites exists, and its authorisation table has a row
for every command in the command table, saying who may use it as the table does."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from bot.app import App
from bot.channels.console import ConsoleChannel
from bot.commands import Audience
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


def table_rows() -> dict[str, str]:
    """Each command in the table's first column, with its "Who may use it" cell."""
    text = THREATS.read_text(encoding="utf-8")
    table = text.split("### Commands", 1)[1].split("###", 1)[0]
    rows = {}
    for line in table.splitlines():
        if line.startswith("| `/"):
            cells = line.split("|")
            rows.update(dict.fromkeys(re.findall(r"`/(\w+)`", cells[1]), cells[2].strip()))
    return rows


# How the table's "Who may use it" cell begins for each audience of the command table.
AUDIENCE_WORDS = {
    Audience.ANYONE: "anyone",
    Audience.RESPONDER: "responders",
    Audience.ADMIN: "admins",
}


def test_the_table_lists_every_command_the_bot_answers(tmp_path: Path) -> None:
    app = App(
        core_settings(f"sqlite:///{tmp_path / 'b.db'}"),
        secrets.token_bytes(32),
        {"console": ConsoleChannel(printer=lambda _text: None)},
        clock=ManualClock(),
    )
    try:
        commands = app.conversation.commands
    finally:
        app.db.dispose()
    answered = commands.names()
    assert {"start", "outcall", "safe", "accept", "admin", "duty"} <= answered
    rows = table_rows()
    listed = set(rows)
    assert not answered - listed, f"commands without a row in THREATS.md: {answered - listed}"
    assert not listed - answered, f"rows for commands the bot does not have: {listed - answered}"
    for command in commands:
        who = rows[command.name]
        word = AUDIENCE_WORDS.get(command.audience)
        if word is not None:
            assert who.startswith(word), f"/{command.name} is for {command.audience}: {who!r}"
        else:
            assert not who.startswith(tuple(AUDIENCE_WORDS.values())), f"/{command.name}: {who!r}"
