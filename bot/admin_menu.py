"""The `/admin` menu, `/rights`, and role codes, plugged into the shared conversation.

Every screen that shows the organisation's state is sent by `AdminService` (it authorises
the caller and reads in one transaction); this module only routes the menu's buttons and
asks for the values an admin types (a time like 10m, a know-your-rights text, a response
protocol), each question one guided form (`bot/forms.py`) with the same Back, Stop and
re-asking as every other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from bot.commands import Audience, Call, Command
from bot.conversation import Conversation
from bot.forms import Field, Form, Values
from checkins import texts
from checkins.actions import AdminOp, Control, Menu, OrgText, Timing, admin_token
from checkins.admin import ORG_TEXTS, AdminService, is_role_code, read_locale
from checkins.context import Refusal
from checkins.i18n import N_, _
from checkins.messages import Button, Identity
from checkins.service import MemberView

TEXT_PART_SEPARATOR = "\n"


class AdminMenu:
    """Routes `adm:` buttons and the admin's typed answers to `AdminService`."""

    def __init__(self, conversation: Conversation, admin: AdminService) -> None:
        self.conversation = conversation
        self.admin = admin
        self._stage_after = _form("stage_after", _time_field(_ask_stage_time), self._set_after)
        self._new_stage = _form("new_stage", _time_field(_ask_new_stage_time), self._add_stage)
        self._timing = _form(
            "timing", _time_field(lambda values: _duration_question(values["key"])), self._timed
        )
        self._text = Form(
            "org_text",
            (
                Field("language", _ask_language, lambda text, values: read_locale(text)),
                Field(
                    "text",
                    _ask_org_text,
                    _add_text_part,
                    buttons=_text_buttons,
                    many=True,
                ),
            ),
            self._save_text,
            retry={Refusal: "text"},
            deleted=None,
            stopped=_nothing_changed,
        )

    async def open(self, call: Call) -> None:
        await self.conversation.close(call.who)
        await self.conversation.run(self.admin.open_menu, call.who)

    async def rights(self, call: Call) -> None:
        await self.conversation.run(self.admin.show_rights, call.who)

    async def accept(self, who: Identity, code: str) -> None:
        await self.conversation.run(self.admin.accept_role, who, code)

    async def press(self, who: Identity, member: MemberView, token: str) -> None:
        """One button of the menu: `op:jurisdiction:arg…` (see `actions.AdminOp`)."""
        op, *args = token.split(":")
        admin = self.admin
        if op == AdminOp.REVOKE and len(args) == 1 and args[0].isdigit():
            await self.conversation.run(admin.revoke, who, int(args[0]))
            return
        if not args:
            raise Refusal(texts.stale_button())
        place, arg = args[0], args[1:]
        index = _index(arg)
        simple: dict[str, Callable[[Identity, str], None]] = {
            AdminOp.RULES: admin.show_rules,
            AdminOp.SEALING: admin.toggle_sealing,
            AdminOp.PEOPLE: admin.show_roles,
        }
        if op in simple and not arg:
            await self.conversation.run(simple[op], who, place)
        elif op in (AdminOp.STAGE, AdminOp.REMOVE_STAGE) and index is not None:
            call = admin.show_stage if op == AdminOp.STAGE else admin.remove_stage
            await self.conversation.run(call, who, place, index)
        elif op == AdminOp.SET_STAGE_WHO and len(arg) == 2 and index is not None:
            await self.conversation.run(admin.set_stage_notify, who, place, index, arg[1])
        elif op == AdminOp.INVITE and len(arg) == 1:
            await self.conversation.run(admin.invite, who, arg[0], place)
        elif op == AdminOp.RESET_YES and not arg:
            await self.conversation.run(admin.reset, who, place)
        elif op == AdminOp.REMOVE_TEXT and len(arg) == 2:
            await self.conversation.close(who)
            await self.conversation.run(admin.set_text, who, place, _org_text(arg[0]), arg[1], None)
        else:
            await self._ask(who, op, place, arg)

    async def _ask(self, who: Identity, op: str, place: str, arg: list[str]) -> None:
        """Buttons that lead to a question: check the caller may answer it, then ask."""
        await self.conversation.run(self.admin.require_admin, who, place)
        start, values = self.conversation.start_form, {"place": place}
        if op == AdminOp.STAGE_AFTER and _index(arg) is not None:
            await start(who, self._stage_after, {**values, "index": arg[0]})
        elif op == AdminOp.STAGE_WHO and _index(arg) is not None:
            await self._choose_target(
                who,
                place,
                lambda notify: admin_token(AdminOp.SET_STAGE_WHO, place, arg[0], notify),
            )
        elif op == AdminOp.ADD_STAGE and not arg:
            await self._choose_target(
                who, place, lambda notify: admin_token(AdminOp.ADD_STAGE_WHO, place, notify)
            )
        elif op == AdminOp.ADD_STAGE_WHO and len(arg) == 1:
            await start(who, self._new_stage, {**values, "notify": arg[0]})
        elif op == AdminOp.DURATION and len(arg) == 1:
            _duration_question(arg[0])  # refuses a forged key before anything is asked
            await start(who, self._timing, {**values, "key": arg[0]})
        elif op == AdminOp.TEXT and len(arg) == 1:
            await self._choose_language(who, place, _org_text(arg[0]))
        elif op == AdminOp.TEXT_LANGUAGE and len(arg) == 2:
            kind, language = _org_text(arg[0]), read_locale(arg[1])
            await start(who, self._text, {**values, "kind": kind, "language": language})
        elif op == AdminOp.OTHER_LANGUAGE and len(arg) == 1:
            await start(who, self._text, {**values, "kind": _org_text(arg[0])})
        elif op == AdminOp.RESET and not arg:
            await self.conversation.say(
                who,
                _(
                    "Undo every change made here in the bot, and use the rules from the "
                    "configuration file again? Check-ins already running keep their rules."
                ),
                (
                    (Button(_("Yes, reset"), admin_token(AdminOp.RESET_YES, place)),),
                    (Button(_("No, keep them"), admin_token(AdminOp.RULES, place)),),
                ),
            )
        else:
            raise Refusal(texts.stale_button())

    # -- what the forms do with the answers ------------------------------------------------

    async def _set_after(self, who: Identity, values: Values) -> None:
        index = int(values["index"])
        await self.conversation.run(
            self.admin.set_stage_after, who, values["place"], index, values["after"]
        )

    async def _add_stage(self, who: Identity, values: Values) -> None:
        await self.conversation.run(
            self.admin.add_stage, who, values["place"], values["after"], values["notify"]
        )

    async def _timed(self, who: Identity, values: Values) -> None:
        await self.conversation.run(
            self.admin.set_duration, who, values["place"], values["key"], values["after"]
        )

    async def _save_text(self, who: Identity, values: Values) -> None:
        kind, place = OrgText(values["kind"]), values["place"]
        await self.conversation.run(
            self.admin.set_text, who, place, kind, values["language"], values["text"]
        )

    async def _choose_target(self, who: Identity, place: str, make: Callable[[str], str]) -> None:
        """Buttons for who a step alerts; `make` turns a choice into its button token."""
        choices = self.admin.target_choices(place)
        await self.conversation.say(
            who,
            _("Who should this step alert?"),
            (
                *((Button(texts.who_is_told(n), make(n.value)),) for n in choices),
                (Button(_("Back to the rules"), admin_token(AdminOp.RULES, place)),),
            ),
        )

    async def _choose_language(self, who: Identity, place: str, kind: OrgText) -> None:
        languages = await self.conversation.run(self.admin.text_languages, who, place, kind)
        rows = tuple(
            (Button(language, admin_token(AdminOp.TEXT_LANGUAGE, place, kind, language)),)
            for language in languages
        )
        other = Button(_("Another language"), admin_token(AdminOp.OTHER_LANGUAGE, place, kind))
        await self.conversation.say(
            who, _("Which language do you want to write the text in?"), (*rows, (other,))
        )


