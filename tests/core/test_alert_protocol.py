"""Alerts say what to do: the organisation's response protocol as a checklist in every alert,
and a way for whoever took the alert to message the worker through the bot.

The stories run through the real conversation on the console channel and a manual clock.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from checkins import texts
from checkins.admin import show_code
from checkins.i18n import use_locale
from checkins.ladder import LegalModel
from storage.roles import ADMIN, RESPONDER
from storage.tables import AuditEntry, OutboxMessage
from tests.chat import Chat
from tests.conftest import PIN

PLATE, ADDRESS = "KX482B", "14 Hollow Lane"
NIGHTOWL = "Nightowl"  # Sam's nickname: nothing like the address "sam" the console knows Sam by
QUESTION = "Are you OK? Tell me where you are"
ANSWER = "Phone nearly dead, walking to the station"


@pytest.fixture
async def chat(chat: Chat) -> Chat:
    """Robin works; Sam (nickname Nightowl) and Kit are Robin's buddies."""
    await chat.register("robin")
    await chat.start("sam")
    for line in (NIGHTOWL, PIN, PIN):
        await chat.send("sam", line)
    await chat.register("kit")
    await chat.pair("robin", "sam")
    await chat.pair("robin", "kit")
    return chat


async def robin_misses_the_check_in(chat: Chat) -> str:
    """Robin's one-hour outcall runs 15 minutes over; return the alert Sam got."""
    assert "sealed" in await chat.send("robin", f"/outcall {PLATE} | {ADDRESS} | 1h")
    mark = len(chat.console.transcript)
    chat.clock.advance(minutes=75)
    for _stage in range(2):
        chat.app.engine.tick()
    await chat.app.dispatcher.drain()
    return "\n".join(t for to, t in chat.console.transcript[mark:] if to == "sam")


def received(chat: Chat, person: str, since: int) -> str:
    return "\n".join(t for to, t in chat.console.transcript[since:] if to == person)


async def test_an_alert_lists_what_to_do_and_never_points_to_police_where_criminalised(
    chat: Chat,
) -> None:
    alert = await robin_misses_the_check_in(chat)
    assert "missed their check-in" in alert
    assert "What to do:\n• Call or message Robin now" in alert
    assert "• No answer? Unlock the details" in alert  # Sam holds a sealed copy
    assert "Never go alone" in alert
    assert "police" not in alert.lower() and "emergency number" not in alert


def test_only_a_decriminalised_place_mentions_the_emergency_number() -> None:
    with use_locale("en"):
        for model in LegalModel:
            for unlock in (True, False):
                steps = texts.default_protocol("Robin", model, unlock)
                assert "police" not in steps.lower()
                mentions = "emergency number" in steps
                assert mentions == (model is LegalModel.DECRIMINALISED), (model, steps)
                assert ("Unlock the details" in steps) == unlock


async def test_an_admin_writes_the_protocol_and_the_next_alert_shows_it_instead(
    chat: Chat,
) -> None:
    code = show_code(chat.app.admin.server_invite(ADMIN, "north").code)
    await chat.send("kit", f"/accept {code}")
    rules = await chat.send("kit", "/admin")
    assert "Response protocol in alerts: the default one" in rules
    languages = await chat.send("kit", chat.choice("kit", "Response protocol"))
    prompt = await chat.send("kit", chat.choice("kit", "en"))
    assert "one short step per line" in prompt
    await chat.send("kit", "1. Phone Robin twice.")
    await chat.send("kit", "2. Then ring the office line: 0800 555 0100.")
    saved = await chat.pick("kit", "Save")
    assert "Every alert sent from now on shows this protocol" in saved
    assert "Response protocol in alerts: en" in saved
    assert languages  # the language choice was offered before anything was typed

    with chat.app.db.transaction() as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "protocol_changed")
        ).one()
        assert entry.actor == "Kit" and entry.before == {"protocol": {}}
        assert entry.after == {
            "protocol": {
                "en": "1. Phone Robin twice.\n2. Then ring the office line: 0800 555 0100."
            }
        }

    alert = await robin_misses_the_check_in(chat)
    assert "What to do:\n• Phone Robin twice.\n• Then ring the office line" in alert
    assert "Call or message Robin now" not in alert  # the default gives way to theirs


