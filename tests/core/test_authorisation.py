"""Authorisation, row by row of THREATS.md's table: whoever may not use a command, keyword,
button or code is refused with a clear sentence, and nothing else happens.

Every refusal is driven through the real `Conversation` (routing, plug-in modules, the
console channel and the dispatcher), not only the service. "Nothing else happens" is checked
the same way each time (`Bot.refused`): every table but the outbox is byte-for-byte the same
afterwards, the refused person got a reply naming what was wrong, and nobody else was sent
anything.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from bot.app import App
from bot.channels.base import Inbound
from bot.channels.console import ConsoleChannel
from bot.cli import main
from checkins.admin import show_code
from checkins.context import Refusal
from checkins.messages import Identity
from checkins.reports import ReportDraft
from storage import queries
from storage.roles import ADMIN, RESPONDER, VERIFIED
from storage.tables import Base, BuddyLink, Member, Outcall, Raid, Report, Role
from tests.chat import make_chat
from tests.conftest import PIN, ManualClock, cli_config

PLATE, ADDRESS = "KX482B", "14 Hollow Lane"
NOT_REGISTERED = "not registered yet"
NO_ALERT = "This alert is no longer active"
STALE_BUTTON = "This button is no longer active"
NO_OUTCALL = "no outcall running"
NOT_THIS_OUTCALL = "not for the outcall you have running now, so I did nothing"
ADMINS_ONLY = "only for your organisation's admins"
CODE_REFUSED = "That code doesn't work"
NOT_A_RESPONDER = "Only the organisation's responders"
DRILL_OVER = "This drill is over"
NO_EMERGENCY = "There is no emergency contact where you are"
VERIFIED_ONLY = "only for verified members"
MODERATORS_ONLY = "only for the moderators"
STAFF_ONLY = "can hand out verification codes"
DECIDED = "already decided by a moderator"


class Bot:
    """The app over the console channel, with the people every row needs.

    robin: a worker with buddies sam and kit. mallory: another worker, whose buddy is mo.
    ex: robin's former buddy. ria: an on-duty responder (north), otto: off duty (north),
    sol: on duty in another place (south). ada: north's admin, sue: south's admin.
    nobody: never registered.
    """

    def __init__(self, app: App, console: ConsoleChannel, clock: ManualClock) -> None:
        self.app, self.console, self.clock = app, console, clock
        self.service = app.service

    @staticmethod
    def who(name: str) -> Identity:
        return Identity("console", name)

    def register(self, *names: str) -> None:
        for name in names:
            self.service.register(self.who(name), name.title(), PIN)

    def pair(self, worker: str, buddy: str) -> None:
        self.service.accept_invite(self.who(buddy), self.service.create_invite(self.who(worker)))

    def grant(self, name: str, role: str, place: str) -> None:
        self.app.admin.accept_role(self.who(name), self.app.admin.server_invite(role, place).code)

    def link_id(self, worker: str, buddy: str) -> int:
        return next(
            p.link_id
            for p in self.service.pairings(self.who(worker))
            if p.other_alias == buddy.title()
        )

    def start_outcall(self, worker: str = "robin") -> str:
        self.service.start_outcall(self.who(worker), PLATE, ADDRESS, "", "30m")
        current = self.service.current_outcall(self.who(worker))
        assert current is not None
        return current.ref

    def miss(self, minutes_after_due: int) -> None:
        """Robin's 30-minute outcall passes its due time by `minutes_after_due`."""
        self.clock.advance(minutes=30 + minutes_after_due)
        for _stage in range(4):  # one ladder stage per tick
            self.app.engine.tick()

    def snapshot(self) -> dict[str, list[str]]:
        """Every row of every table except the outbox (where replies are queued)."""
        with self.app.db.transaction() as session:
            return {
                table.name: sorted(repr(tuple(row)) for row in session.execute(select(table)))
                for table in Base.metadata.sorted_tables
                if table.name != "outbox"
            }

    async def event(self, name: str, *, text: str | None = None, token: str | None = None) -> str:
        """Hand one event to the conversation (exceptions surface); return replies to `name`."""
        await self.app.dispatcher.drain()
        mark = len(self.console.transcript)
        await self.app.conversation.handle(Inbound("console", name, text=text, action=token))
        await self.app.dispatcher.drain()
        return "\n".join(t for to, t in self.console.transcript[mark:] if to == name)

    async def refused(
        self, name: str, phrase: str, *, text: str | None = None, token: str | None = None
    ) -> str:
        """The event is answered with `phrase`, changes no table, and reaches nobody else."""
        await self.app.dispatcher.drain()
        before, mark = self.snapshot(), len(self.console.transcript)
        reply = await self.event(name, text=text, token=token)
        sent = self.console.transcript[mark:]
        assert phrase in reply, f"{name!r} was told {reply!r}"
        assert sent and {to for to, _text in sent} == {name}, f"others were messaged: {sent}"
        assert self.snapshot() == before, "a refused event changed the database"
        return reply


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot]:
    chat = await make_chat(tmp_path)
    app = chat.app
    made = Bot(app, chat.console, chat.clock)
    made.register("robin", "sam", "kit", "mallory", "mo", "ex", "ria", "otto", "sol", "ada")
    made.register("sue")
    for worker, buddy in (("robin", "sam"), ("robin", "kit"), ("mallory", "mo"), ("robin", "ex")):
        made.pair(worker, buddy)
    app.service.end_pairing(made.who("robin"), made.link_id("robin", "ex"))
    made.grant("ria", RESPONDER, "north")
    made.grant("otto", RESPONDER, "north")
    app.organisation.set_duty(made.who("otto"), False)
    made.grant("sol", RESPONDER, "south")
    made.grant("ada", ADMIN, "north")
    made.grant("sue", ADMIN, "south")
    await app.dispatcher.drain()
    yield made
    app.db.dispose()


