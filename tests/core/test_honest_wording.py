"""Honest wording: what the bot says matches what it does, told through the conversation.

SOS says who is really alerted; /outcall without a buddy says so before any question;
stopping the check-in PIN doesn't pretend nothing was saved; an unknown plate reads as
unknown; a nickname that looks like a real name is warned about; codes say the day they
expire, in the member's language.
"""

from __future__ import annotations

from checkins.admin import show_code
from checkins.messages import Identity
from storage.roles import ADMIN, RESPONDER
from tests.chat import Chat
from tests.conftest import PIN

ADDRESS = "14 Hollow Lane"


async def go_on_duty(chat: Chat, person: str) -> None:
    await chat.register(person)
    await chat.send(
        person, f"/accept {show_code(chat.app.admin.server_invite(RESPONDER, 'north').code)}"
    )
    await chat.send(person, "/duty")
    await chat.pick(person, "On duty")


async def test_sos_says_who_is_really_being_alerted(chat: Chat) -> None:
    await chat.register("lou")
    alone = await chat.send("lou", "SOS")
    assert "nobody could be alerted: you have no buddies and no responder is on duty" in alone
    assert "Your buddies are being alerted" not in alone
    await chat.send("lou", "/cancel")

    await go_on_duty(chat, "ria")
    await chat.register("robin")
    responders_only = await chat.send("robin", "SOS")
    assert "You have no buddies, so only the organisation's responders are being alerted" in (
        responders_only
    )
    await chat.register("sam")
    await chat.pair("sam", "lou")
    both = await chat.send("sam", "SOS")
    assert "Your buddies and the organisation's responders are being alerted now" in both


async def test_an_outcall_without_a_buddy_is_refused_before_any_question(chat: Chat) -> None:
    await chat.register("robin")
    reply = await chat.send("robin", "/outcall")
    assert "You don't have a buddy yet, so nobody could be alerted" in reply
    assert "car plate" not in reply
    assert chat.app.conversation.pending(Identity("console", "robin")) is None
    sent_along = await chat.send("robin", f"/outcall KX482B | {ADDRESS} | 1h")
    assert "You don't have a buddy yet" in sent_along and "Saved" not in sent_along


async def test_stopping_the_checkin_pin_says_the_outcall_still_runs(chat: Chat) -> None:
    for person in ("robin", "sam"):
        await chat.register(person)
    await chat.pair("robin", "sam")
    await chat.send("robin", "/settings")
    await chat.pick("robin", "Ask for my PIN")
    await chat.send("robin", PIN)
    await chat.send("robin", f"/outcall KX482B | {ADDRESS} | 1h")
    for stop in ("Stop", "/cancel"):
        assert "Send your PIN to check in" in await chat.send("robin", "SAFE")
        stopped = await (chat.pick("robin", stop) if stop == "Stop" else chat.send("robin", stop))
        assert "You are not checked in: your outcall is still running" in stopped
        assert "Nothing was saved" not in stopped
    assert "Your outcall is running" in await chat.send("robin", "/status")


async def test_an_unknown_plate_is_read_as_not_known(chat: Chat) -> None:
    for person in ("robin", "sam"):
        await chat.register(person)
    await chat.pair("robin", "sam")
    for answer in ("/outcall", "?", ADDRESS):
        await chat.send("robin", answer)
    await chat.pick("robin", "Skip")
    await chat.pick("robin", "1 hour")
    chat.clock.advance(minutes=75)
    for _stage in range(2):
        chat.app.engine.tick()
    await chat.app.dispatcher.drain()
    await chat.send("sam", "UNLOCK")
    details = await chat.send("sam", PIN)
    assert "Car plate: not known (they didn't know it)" in details
    assert "Car plate: ?" not in details and f"Address: {ADDRESS}" in details


async def test_a_nickname_like_a_full_name_is_warned_about_but_allowed(chat: Chat) -> None:
    await chat.start("maria")
    warned = await chat.send("maria", "Maria Lopez")
    assert '"Maria Lopez" looks like a first and last name' in warned
    assert "choose Back and pick another" in warned and "choose a PIN" in warned
    await chat.send("maria", PIN)
    assert "Welcome, Maria Lopez" in await chat.send("maria", PIN)  # a warning, not a refusal
    await chat.start("owl")
    assert "looks like a first and last name" not in await chat.send("owl", "Nightowl")


async def test_invite_and_role_codes_say_the_day_they_expire_in_the_members_language(
    chat: Chat,
) -> None:
    await chat.register("robin")
    # The clock reads Monday 23 November 2026, 21:00 in London; codes last 24 hours.
    assert "It works once and expires on Tue, Nov 24, 9:00\u202fPM." in await chat.send(
        "robin", "/invite"
    )
    await chat.register("lola")
    chat.app.service.set_locale(Identity("console", "lola"), "es")
    assert "mar, 24 de noviembre, 21:00" in await chat.send("lola", "/invite")
    await chat.send(
        "robin", f"/accept {show_code(chat.app.admin.server_invite(ADMIN, 'north').code)}"
    )
    rules = await chat.send("robin", "/admin")
    people = await chat.send("robin", chat.choice("robin", "People and roles"))
    assert rules and people
    made = await chat.pick("robin", "Invite a responder")
    assert "It works once and expires on Tue, Nov 24, 9:00\u202fPM." in made
