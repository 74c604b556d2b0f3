"""The warning list's story on Telegram, with buttons: Robin reports a violent client, a
moderator edits and publishes it, Kit (verified) is warned, and Kit's /outcall with the plate
spelled differently is flagged before it starts; her buddy's alert says so. Then a
responder's raid alert reaches the verified members, each in their own language."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from checkins.admin import show_code
from storage.roles import MODERATOR, RESPONDER
from storage.tables import OutboxMessage
from tests.channels.telegram_harness import ESCALATION, STEP, Harness, telegram
from tests.emulators.telegram_api import SimUser

pytestmark = pytest.mark.usefixtures("ptb_timedelta")
__all__ = ["telegram"]


def outbox_rows(bot: Harness) -> int:
    """How many messages the outbox has ever held (sent ones are kept for a day)."""
    with bot.app.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(OutboxMessage)) or 0


async def granted(bot: Harness, person: SimUser, role: str, expect: str) -> None:
    code = show_code(bot.app.admin.server_invite(role, "fast").code)
    await bot.say(person, f"/accept {code}", expect)


async def verified(bot: Harness, by: SimUser, person: SimUser) -> None:
    made = await bot.say(by, "/verify", "Verification code")
    code = re.search(r"R-\w{5}-\w{5}", made.text)
    assert code is not None, made.text
    await bot.say(person, f"/accept {code[0]}", "You are now a verified member")


async def test_the_warning_list_story_on_telegram(telegram: Harness) -> None:
    bot = telegram
    robin, kit, sam = bot.api.user(2001, "Robin"), bot.api.user(2002, "Kit"), bot.api.user(2003)
    mona, ria = bot.api.user(2004, "Mona"), bot.api.user(2005, "Ria")
    for person, alias in ((robin, "Robin"), (kit, "Kit"), (sam, "Sam"), (mona, "Mona")):
        await bot.onboard(person, alias)
    await bot.onboard(ria, "Ria")
    await bot.pair(kit, sam, "Kit")
    await granted(bot, mona, MODERATOR, "You are now a moderator")
    await granted(bot, ria, RESPONDER, "You are now a responder")
    await verified(bot, ria, kit)
    await verified(bot, ria, robin)

    # Robin reports after a bad booking: buttons for every choice, Skip on every step.
    asked = await bot.say(robin, "/report", "What happened?")
    labels = [b["text"] for b in asked.buttons()]
    assert labels[:2] == ["Violent", "Sexual assault"] and labels[-2:] == ["Skip", "Stop"]
    await bot.press(robin, "Violent", "car plate", asked)
    phone = await bot.say(robin, "AB12 CDE", "phone number")
    hint = await bot.press(robin, "Skip", "last 3 characters", phone)
    vehicle = await bot.press(robin, "Yes, show the last 3", "car and the client", hint)
    await bot.press(robin, "Skip", "What happened?", vehicle)
    await bot.say(robin, "He hit me near the station and kept the money", "In which area")
    when = await bot.say(robin, "Riverside", "When did it happen")
    await bot.press(robin, "Today", "waits for a moderator", when)
    typed = next(m for m in robin.history() if not m.from_bot and m.text == "AB12 CDE")
    await robin.wait_for_message("I deleted your messages with the plate", timeout=STEP)
    assert typed.deleted, "the message with the plate is gone from the chat"

    # The moderator edits the wording and publishes; Kit is warned.
    await mona.wait_for_message("A new report waits", timeout=STEP)
    shown = await bot.say(mona, "/moderate", "Report #")
    assert "Car plate ending in CDE" in shown.text and "Robin" not in shown.text
    await bot.press(mona, "Edit the details", "as they should be published", shown)
    edited = await bot.say(mona, "He hit the worker and kept the money.", "Report #")
    await bot.press(mona, "Publish", "is published", edited)
    warned = await kit.wait_for_message("New warning from the community", timeout=STEP)
    assert "He hit the worker" in warned.text and "station" not in warned.text

    # /check on Telegram: answered straight to the chat, the message with the plate deleted,
    # and nothing queued in the outbox.
    queued = outbox_rows(bot)
    sent = await kit.send_text("/check ab12 cde")
    await kit.wait_for_message("matches a warning", after=sent, timeout=STEP)
    assert next(m for m in kit.history() if m.message_id == sent).deleted
    assert outbox_rows(bot) == queued

    # Next night: the same plate spelled differently is flagged before the outcall starts.
    flagged = await bot.say(kit, "/outcall ab-12 cde | 22 Dock Street | 2s", "matches a warning")
    assert [b["text"] for b in flagged.buttons()][:2] == [
        "Cancel this booking",
        "Go anyway (my buddies will be told)",
    ]
    await bot.press(kit, "Go anyway (my buddies will be told)", "Saved and sealed", flagged)
    alert = await sam.wait_for_message("Kit missed their check-in", timeout=ESCALATION)
    assert "matched a warning on the community's list" in alert.text

    # A responder's raid alert goes out at once, in each verified member's language.
    languages = await bot.say(kit, "/language", "Which language")
    await bot.press(kit, "Español", "español", languages)
    raid = await bot.say(ria, "/raid", "What is happening")
    where = await bot.press(ria, "Immigration", "Where?", raid)
    del where
    when = await bot.say(ria, "Station square", "When?")
    await bot.press(ria, "Now", "sent to the verified members", when)
    english = await robin.wait_for_message("Raid alert (fast)", timeout=STEP)
    spanish = await kit.wait_for_message("Alerta de redada (fast)", timeout=STEP)
    assert "Station square" in english.text and "Station square" in spanish.text
    assert [b["text"] for b in english.buttons()] == ["Know your rights"]