def outcall_state(bot: Bot, ref: str) -> tuple[str, object]:
    with bot.app.db.transaction() as session:
        outcall = queries.outcall_by_ref(session, ref)
        assert outcall is not None
        return outcall.state, outcall.due_at


# -- commands --------------------------------------------------------------------------


MEMBER_COMMANDS = (
    "/outcall KX482B | 14 Hollow Lane | 1h",
    "/safe",
    "/sos",
    "/cancel",
    "/unlock",
    "/onit",
    "/invite",
    "/accept ABCD-EFGH",
    "/buddies",
    "/status",
    "/settings",
    "/forgetme",
    "/admin",
    "/rights",
    "/language",
    "/idioma",
    "/duty",
    "/drill",
    "/emergency",
)


@pytest.mark.parametrize("command", MEMBER_COMMANDS)
async def test_every_member_command_is_refused_to_a_non_member(bot: Bot, command: str) -> None:
    await bot.refused("nobody", NOT_REGISTERED, text=command)


@pytest.mark.parametrize(
    ("keyword", "phrase"), [("SAFE", "Choose your language"), ("SOS", "Nobody was alerted")]
)
async def test_keywords_from_a_non_member_only_say_how_to_begin(
    bot: Bot, keyword: str, phrase: str
) -> None:
    await bot.refused("nobody", phrase, text=keyword)


async def test_status_and_buddies_show_only_your_own(bot: Bot) -> None:
    bot.start_outcall("robin")
    status = await bot.refused("mallory", "No outcall is running", text="/status")
    assert "Robin" not in status
    buddies = await bot.refused("mallory", "Mo is your buddy", text="/buddies")
    assert "Robin" not in buddies and "Sam" not in buddies


async def test_an_outcall_needs_a_buddy_to_seal_to(bot: Bot) -> None:
    await bot.refused("ex", "don't have a buddy", text="/outcall KX482B | 14 Hollow Lane | 1h")


# -- the worker's own buttons and keywords ---------------------------------------------


