"""Numbered replies that never collide, second taps before closing or removing, and answers
that say what is possible now, told as the stories that once went wrong on the console
(numbered like Signal).

Robin and Lu are each other's buddies; Sam is Robin's buddy too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import select

from bot.channels.menus import Context, NumberedMenus
from bot.keywords import keyword_action, near_keyword
from checkins.actions import Action, Menu, Verb, menu_token
from checkins.i18n import _, available_locales, use_locale
from checkins.messages import Button
from storage.tables import BuddyLink, Outcall
from tests.chat import Chat, make_chat
from tests.conftest import PIN

PLATE, ADDRESS = "KX482B", "14 Hollow Lane"


async def people(path: Path) -> Chat:
    chat = await make_chat(path)
    for person in ("robin", "lu", "sam"):
        await chat.register(person)
    await chat.pair("lu", "robin")  # Robin is Lu's buddy
    await chat.pair("robin", "lu")  # and Lu is Robin's
    await chat.pair("robin", "sam")
    return chat


async def lu_misses_her_check_in(chat: Chat) -> str:
    """Lu's outcall runs 30 minutes; 41 minutes later her buddy Robin is alerted."""
    assert "sealed" in await chat.send("lu", f"/outcall {PLATE} | {ADDRESS} | 30m")
    mark = len(chat.console.transcript)
    chat.clock.advance(minutes=41)
    chat.app.engine.tick()
    await chat.app.dispatcher.drain()
    alerts = [t for who, t in chat.console.transcript[mark:] if who == "robin"]
    assert alerts and "Lu missed their check-in" in alerts[-1]
    return alerts[-1]


def state_of(chat: Chat, worker: str) -> tuple[str, bool]:
    with chat.app.db.transaction() as session:
        rows = session.scalars(select(Outcall).order_by(Outcall.id.desc())).all()
        for row in rows:
            if row.worker.alias.lower() == worker:
                return row.state, row.sos
    raise AssertionError(f"{worker} has no outcall")


async def test_a_worker_alerted_about_a_buddy_still_raises_her_own_sos_with_her_number(
    tmp_path: Path,
) -> None:
    chat = await people(tmp_path)
    started = await chat.send("robin", f"/outcall {PLATE} | {ADDRESS} | 2h")
    assert "For your outcall:" in started
    sos = chat.choice("robin", "SOS")
    alert = await lu_misses_her_check_in(chat)
    assert "For this alert:" in alert
    lu_is_safe = chat.choice("robin", "Lu is safe")
    assert lu_is_safe != sos  # one number, one meaning, even with both menus open

    reply = await chat.send("robin", sos)  # the number her own outcall showed her
    assert "SOS sent" in reply
    assert state_of(chat, "robin") == ("overdue", True)
    assert state_of(chat, "lu")[0] == "overdue"  # Lu's alert is still open, not "safe"


async def test_is_safe_needs_a_second_tap_and_a_buddys_safe_keyword_asks_it_too(
    tmp_path: Path,
) -> None:
    chat = await people(tmp_path)
    await lu_misses_her_check_in(chat)
    asked = await chat.pick("robin", "Lu is safe")
    assert "Are you sure Lu is safe?" in asked and "destroys" in asked
    assert state_of(chat, "lu")[0] == "overdue"  # one tap closes nothing

    # Robin has no outcall of her own: SAFE means Lu, and asks the same question.
    assert "Are you sure Lu is safe?" in await chat.send("robin", "SAFE")
    assert state_of(chat, "lu")[0] == "overdue"

    done = await chat.pick("robin", "Yes — I spoke to Lu, they are safe")
    assert "You confirmed Lu is safe" in done
    assert state_of(chat, "lu")[0] == "resolved"


async def test_after_unlock_the_alerts_numbers_still_work(tmp_path: Path) -> None:
    chat = await people(tmp_path)
    await lu_misses_her_check_in(chat)
    on_it = chat.choice("robin", "I'm on it")
    assert "Send your PIN" in await chat.pick("robin", "Unlock details")
    assert PLATE in await chat.send("robin", PIN)
    assert "/help" in await chat.send("robin", "/help")  # another menu comes and goes
    assert "You are handling Lu's alert" in await chat.send("robin", on_it)
    assert state_of(chat, "lu")[0] == "acknowledged"


async def test_removing_a_buddy_needs_a_second_tap(tmp_path: Path) -> None:
    chat = await people(tmp_path)
    await chat.send("robin", "/buddies")
    asked = await chat.pick("robin", "Remove Sam")
    assert "Remove Sam?" in asked
    with chat.app.db.transaction() as session:
        assert len(session.scalars(select(BuddyLink)).all()) == 3  # nothing removed yet
    assert "Stopped" in await chat.pick("robin", "No, keep Sam")  # the same 1 again keeps
    with chat.app.db.transaction() as session:
        assert len(session.scalars(select(BuddyLink)).all()) == 3
    assert "no longer buddies" in await chat.pick("robin", "Yes, remove Sam")
    with chat.app.db.transaction() as session:
        assert len(session.scalars(select(BuddyLink)).all()) == 2