def _index(arg: list[str]) -> int | None:
    return int(arg[0]) if arg and arg[0].isdigit() else None


def _nothing_changed() -> str:
    return _("Stopped. Nothing was changed.")


# The service checks every answer; whatever it refuses is asked again (or the admin stops).
_RETRY_TIME: Mapping[type[Refusal], str] = {Refusal: "after"}


def _time_field(prompt: Callable[[Values], str]) -> Field:
    return Field("after", prompt)


def _form(
    name: str, question: Field, finish: Callable[[Identity, Values], Awaitable[None]]
) -> Form:
    """An admin question answered by one typed time; nothing typed is secret."""
    return Form(
        name, (question,), finish, retry=_RETRY_TIME, deleted=None, stopped=_nothing_changed
    )


def _ask_stage_time(values: Values) -> str:
    return _("How late should this step come? Send a time like 10m, 45m or 1h30.")


def _ask_new_stage_time(values: Values) -> str:
    return _("How late should the new step come? Send a time like 10m, 45m or 1h30.")


def _ask_language(values: Values) -> str:
    return _("Which language? Send its code, like en, es, pt or th.")


def _ask_org_text(values: Values) -> str:
    kind = OrgText(values["kind"])
    most = ORG_TEXTS[kind][1]
    if "text" in values:
        return _("Got it ({n} of {most} characters). Send more, or choose Save.").format(
            n=len(values["text"]), most=most
        )
    if kind is OrgText.PROTOCOL:
        return _(
            "Send the response protocol for language '{language}', up to {n} characters: "
            "what a buddy or responder should do when an alert comes, one short step per "
            "line. Every alert shows it under the alert. Write it for peers, in plain words. "
            "If it is long, send it in several messages, then choose Save."
        ).format(language=values["language"], n=most)
    return _(
        "Send the know-your-rights text for language '{language}', up to {n} "
        "characters. It is shown exactly as you write it. If it is long, send it in "
        "several messages, then choose Save."
    ).format(language=values["language"], n=most)