@pytest.mark.parametrize("verb", ["safe", "cancel", "ext"])
@pytest.mark.parametrize("presser", ["mallory", "sam"])
async def test_another_persons_outcall_buttons_cannot_end_or_extend_it(
    bot: Bot, verb: str, presser: str
) -> None:
    ref = bot.start_outcall("robin")
    if presser == "mallory":
        bot.start_outcall("mallory")
    token = f"ext:{ref}:30" if verb == "ext" else f"{verb}:{ref}"
    # Mallory's own outcall runs on, and she is told the button is not for it.
    await bot.refused(
        presser, NOT_THIS_OUTCALL if presser == "mallory" else NO_OUTCALL, token=token
    )


@pytest.mark.parametrize("token", ["safe:{ref}", "cancel:{ref}", "ext:{ref}:30"])
async def test_a_replayed_button_of_an_ended_outcall_does_not_touch_the_new_one(
    bot: Bot, token: str
) -> None:
    old = bot.start_outcall("robin")
    await bot.event("robin", token=f"safe:{old}")
    bot.start_outcall("robin")
    await bot.refused("robin", NOT_THIS_OUTCALL, token=token.format(ref=old))


@pytest.mark.parametrize("minutes", ["-30", "0", "99999", "9" * 40])
async def test_forged_extension_minutes_are_refused(bot: Bot, minutes: str) -> None:
    ref = bot.start_outcall("robin")
    await bot.refused("robin", "You can only add", token=f"ext:{ref}:{minutes}")


async def test_a_forged_sos_button_only_ever_raises_the_pressers_own_sos(bot: Bot) -> None:
    ref = bot.start_outcall("robin")
    before = outcall_state(bot, ref)
    await bot.app.dispatcher.drain()
    mark = len(bot.console.transcript)
    reply = await bot.event("mallory", token=f"sos:{ref}")
    assert "alerted" in reply.lower() or "buddies" in reply.lower()
    assert outcall_state(bot, ref) == before
    told = {to for to, _text in bot.console.transcript[mark:]}
    # Mallory's own buddy and the on-duty responder hear of HER SOS; Robin's side hears nothing.
    assert told == {"mallory", "mo", "ria"}


async def test_with_the_checkin_pin_on_cancel_asks_for_the_pin_instead_of_ending(
    bot: Bot,
) -> None:
    """Whoever holds the worker's phone must not silence the alerts with /cancel."""
    bot.app.conversation.security.set_checkin_pin(bot.who("robin"), True, PIN)
    ref = bot.start_outcall("robin")
    await bot.refused("robin", "Send your PIN to check in.", text="/cancel")
    await bot.app.conversation.close(bot.who("robin"))
    await bot.refused("robin", "Send your PIN to check in.", token=f"cancel:{ref}")
    with pytest.raises(Refusal, match="Send your PIN to check in"):
        bot.service.cancel(bot.who("robin"), ref)
    assert outcall_state(bot, ref)[0] == "active"


async def test_with_the_checkin_pin_on_the_worker_cannot_confirm_themself_safe(bot: Bot) -> None:
    bot.app.conversation.security.set_checkin_pin(bot.who("robin"), True, PIN)
    ref = bot.start_outcall("robin")
    bot.miss(11)
    await bot.refused("robin", NO_ALERT, token=f"ok:{ref}")
    await bot.refused("robin", NO_ALERT, token=f"oky:{ref}")


async def test_with_the_checkin_pin_on_buddies_stay_while_an_outcall_runs(bot: Bot) -> None:
    """Whoever holds the worker's phone must not silence the alerts by removing the buddies;
    a buddy may still leave on their own."""
    bot.app.conversation.security.set_checkin_pin(bot.who("robin"), True, PIN)
    bot.start_outcall("robin")
    link = bot.link_id("robin", "sam")
    assert "Remove Sam?" in await bot.event("robin", token=f"rmlink:{link}")  # only asks
    await bot.refused("robin", "Check in with your PIN first", token=f"rmyes:{link}")
    assert bot.link_id("robin", "sam") == link


