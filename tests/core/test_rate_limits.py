"""Per-person command limits: floods get one clear answer; SAFE, SOS and PINs always pass."""

from __future__ import annotations

from pathlib import Path

from bot.ratelimit import CommandLimiter, Window
from tests.chat import make_chat
from tests.conftest import PIN


def test_limiter_tells_once_per_blocked_stretch_then_lets_through_again() -> None:
    limiter = CommandLimiter((Window(3, 60.0),))
    verdicts = [limiter.check("robin", float(t)) for t in range(6)]
    assert [v.allowed for v in verdicts] == [True, True, True, False, False, False]
    assert [v.tell for v in verdicts] == [False, False, False, True, False, False]
    assert verdicts[3].wait == 57.0
    assert limiter.check("robin", 61.0).allowed
    assert limiter.check("sam", 5.0).allowed  # per person


async def test_flooding_commands_gets_one_wait_reply_and_safe_sos_still_work(
    tmp_path: Path,
) -> None:
    chat = await make_chat(tmp_path)
    for person in ("robin", "sam"):
        await chat.register(person)
    await chat.pair("robin", "sam")
    await chat.send("robin", "/outcall KX482B | 14 Hollow Lane | 1h")
    replies = [await chat.send("robin", "/status") for _i in range(30)]
    waits = [r for r in replies if "sending a lot of messages" in r]
    assert len(waits) == 1 and "seconds" in waits[0]
    assert replies[-1] == ""  # over the limit and already told: nothing more is sent

    assert "SOS sent" in await chat.send("robin", "SOS")
    assert "SOS sent" in await chat.send("robin", "/sos")
    sam_alerts = [t for to, t in chat.console.transcript if to == "sam" and "pressed SOS" in t]
    assert len(sam_alerts) == 1  # a repeated SOS within the ack timeout doesn't re-alert
    # SAFE answers too; after an SOS it asks the buddies to confirm instead of ending it.
    assert "SOS stays open" in await chat.send("robin", "SAFE")


async def test_pin_answers_and_the_language_choice_are_never_limited(tmp_path: Path) -> None:
    chat = await make_chat(tmp_path)
    await chat.send("sam", "/start")
    flood = [await chat.send("sam", "/help") for _i in range(25)]
    assert "sending a lot of messages" in "".join(flood)
    assert "Where do you work" in await chat.send("sam", "English")  # a newcomer's first tap
    assert "Where do you work" not in await chat.send("sam", "north")  # this one waits
    chat.app.conversation.limiter = CommandLimiter()  # a minute later
    await chat.send("sam", "north")
    await chat.send("sam", "Sam")
    helps = [await chat.send("sam", "/help") for _i in range(25)]
    assert "sending a lot of messages" in "".join(helps)
    assert "same PIN again" in await chat.send("sam", PIN)
    assert "Welcome, Sam" in await chat.send("sam", PIN)
