"""Production refuses weak crypto, and members on a weaker Argon2id cost move up.

`buddycheck run` and `check-config` once accepted `kdf = "insecure-fast"` and a pepper of
32 × "a" in a file anyone on the machine could read: with the database, every PIN would have
fallen within minutes. The demo and the tests keep the fast KDF; they build the service
directly (`tests/core/test_migrations_and_demo.py` runs the demo). A member whose key was
wrapped at a cheaper cost than the one configured is re-wrapped at their next correct PIN,
with nothing sealed to them lost and their duress PIN still working, unannounced.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from bot.cli import main
from checkins.sealing import KDF_COSTS, KdfCost
from storage.tables import Member, Outcall
from tests.chat import Chat, make_chat
from tests.conftest import PIN

STRONG_PEPPER = secrets.token_hex(32)
WEAK_PEPPERS = [
    "a" * 32,
    "ab" * 16,
    "0123456789" * 4,
    "abcdefghijklmnopqrstuvwxyz012345",
    "a" * 28 + "bcdefghij",
    "01101001" * 4 + "0110",
]


def config_file(directory: Path, kdf: str, pepper_file: Path | None = None) -> Path:
    path = directory / "config.toml"
    crypto = f'kdf = "{kdf}"\n' + (f'pepper_file = "{pepper_file}"\n' if pepper_file else "")
    path.write_text(
        '[service]\ndefault_jurisdiction = "north"\n'
        f'[database]\nurl = "sqlite:///{directory / "b.db"}"\n'
        f"[crypto]\n{crypto}"
        '[jurisdictions.north]\nlegal_model = "criminalised"\ntimezone = "UTC"\n'
        'ladder = [{ after = "10m", notify = "buddies" }]\n',
        encoding="utf-8",
    )
    return path


def check_config(config: Path) -> Result:
    return CliRunner().invoke(main, ["check-config", str(config)])


def run(config: Path) -> Result:
    """`buddycheck run`; with no channel configured it stops right after its crypto checks."""
    return CliRunner().invoke(main, ["run", "--config", str(config)])


def got_past_the_crypto_checks(result: Result) -> bool:
    return "No channel is configured" in result.output


@pytest.fixture
def pepper_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("BUDDYCHECK_PEPPER", STRONG_PEPPER)
    return monkeypatch


def test_run_and_check_config_refuse_the_tests_fast_kdf(
    tmp_path: Path, pepper_env: pytest.MonkeyPatch
) -> None:
    config = config_file(tmp_path, "insecure-fast")
    for result in (check_config(config), run(config)):
        assert result.exit_code != 0
        assert 'kdf = "insecure-fast" is for tests and the demo only' in result.output
        assert 'Set kdf = "moderate"' in result.output
        assert not got_past_the_crypto_checks(result)
    for kdf in ("moderate", "interactive"):
        config = config_file(tmp_path, kdf)
        assert check_config(config).exit_code == 0
        assert got_past_the_crypto_checks(run(config))


@pytest.mark.parametrize("pepper", WEAK_PEPPERS)
def test_run_and_check_config_refuse_a_weak_pepper(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pepper: str
) -> None:
    monkeypatch.setenv("BUDDYCHECK_PEPPER", pepper)
    config = config_file(tmp_path, "moderate")
    for result in (check_config(config), run(config)):
        assert result.exit_code != 0
        assert "The pepper is too easy to guess" in result.output
        assert "secrets.token_hex(32)" in result.output, "says how to make a good one"
        assert pepper not in result.output, "the pepper itself is never printed"


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_pepper_file_others_can_read_is_refused_with_the_chmod_that_fixes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: int
) -> None:
    monkeypatch.delenv("BUDDYCHECK_PEPPER", raising=False)
    pepper = tmp_path / "pepper"
    pepper.write_text(STRONG_PEPPER + "\n", encoding="utf-8")
    pepper.chmod(mode)
    config = config_file(tmp_path, "moderate", pepper)
    for result in (check_config(config), run(config)):
        assert result.exit_code != 0
        assert f"chmod 600 {pepper}" in result.output
        assert STRONG_PEPPER not in result.output
    pepper.chmod(0o600)
    assert check_config(config).exit_code == 0
    assert got_past_the_crypto_checks(run(config))


def test_check_config_without_a_pepper_here_still_validates_and_says_run_needs_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BUDDYCHECK_PEPPER", raising=False)
    result = check_config(config_file(tmp_path, "moderate", tmp_path / "not-here"))
    assert result.exit_code == 0, result.output
    assert "`buddycheck run` needs one" in result.output


# -- a member on a cheaper cost than the configured one ---------------------------------------

FAST, STRONGER = KDF_COSTS["insecure-fast"], KDF_COSTS["interactive"]
DURESS = "731946"


def cost_of(chat: Chat, alias: str) -> KdfCost:
    with chat.app.db.transaction() as session:
        member = session.scalars(select(Member).where(Member.alias == alias)).one()
        return KdfCost(member.kdf_ops, member.kdf_mem)


async def restarted(chat: Chat, directory: Path, pepper: bytes, kdf: str) -> Chat:
    """The same service, database and pepper, started again with another KDF setting."""
    chat.app.db.dispose()
    return await make_chat(directory, pepper=pepper, kdf=kdf)


async def test_a_buddy_on_a_cheaper_cost_is_rewrapped_at_the_next_unlock_and_loses_nothing(
    tmp_path: Path,
) -> None:
    pepper = secrets.token_bytes(32)
    chat = await make_chat(tmp_path, pepper=pepper)
    for person in ("robin", "sam"):
        await chat.register(person)
    await chat.pair("robin", "sam")
    assert "sealed" in await chat.send("robin", "/outcall KX482B | 14 Hollow Lane | 1h")
    assert cost_of(chat, "Sam") == FAST
    chat = await restarted(chat, tmp_path, pepper, "interactive")
    assert "SOS sent" in await chat.send("robin", "SOS")
    await chat.send("sam", "UNLOCK")
    assert "KX482B" in await chat.send("sam", PIN), "details sealed before still open"
    assert cost_of(chat, "Sam") == STRONGER
    await chat.send("sam", "UNLOCK")
    assert "14 Hollow Lane" in await chat.send("sam", PIN), "and open again at the new cost"
    await chat.send("sam", "UNLOCK")
    assert "Wrong PIN" in await chat.send("sam", "902137")


async def test_a_settings_change_rewraps_a_cheaper_key(tmp_path: Path) -> None:
    pepper = secrets.token_bytes(32)
    chat = await make_chat(tmp_path, pepper=pepper)
    await chat.register("robin")
    chat = await restarted(chat, tmp_path, pepper, "interactive")
    await chat.send("robin", "/settings")
    await chat.pick("robin", "Ask for my PIN")
    assert "ask for your PIN" in await chat.send("robin", PIN)
    assert cost_of(chat, "Robin") == STRONGER


async def test_the_checkin_pin_rewraps_a_cheaper_key(tmp_path: Path) -> None:
    pepper = secrets.token_bytes(32)
    chat = await make_chat(tmp_path, pepper=pepper)
    for person in ("robin", "sam"):
        await chat.register(person)
    await chat.pair("robin", "sam")
    await chat.send("robin", "/settings")
    await chat.pick("robin", "Ask for my PIN")
    await chat.send("robin", PIN)
    chat = await restarted(chat, tmp_path, pepper, "interactive")
    assert "sealed" in await chat.send("robin", "/outcall KX482B | 14 Hollow Lane | 1h")
    await chat.send("robin", "SAFE")
    assert cost_of(chat, "Robin") == FAST
    assert "Glad you're safe" in await chat.send("robin", PIN)
    assert cost_of(chat, "Robin") == STRONGER


async def duress_worker(directory: Path, pepper: bytes) -> Chat:
    """Robin, with the check-in PIN on and a duress PIN, on the fast cost; Sam her buddy."""
    chat = await make_chat(directory, pepper=pepper)
    for person in ("robin", "sam"):
        await chat.register(person)
    await chat.pair("robin", "sam")
    await chat.send("robin", "/settings")
    await chat.pick("robin", "Ask for my PIN")
    await chat.send("robin", PIN)
    await chat.send("robin", "/settings")
    await chat.pick("robin", "Set a duress PIN")
    for answer in (PIN, DURESS, DURESS):
        await chat.send("robin", answer)
    return chat


async def checked_in(chat: Chat, pin: str) -> list[str]:
    """An outcall, then I'm safe with `pin`: what Robin's chat shows."""
    assert "sealed" in await chat.send("robin", "/outcall KX482B | 14 Hollow Lane | 1h")
    mark = len(chat.console.transcript)
    for text in ("SAFE", pin, "/status"):
        await chat.send("robin", text)
    return [text for to, text in chat.console.transcript[mark:] if to == "robin"]


def last_outcall_was_sos(chat: Chat) -> bool:
    with chat.app.db.transaction() as session:
        outcall = session.scalars(select(Outcall).order_by(Outcall.id.desc())).first()
        assert outcall is not None
        return bool(outcall.duress)


async def test_the_duress_pin_keeps_working_silently_across_a_cost_change(
    tmp_path: Path,
) -> None:
    pepper = secrets.token_bytes(32)
    chat = await duress_worker(tmp_path, pepper)
    chat = await restarted(chat, tmp_path, pepper, "interactive")
    real = await checked_in(chat, PIN)  # the real PIN at the new cost setting
    assert not last_outcall_was_sos(chat)
    forced = await checked_in(chat, DURESS)  # then someone forces Robin to check in
    assert last_outcall_was_sos(chat), "the duress PIN still raised the SOS"
    assert forced == real, "and Robin's chat looked exactly like a real check-in"
    assert not any("duress" in text.lower() for text in real + forced)
    # Setting the duress PIN again (both PINs known) moves the key to the new cost.
    await chat.send("robin", "/settings")
    await chat.pick("robin", "Set a duress PIN")  # the same label with or without one
    for answer in (PIN, "864209", "864209"):
        await chat.send("robin", answer)
    assert cost_of(chat, "Robin") == STRONGER
    chat = await restarted(chat, tmp_path, pepper, "interactive")
    await chat.send("sam", "SAFE")  # Sam settles the SOS, so Robin may start another
    await checked_in(chat, "864209")
    assert last_outcall_was_sos(chat), "the new duress PIN works at the new cost"


async def test_the_duress_pin_survives_a_pin_reset_after_a_cost_change(tmp_path: Path) -> None:
    """New keys after "I forgot my PIN" keep the salt and the cost the duress verifier is
    bound to (they once took the configured cost, and the duress PIN silently stopped)."""
    pepper = secrets.token_bytes(32)
    chat = await duress_worker(tmp_path, pepper)
    chat = await restarted(chat, tmp_path, pepper, "interactive")
    await chat.send("robin", "/settings")
    await chat.pick("robin", "I forgot my PIN")
    assert "takes effect at" in await chat.pick("robin", "Start the PIN reset")
    chat.clock.advance(hours=24, minutes=1)
    chat.app.conversation.security.housekeeping()
    await chat.app.dispatcher.drain()
    assert "Choose a new PIN" in await chat.send("robin", "hello")
    await chat.send("robin", "640271")
    await chat.send("robin", "640271")
    await checked_in(chat, DURESS)
    assert last_outcall_was_sos(chat), "the duress PIN still raised the SOS after the reset"


def test_the_test_costs_really_differ() -> None:
    """Otherwise the tests above would prove nothing."""
    assert STRONGER.ops > FAST.ops and STRONGER.mem > FAST.mem
    assert os.environ.get("BUDDYCHECK_PEPPER") != "a" * 32