def test_with_the_checkin_pin_on_the_emergency_opt_in_stays_while_an_outcall_runs(
    bot: Bot,
) -> None:
    with bot.app.db.transaction() as session:
        session.execute(
            update(Member)
            .where(Member.address == "robin")
            .values(jurisdiction="south", emergency_opt_in=True, checkin_pin=True)
        )
    bot.start_outcall("robin")
    with pytest.raises(Refusal, match="Check in with your PIN first"):
        bot.app.organisation.set_emergency_opt_in(bot.who("robin"), False)


# -- answering alerts --------------------------------------------------------------------

OUTSIDERS = ["mallory", "ex", "otto", "sol", "nobody"]


@pytest.mark.parametrize("presser", OUTSIDERS)
async def test_only_alerted_people_can_answer_an_alert(bot: Bot, presser: str) -> None:
    """Another worker, a former buddy, an off-duty responder, another place's responder and
    a non-member all hold a valid-looking button for a live alert (responders stage)."""
    ref = bot.start_outcall("robin")
    bot.miss(31)
    await bot.app.dispatcher.drain()
    assert any("missed their check-in" in t for to, t in bot.console.transcript if to == "ria")
    phrase = STALE_BUTTON if presser == "nobody" else NO_ALERT
    for verb in ("onit", "unlock", "ok", "oky"):
        await bot.refused(presser, phrase, token=f"{verb}:{ref}")


RELAY_ONLY_HANDLER = "Only the person handling Robin's alert can message them"
RELAY_CLOSED = "messages through the bot have stopped"


async def test_only_the_handler_and_the_worker_can_relay_and_only_while_the_alert_is_open(
    bot: Bot,
) -> None:
    """A `relay:REF` button: before anyone took the alert, from an alerted buddy who didn't
    take it, another worker, a responder or a non-member, after the alert closed, and under
    duress (mallory checked in with her danger PIN; mo took the alert)."""
    ref = bot.start_outcall("robin")
    bot.miss(31)
    await bot.refused("robin", RELAY_CLOSED, token=f"relay:{ref}")  # nobody took it yet
    await bot.refused("sam", RELAY_ONLY_HANDLER, token=f"relay:{ref}")
    await bot.event("sam", token=f"onit:{ref}")
    for presser in ("kit", "ria", "mallory", "ex"):
        await bot.refused(presser, RELAY_ONLY_HANDLER, token=f"relay:{ref}")
    await bot.refused("nobody", STALE_BUTTON, token=f"relay:{ref}")
    assert "Write your message to Robin" in await bot.event("sam", token=f"relay:{ref}")
    await bot.event("sam", token="c:abort")
    await bot.event("kit", token=f"oky:{ref}")  # Kit confirms Robin is safe (second tap)
    for presser in ("sam", "robin"):
        await bot.refused(presser, RELAY_CLOSED, token=f"relay:{ref}")

    security = bot.app.conversation.security
    security.set_checkin_pin(bot.who("mallory"), True, PIN)
    security.set_duress_pin(bot.who("mallory"), PIN, "731946")
    forced = bot.start_outcall("mallory")
    await bot.event("mallory", text="SAFE")
    await bot.event("mallory", text="731946")
    taken = await bot.event("mo", token=f"onit:{forced}")
    assert "You are handling Mallory's alert" in taken and "through the bot" not in taken
    alerts = "\n".join(t for to, t in bot.console.transcript if to == "mo")
    assert "Do NOT message or call Mallory" in alerts
    assert "What to do:" not in alerts  # no checklist that says "call them" under duress
    await bot.refused(
        "mo", "do NOT message them, not even through the bot", token=f"relay:{forced}"
    )
    await bot.refused("mallory", RELAY_CLOSED, token=f"relay:{forced}")