async def test_a_typo_gets_a_did_you_mean_and_what_works_now_not_the_command_list(
    tmp_path: Path,
) -> None:
    chat = await people(tmp_path)
    await chat.send("robin", f"/outcall {PLATE} | {ADDRESS} | 2h")
    reply = await chat.send("robin", "sfae")
    assert "Did you mean SAFE?" in reply
    assert "SAFE — I'm out and safe" in reply and "SOS — Alert my buddies now" in reply
    assert "/invite" not in reply and "/settings" not in reply  # not the whole list
    assert state_of(chat, "robin")[0] == "active"  # a near-miss is never acted on

    reply = await chat.send("robin", "/sfae")
    assert "I don't know that command." in reply and "Did you mean /safe?" in reply

    await lu_misses_her_check_in(chat)
    both = await chat.send("robin", "hello?")
    assert "ON IT — I'm handling an alert" in both and "SOS" in both
    assert "There is" not in both and "Did you mean" not in both

    nothing = await chat.send("sam", "77")  # a number from no menu Sam has
    assert "That number is not a choice right now." in nothing
    assert "/outcall — Before a booking" in nothing


async def test_status_while_alerted_says_who_knows_and_who_is_on_it(tmp_path: Path) -> None:
    chat = await people(tmp_path)
    await chat.send("robin", f"/outcall {PLATE} | {ADDRESS} | 30m")
    assert "Check in by" in await chat.send("robin", "/status")
    chat.clock.advance(minutes=41)
    chat.app.engine.tick()
    await chat.app.dispatcher.drain()
    status = await chat.send("robin", "/status")
    assert "Your alert is running" in status
    assert "Alerted: Lu, Sam." in status and "Nobody has said they are on it yet." in status
    assert PLATE not in status and ADDRESS not in status
    await chat.send("sam", "ON IT")
    assert "Sam is on it." in await chat.send("robin", "/status")


# -- the numbering itself, as a pure function ------------------------------------------


def buttons(*tokens: str) -> tuple[tuple[Button, ...], ...]:
    return tuple((Button(token, token),) for token in tokens)


def test_each_block_keeps_its_own_numbers_and_menus_skip_them() -> None:
    menus = NumberedMenus()
    own = [Action(Verb.SAFE, "r1").token(), Action(Verb.SOS, "r1").token()]
    alert = [Action(Verb.ON_IT, "a1").token(), Action(Verb.CONFIRM_SAFE, "a1").token()]
    first = menus.remember("x", buttons(*own))
    assert [(c.number, c.context) for c in first] == [(11, Context.OUTCALL), (13, Context.OUTCALL)]
    second = menus.remember("x", buttons(*alert))
    assert [c.number for c in second] == [22, 23]
    long_menu = [menu_token(Menu.COMMAND, n) for n in range(12)]
    numbers = [c.number for c in menus.remember("x", buttons(*long_menu))]
    assert numbers[:9] == list(range(1, 10)) and not {11, 13, 22, 23} & set(numbers)
    assert len(set(numbers)) == 12
    # Everything stays reachable at once: the alert, the outcall and the menu.
    assert menus.resolve("x", "13") == own[1]
    assert menus.resolve("x", "22") == alert[0]
    assert menus.resolve("x", "1") == long_menu[0]
    # A second alert gets a ten of its own, free of the long menu's numbers.
    other = menus.remember("x", buttons(Action(Verb.ON_IT, "a2").token()))
    assert other[0].number not in [*numbers, 11, 13, 22, 23]
    assert menus.resolve("x", "99") is None


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("sfae", "SAFE"),
        ("ssos", "SOS"),
        ("onn it", "ON IT"),
        ("unlokc", "UNLOCK"),
        ("estoy bein", "ESTOY BIEN"),
        ("je vais bein", "JE VAIS BIEN"),
        ("estou bme", "ESTOU BEM"),
        ("sunt bnie", "SUNT BINE"),
        ("я в порятке", "Я В ПОРЯДКЕ"),
        ("ปลอดภัยแลว", "ปลอดภัยแล้ว"),
    ],
)
def test_a_near_miss_in_any_language_is_suggested_and_never_acted_on(
    typed: str, meant: str
) -> None:
    assert keyword_action(typed) is None
    assert near_keyword(typed) == meant


@pytest.mark.parametrize("typed", ["hello", "ok", "thanks", "safe", "1"])
def test_ordinary_words_and_real_keywords_get_no_suggestion(typed: str) -> None:
    assert near_keyword(typed) is None


@pytest.mark.parametrize("locale", available_locales())
def test_the_keywords_named_in_what_works_now_work_in_every_language(locale: str) -> None:
    with use_locale(locale):
        for word in (_("SAFE"), _("ON IT"), _("UNLOCK")):
            assert keyword_action(word) is not None, f"{locale}: {word!r} is no keyword"


def test_no_sentence_that_can_reach_signal_says_tap() -> None:
    """Signal has no buttons: a sentence says "send SAFE" or "choose … below", never "tap".
    Only Telegram's own keypad (bot/channels/telegram.py) may say it."""
    pot = Path(__file__).resolve().parents[2] / "checkins" / "locale" / "buddycheck.pot"
    with pot.open("rb") as handle:
        catalog = read_po(handle)
    saying_tap = [
        message.id
        for message in catalog
        if message.id
        and re.search(r"\btap", str(message.id), re.IGNORECASE)
        and any(path != "bot/channels/telegram.py" for path, _line in message.locations)
    ]
    assert saying_tap == []