async def test_the_handler_messages_the_worker_through_the_bot_until_the_alert_closes(
    chat: Chat,
) -> None:
    await robin_misses_the_check_in(chat)
    taken = await chat.send("sam", "ON IT")
    assert "You are handling Robin's alert" in taken
    assert "Message Robin through the bot" in taken
    kit_alert = received(chat, "kit", 0)
    assert "Message Robin through the bot" not in kit_alert  # only for whoever took it

    prompt = await chat.pick("sam", "💬 Message Robin through the bot")
    assert "never your number or account" in prompt
    mark = len(chat.console.transcript)
    assert "Stopped. Nothing was sent." in await chat.pick("sam", "Stop")  # changed her mind
    assert received(chat, "robin", mark) == ""
    assert "You are handling Robin's alert" in await chat.send("sam", "ON IT")  # her menu again
    await chat.pick("sam", "💬 Message Robin through the bot")
    mark = len(chat.console.transcript)
    assert "Sent to Robin" in await chat.send("sam", QUESTION)
    to_robin = received(chat, "robin", mark)
    assert to_robin.startswith(
        f"💬 {NIGHTOWL}, who is handling your alert, writes through the bot:"
    )
    assert QUESTION in to_robin
    assert "sam" not in to_robin  # Sam's messenger id (here the console address) never shows
    assert received(chat, "kit", mark) == ""  # nobody else reads it

    await chat.pick("robin", f"💬 Message {NIGHTOWL} through the bot")
    mark = len(chat.console.transcript)
    assert f"Sent to {NIGHTOWL}" in await chat.send("robin", ANSWER)
    to_sam = received(chat, "sam", mark)
    assert to_sam.startswith("💬 Robin answers through the bot:") and ANSWER in to_sam
    assert "robin" not in to_sam

    with chat.app.db.transaction() as session:  # relayed words are never stored
        outbox = " ".join(session.scalars(select(OutboxMessage.text)))
        assert QUESTION not in outbox and ANSWER not in outbox

    again = chat.choice("robin", f"💬 Message {NIGHTOWL} through the bot")
    assert "Are you sure" in await chat.send("sam", "SAFE")  # Sam says Robin is safe
    await chat.pick("sam", "Yes — I spoke to")  # and confirms it: the alert closes
    ended = await chat.send("robin", again)  # Robin's button from before
    assert "This alert has ended, so messages through the bot have stopped" in ended


async def test_unlock_is_offered_only_to_those_who_hold_a_sealed_copy(chat: Chat) -> None:
    """In the drill's preview of a real alert, and when the buddies are asked to confirm an
    SOS that had no outcall (so no details) is over."""
    code = show_code(chat.app.admin.server_invite(RESPONDER, "north").code)
    await chat.register("ria")
    await chat.send("ria", f"/accept {code}")
    await chat.send("ria", "/duty")
    await chat.pick("ria", "On duty")
    mark = len(chat.console.transcript)
    assert "Drill started" in await chat.send("robin", "/drill")
    buddy, responder = received(chat, "kit", mark), received(chat, "ria", mark)
    assert "[Unlock details 🔓]" in buddy and "What to do:" in buddy
    # north doesn't seal to responders: a real responder alert has no Unlock, nor may the drill
    assert "Unlock" not in responder
    assert "What to do:" in responder and "• No answer? Agree with the others" in responder

    await chat.send("robin", "SOS")  # no outcall running: nothing was sealed
    mark = len(chat.console.transcript)
    assert "SOS stays open" in await chat.send("robin", "SAFE")
    asked = received(chat, "sam", mark)
    assert "now says they're safe" in asked and "Unlock" not in asked