@pytest.mark.parametrize("presser", ["mallory", "ex", "otto", "sol"])
async def test_alert_keywords_from_people_not_alerted_find_no_alert(bot: Bot, presser: str) -> None:
    bot.start_outcall("robin")
    bot.miss(31)
    for keyword in ("ON IT", "UNLOCK", "SAFE", "VOY", "ABRIR", "/onit", "/unlock", "/safe"):
        await bot.refused(presser, "There is no alert for you", text=keyword)


@pytest.mark.parametrize("verb", ["onit", "unlock", "ok", "oky"])
async def test_a_buddy_cannot_act_before_being_alerted(bot: Bot, verb: str) -> None:
    ref = bot.start_outcall("robin")
    await bot.refused("sam", NO_ALERT, token=f"{verb}:{ref}")


@pytest.mark.parametrize("verb", ["onit", "unlock", "ok", "oky"])
@pytest.mark.parametrize("ending", ["checked_in", "confirmed_by_another"])
async def test_buttons_of_an_ended_alert_are_refused(bot: Bot, verb: str, ending: str) -> None:
    ref = bot.start_outcall("robin")
    bot.miss(11)
    if ending == "checked_in":
        await bot.event("robin", text="SAFE")
    else:
        assert "Are you sure" in await bot.event("kit", token=f"ok:{ref}")
        assert outcall_state(bot, ref)[0] == "overdue"  # the first tap only asks
        await bot.event("kit", token=f"oky:{ref}")
    assert outcall_state(bot, ref)[0] != "overdue"
    await bot.refused("sam", NO_ALERT, token=f"{verb}:{ref}")


async def test_a_former_buddy_removed_mid_alert_is_refused(bot: Bot) -> None:
    ref = bot.start_outcall("robin")
    bot.miss(11)
    bot.service.end_pairing(bot.who("robin"), bot.link_id("robin", "sam"))
    for verb in ("onit", "unlock", "ok", "oky"):
        await bot.refused("sam", NO_ALERT, token=f"{verb}:{ref}")


# -- buddy links -----------------------------------------------------------------------


@pytest.mark.parametrize("presser", ["mallory", "mo", "ex", "nobody"])
async def test_only_either_side_can_remove_a_buddy_link(bot: Bot, presser: str) -> None:
    link = bot.link_id("robin", "sam")
    phrase = STALE_BUTTON if presser == "nobody" else "That buddy link no longer exists"
    await bot.refused(presser, phrase, token=f"rmlink:{link}")
    await bot.refused(presser, phrase, token=f"rmyes:{link}")


async def test_a_replayed_remove_button_of_a_gone_link_is_refused(bot: Bot) -> None:
    link = bot.link_id("robin", "sam")
    await bot.event("robin", token=f"rmyes:{link}")
    await bot.refused("sam", "That buddy link no longer exists", token=f"rmlink:{link}")
    await bot.refused("sam", "That buddy link no longer exists", token=f"rmyes:{link}")


# -- forged and malformed tokens -------------------------------------------------------


FORGED = [
    ("onit:" + "A" * 80, STALE_BUTTON),
    ("unlock:../../x", STALE_BUTTON),
    ("ok:abc:def:ghi", STALE_BUTTON),
    ("ext:abc:soon", STALE_BUTTON),
    ("rmlink:abc", STALE_BUTTON),
    ("rmlink:²", STALE_BUTTON),
    ("rmlink:" + "9" * 40, STALE_BUTTON),
    ("rmyes:abc", STALE_BUTTON),
    ("oky:../x", STALE_BUTTON),
    ("garbage:::", STALE_BUTTON),
    ("c:due:30m", STALE_BUTTON),
    ("c:ans:30m", STALE_BUTTON),
    ("c:skip", STALE_BUTTON),
    ("c:back", STALE_BUTTON),
    ("c:done", STALE_BUTTON),
    (":", STALE_BUTTON),
    ("adm:" + "x:" * 2000, ADMINS_ONLY),
    ("adm:rv:99999999999999999999999", ADMINS_ONLY),
    ("set:" + "x" * 500, "This button is no longer active. Send /settings"),
    ("lang:" + "x" * 500, "I can't speak that language"),
    ("drill:" + "x" * 500, DRILL_OVER),
    ("emerg:maybe", STALE_BUTTON),
    ("duty:on", NOT_A_RESPONDER),
]