def _text_buttons(values: Values) -> tuple[tuple[Button, ...], ...]:
    if "text" in values:
        return ((Button(_("Save"), Control.DONE),),)
    place, kind, language = values["place"], values["kind"], values["language"]
    remove = admin_token(AdminOp.REMOVE_TEXT, place, kind, language)
    return ((Button(_("Remove the text in this language"), remove),),)


def _add_text_part(text: str, values: Values) -> str:
    """One more message of the text; the parts are joined by a line break."""
    most = ORG_TEXTS[OrgText(values["kind"])][1]
    draft = TEXT_PART_SEPARATOR.join(filter(None, [values.get("text", ""), text]))
    if len(draft) > most:
        raise Refusal(
            _(
                "That would make the text {n} characters; the most is {most}. "
                "Send a shorter part, or choose Save to keep what you sent before."
            ).format(n=len(draft), most=most)
        )
    return draft


def _org_text(value: str) -> OrgText:
    """The text a button names; a forged one is a stale button."""
    try:
        return OrgText(value)
    except ValueError:
        raise Refusal(texts.stale_button()) from None


def _duration_question(key: str) -> str:
    questions: dict[str, str] = {
        Timing.REMINDER: _(
            "How long before the check-in time should the worker get a reminder? "
            "Send a time like 10m (0 for no reminder)."
        ),
        Timing.ACK_TIMEOUT: _(
            'After someone says "I\'m on it", how long should we wait before the next step? '
            "Send a time like 15m."
        ),
        Timing.MAX_EXTENSION: _(
            "How much extra time in total may a worker add to one check-in? "
            "Send a time like 2h (0 for none)."
        ),
        Timing.RETENTION: _(
            "How long may sealed details be kept if nobody ends the outcall? After this the "
            "alert is closed and the details destroyed. Send a time from 1h to 168h, like 48h."
        ),
    }
    if key not in questions:
        raise Refusal(texts.stale_button())
    return questions[key]


def install(conversation: Conversation, admin: AdminService) -> AdminMenu:
    """Plug `/admin`, `/rights`, the menu's buttons and role codes into the conversation."""
    menu = AdminMenu(conversation, admin)
    conversation.add_command(
        Command("admin", menu.open, N_("Organisation admins: rules and roles"), Audience.ADMIN)
    )
    conversation.add_command(Command("rights", menu.rights, N_("Know your rights where you work")))
    conversation.add_buttons(Menu.ADMIN, menu.press)
    conversation.add_code(is_role_code, menu.accept)
    return menu