@pytest.mark.parametrize(("token", "phrase"), FORGED)
async def test_forged_malformed_and_oversized_tokens_get_an_answer_and_change_nothing(
    bot: Bot, token: str, phrase: str
) -> None:
    bot.start_outcall("robin")
    await bot.refused("sam", phrase, token=token)


@pytest.mark.parametrize(
    "token",
    [
        "set:forget_yes",
        "lang:es",
        "duty:on",
        "drill:abc",
        "emerg:on",
        "adm:j:north",
        "place:go:south",
    ],
)
async def test_feature_buttons_from_a_non_member_are_refused(bot: Bot, token: str) -> None:
    await bot.refused("nobody", STALE_BUTTON, token=token)


@pytest.mark.parametrize("token", ["c:nopin", "c:abort"])
async def test_conversation_tokens_act_only_on_the_pressers_own_state(bot: Bot, token: str) -> None:
    bot.start_outcall("robin")
    phrase = NO_OUTCALL if token == "c:nopin" else "Stopped. Nothing was saved."
    await bot.refused("mallory", phrase, token=token)
    await bot.refused("nobody", STALE_BUTTON if token == "c:nopin" else "Stopped", token=token)


# -- codes -----------------------------------------------------------------------------


async def test_used_expired_and_own_buddy_codes_are_refused(bot: Bot) -> None:
    used = bot.service.create_invite(bot.who("robin"))
    bot.service.accept_invite(bot.who("mallory"), used)
    await bot.refused("mo", CODE_REFUSED, text=f"/accept {used}")
    own = bot.service.create_invite(bot.who("robin"))
    await bot.refused("robin", "That's your own code", text=f"/accept {own}")
    bot.clock.advance(hours=24, seconds=1)
    await bot.refused("mo", CODE_REFUSED, text=f"/accept {own}")
    await bot.refused("nobody", NOT_REGISTERED, text=f"/accept {own}")


async def test_used_and_expired_role_codes_are_refused(bot: Bot) -> None:
    used = show_code(bot.app.admin.server_invite(ADMIN, "north").code)
    await bot.event("kit", text=f"/accept {used}")
    await bot.refused("mo", CODE_REFUSED, text=f"/accept {used}")
    expired = show_code(bot.app.admin.server_invite(ADMIN, "north").code)
    bot.clock.advance(hours=24, seconds=1)
    await bot.refused("mo", CODE_REFUSED, text=f"/accept {expired}")
    await bot.refused("mo", CODE_REFUSED, text="/accept R-ZZZZZ-ZZZZZ")


# -- organisation features -------------------------------------------------------------


ADMIN_TOKENS = [
    "adm:j:north",
    "adm:ppl:north",
    "adm:seal:north",
    "adm:st:north:0",
    "adm:sr:north:0",
    "adm:sn:north:0:buddies",
    "adm:sa:north:0",
    "adm:sw:north:0",
    "adm:add:north",
    "adm:an:north:buddies",
    "adm:d:north:rb",
    "adm:inv:north:admin",
    "adm:rs:north",
    "adm:rsy:north",
    "adm:tx:north:r",
    "adm:tl:north:r:en",
    "adm:ol:north:r",
    "adm:tr:north:r:en",
    "adm:tl:north:p:en",  # writing the response protocol
    "adm:inv:*:admin",
]


@pytest.mark.parametrize("token", ADMIN_TOKENS)
async def test_admin_buttons_are_refused_to_non_admins_and_other_places_admins(
    bot: Bot, token: str
) -> None:
    """A member, a responder, and the admin of another place (south)."""
    for presser in ("robin", "ria", "sue"):
        await bot.refused(presser, ADMINS_ONLY, token=token)


@pytest.mark.parametrize("presser", ["robin", "ria"])
async def test_the_admin_command_is_refused_to_non_admins(bot: Bot, presser: str) -> None:
    await bot.refused(presser, ADMINS_ONLY, text="/admin")


@pytest.mark.parametrize("presser", ["robin", "sue"])
async def test_only_an_admin_of_the_place_can_remove_a_role_there(bot: Bot, presser: str) -> None:
    with bot.app.db.transaction() as session:
        ria_role = session.scalar(select(Role.id).where(Role.role == RESPONDER).limit(1))
    await bot.refused(presser, ADMINS_ONLY, token=f"adm:rv:{ria_role}")


@pytest.mark.parametrize("token", ["duty:on", "duty:off", None])
async def test_duty_is_refused_to_members_without_the_responder_role(
    bot: Bot, token: str | None
) -> None:
    if token is None:
        await bot.refused("robin", NOT_A_RESPONDER, text="/duty")
    else:
        await bot.refused("robin", NOT_A_RESPONDER, token=token)


async def test_drill_got_it_only_from_its_recipients_and_not_after_the_report(bot: Bot) -> None:
    bot.app.organisation.start_drill(bot.who("robin"))
    with bot.app.db.transaction() as session:
        ref = session.scalar(select(Outcall.ref).where(Outcall.drill.is_(True)))
    for outsider in ("mallory", "ex", "otto"):
        await bot.refused(outsider, DRILL_OVER, token=f"drill:{ref}")
    bot.clock.advance(hours=1)
    bot.app.engine.tick()
    await bot.refused("sam", DRILL_OVER, token=f"drill:{ref}")


async def test_the_emergency_contact_cannot_be_turned_on_where_it_does_not_exist(
    bot: Bot,
) -> None:
    await bot.refused("robin", NO_EMERGENCY, token="emerg:on")
    await bot.refused("robin", NO_EMERGENCY, text="/emergency")


async def test_settings_and_language_buttons_only_change_the_pressers_own(bot: Bot) -> None:
    await bot.refused("robin", "This button is no longer active. Send /settings", token="set:x")
    await bot.event("mallory", token="lang:es")
    robin = bot.service.member(bot.who("robin"))
    assert robin is not None and robin.locale == "en"


# -- the server: the pepper is the key to every key --------------------------------------


@pytest.mark.parametrize("command", [["run"], ["admin", "invite"], ["admin", "audit"]])
def test_server_commands_refuse_to_start_without_the_pepper(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.delenv("BUDDYCHECK_PEPPER", raising=False)
    assert "BUDDYCHECK_PEPPER" not in os.environ
    config = cli_config(tmp_path, f"sqlite:///{tmp_path / 'cli.db'}")
    result = CliRunner().invoke(main, [*command, "--config", str(config)])
    assert result.exit_code != 0
    assert "No pepper configured" in result.output
    assert "umask 077; python3 -c" in result.output  # and how to make one


def test_a_pin_without_the_server_pepper_opens_nothing(tmp_path: Path) -> None:
    """Someone with the database but another pepper cannot unwrap a key even with the PIN."""
    from checkins.sealing import KDF_COSTS, Sealer, WrongPin

    real = Sealer(secrets.token_bytes(32), KDF_COSTS["insecure-fast"])
    keys = real.new_key_pair(PIN)
    real.unwrap(PIN, keys.wrapped_secret, keys.salt, keys.cost)
    thief = Sealer(secrets.token_bytes(32), KDF_COSTS["insecure-fast"])
    with pytest.raises(WrongPin):
        thief.unwrap(PIN, keys.wrapped_secret, keys.salt, keys.cost)
    assert real.keyed_hash("ABCDEFGH") != thief.keyed_hash("ABCDEFGH")


def test_links_are_removed_only_by_their_two_sides_at_the_service_too(bot: Bot) -> None:
    link = bot.link_id("robin", "sam")
    with pytest.raises(Refusal, match="no longer exists"):
        bot.service.end_pairing(bot.who("mallory"), link)
    with bot.app.db.transaction() as session:
        assert session.get(BuddyLink, link) is not None


# -- the warning list and raid alerts ----------------------------------------------------


def pending_report(bot: Bot, reporter: str = "robin") -> int:
    """A report by `reporter`, waiting for north's moderators (ada, north's admin)."""
    bot.app.reports.submit_report(bot.who(reporter), ReportDraft(plate="AB12CDE", description="x"))
    with bot.app.db.transaction() as session:
        return max(r.id for r in session.scalars(select(Report)))


def pending_raid(bot: Bot, reporter: str = "robin") -> int:
    bot.app.reports.submit_raid(bot.who(reporter), "raid", "Market street", "now")
    with bot.app.db.transaction() as session:
        return max(r.id for r in session.scalars(select(Raid)))


async def test_the_warning_list_commands_are_refused_to_a_non_member(bot: Bot) -> None:
    for command in ("/report", "/check AB12CDE", "/warnings", "/raid", "/verify", "/moderate"):
        await bot.refused("nobody", NOT_REGISTERED, text=command)


async def test_the_warning_list_is_refused_to_unverified_and_former_verified_members(
    bot: Bot,
) -> None:
    """Anyone may register, so registering alone never reads or probes the list; nor does
    a verification an admin has taken away."""
    for event in ({"text": "/check AB12CDE"}, {"text": "/warnings"}):
        await bot.refused("robin", VERIFIED_ONLY, **event)
    for token in ("wl:mute", "wl:unmute"):
        await bot.refused("robin", VERIFIED_ONLY, token=token)
    bot.grant("kit", VERIFIED, "north")
    with bot.app.db.transaction() as session:
        role = session.scalars(select(Role).where(Role.role == VERIFIED)).one()
    bot.app.admin.revoke(bot.who("ada"), role.id)
    await bot.app.dispatcher.drain()
    await bot.refused("kit", VERIFIED_ONLY, text="/check AB12CDE")


async def test_verification_codes_are_refused_to_members_without_an_organisation_role(
    bot: Bot,
) -> None:
    bot.grant("kit", VERIFIED, "north")
    await bot.refused("robin", STAFF_ONLY, text="/verify")
    await bot.refused("kit", STAFF_ONLY, text="/verify")  # verified is not staff


async def test_moderation_is_refused_to_non_moderators(bot: Bot) -> None:
    """robin: a member; ria: a responder (not a moderator); sue: another place's admin."""
    number = pending_report(bot)
    raid = pending_raid(bot, "kit")
    await bot.app.dispatcher.drain()
    for who in ("robin", "ria"):
        await bot.refused(who, MODERATORS_ONLY, text="/moderate")
    for who in ("robin", "ria", "sue"):
        for op in ("pub", "rej", "edit", "ask"):
            await bot.refused(who, MODERATORS_ONLY, token=f"wl:{op}:{number}")
        for op in ("rpub", "rrej"):
            await bot.refused(who, MODERATORS_ONLY, token=f"wl:{op}:{raid}")


async def test_published_items_are_withdrawn_only_by_their_places_moderators(bot: Bot) -> None:
    number = pending_report(bot)
    bot.app.reports.publish_report(bot.who("ada"), number)
    raid = pending_raid(bot, "ria")  # a responder's raid alert is published at once
    await bot.app.dispatcher.drain()
    for who in ("robin", "ria", "sue"):
        await bot.refused(who, MODERATORS_ONLY, token=f"wl:wd:{number}")
    for who in ("robin", "sol", "sue"):  # a responder may withdraw raid alerts of their place
        await bot.refused(who, MODERATORS_ONLY, token=f"wl:rwd:{raid}")


async def test_only_the_reporter_may_answer_the_moderators_question(bot: Bot) -> None:
    number = pending_report(bot)
    bot.app.reports.ask_reporter(bot.who("ada"), number, "Which day?")
    await bot.app.dispatcher.drain()
    await bot.refused("mallory", DECIDED, token=f"wl:ans:{number}")
    await bot.refused("ada", DECIDED, token=f"wl:ans:{number}")
