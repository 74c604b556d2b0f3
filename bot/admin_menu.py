"""The `/admin` menu, `/rights`, and role codes, plugged into the shared conversation.

Every screen that shows the organisation's state is sent by `AdminService` (it authorises
the caller and reads in one transaction); this module only routes the menu's buttons and
asks for the values an admin types (a time like 10m, a know-your-rights text). What an admin
is in the middle of typing lives in the conversation's memory, like every other guided step.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.commands import Audience, Call, Command
from bot.conversation import Conversation, Pending
from checkins import texts
from checkins.actions import AdminOp, Menu, Timing, admin_token
from checkins.admin import AdminService, is_role_code, read_locale
from checkins.context import Refusal
from checkins.i18n import N_, _
from checkins.messages import Button, Identity
from checkins.rules import RIGHTS_MAX_CHARS
from checkins.service import MemberView

STEP = "admin"
RIGHTS_PART_SEPARATOR = "\n"


class AdminMenu:
    """Routes `adm:` buttons and the admin's typed answers to `AdminService`."""

    def __init__(self, conversation: Conversation, admin: AdminService) -> None:
        self.conversation = conversation
        self.admin = admin

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
        if op == AdminOp.STOP:
            await self.conversation.close(who)
            await self.conversation.say(who, _("Stopped. Nothing was changed."))
            return
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
        elif op == AdminOp.REMOVE_RIGHTS and len(arg) == 1:
            await self.conversation.close(who)
            await self.conversation.run(admin.set_rights, who, place, arg[0], None)
        elif op == AdminOp.SAVE and len(arg) == 1:
            await self._save_rights(who, place, arg[0])
        else:
            await self._ask(who, op, place, arg)

    async def _ask(self, who: Identity, op: str, place: str, arg: list[str]) -> None:
        """Buttons that lead to a question: check the caller may answer it, then ask."""
        await self.conversation.run(self.admin.require_admin, who, place)
        values = {"op": op, "place": place}
        if op == AdminOp.STAGE_AFTER and _index(arg) is not None:
            values["index"] = arg[0]
            await self._begin(
                who, values, _("How late should this step come? Send a time like 10m, 45m or 1h30.")
            )
        elif op == AdminOp.STAGE_WHO and _index(arg) is not None:
            await self._choose_target(
                who, place, lambda notify: admin_token(AdminOp.SET_STAGE_WHO, place, arg[0], notify)
            )
        elif op == AdminOp.ADD_STAGE and not arg:
            await self._choose_target(
                who, place, lambda notify: admin_token(AdminOp.ADD_STAGE_WHO, place, notify)
            )
        elif op == AdminOp.ADD_STAGE_WHO and len(arg) == 1:
            values["notify"] = arg[0]
            await self._begin(
                who,
                values,
                _("How late should the new step come? Send a time like 10m, 45m or 1h30."),
            )
        elif op == AdminOp.DURATION and len(arg) == 1:
            values["key"] = arg[0]
            await self._begin(who, values, _duration_question(arg[0]))
        elif op == AdminOp.RIGHTS and not arg:
            await self._choose_language(who, place)
        elif op == AdminOp.RIGHTS_LANGUAGE and len(arg) == 1:
            values.update(language=arg[0], text="")
            await self._begin(
                who,
                values,
                _(
                    "Send the know-your-rights text for language '{language}', up to {n} "
                    "characters. It is shown exactly as you write it. If it is long, send it in "
                    "several messages, then tap Save."
                ).format(language=arg[0], n=RIGHTS_MAX_CHARS),
                (
                    Button(
                        _("Remove the text in this language"),
                        admin_token(AdminOp.REMOVE_RIGHTS, place, arg[0]),
                    ),
                ),
            )
        elif op == AdminOp.OTHER_LANGUAGE and not arg:
            await self._begin(
                who, values, _("Which language? Send its code, like en, es, pt or th.")
            )
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

    async def answer(self, who: Identity, pending: Pending, text: str) -> None:
        """What the admin typed after a question from `_ask`."""
        values, admin = pending.values, self.admin
        op, place = values["op"], values["place"]
        if op == AdminOp.RIGHTS_LANGUAGE:
            await self._add_rights_part(who, pending, text)
            return
        if op == AdminOp.OTHER_LANGUAGE:
            await self.conversation.close(who)
            await self._ask(who, AdminOp.RIGHTS_LANGUAGE, place, [read_locale(text)])
            return
        if op == AdminOp.STAGE_AFTER:
            index = int(values["index"])
            await self.conversation.run(admin.set_stage_after, who, place, index, text)
        elif op == AdminOp.ADD_STAGE_WHO:
            await self.conversation.run(admin.add_stage, who, place, text, values["notify"])
        else:
            await self.conversation.run(admin.set_duration, who, place, values["key"], text)
        self.conversation.finish(who)

    async def _add_rights_part(self, who: Identity, pending: Pending, text: str) -> None:
        values = pending.values
        draft = RIGHTS_PART_SEPARATOR.join(filter(None, [values["text"], text]))
        if len(draft) > RIGHTS_MAX_CHARS:
            raise Refusal(
                _(
                    "That would make the text {n} characters; the most is {most}. "
                    "Send a shorter part, or tap Save to keep what you sent before."
                ).format(n=len(draft), most=RIGHTS_MAX_CHARS)
            )
        values["text"] = draft
        place, language = values["place"], values["language"]
        await self.conversation.say(
            who,
            _("Got it ({n} of {most} characters). Send more, or tap Save.").format(
                n=len(draft), most=RIGHTS_MAX_CHARS
            ),
            (
                (Button(_("Save"), admin_token(AdminOp.SAVE, place, language)),),
                (Button(_("Stop"), admin_token(AdminOp.STOP)),),
            ),
        )

    async def _save_rights(self, who: Identity, place: str, language: str) -> None:
        pending = self.conversation.pending(who)
        values = pending.values if pending is not None and pending.step == STEP else {}
        if (values.get("op"), values.get("place"), values.get("language")) != (
            AdminOp.RIGHTS_LANGUAGE,
            place,
            language,
        ):
            raise Refusal(_("There is no text waiting to be saved. Send /admin to start again."))
        await self.conversation.run(self.admin.set_rights, who, place, language, values["text"])
        self.conversation.finish(who)

    async def _begin(
        self,
        who: Identity,
        values: dict[str, str],
        question: str,
        extra: tuple[Button, ...] = (),
    ) -> None:
        await self.conversation.begin(who, Pending(step=STEP, values=values))
        rows = (extra,) if extra else ()
        await self.conversation.say(
            who, question, (*rows, (Button(_("Stop"), admin_token(AdminOp.STOP)),))
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

    async def _choose_language(self, who: Identity, place: str) -> None:
        languages = await self.conversation.run(self.admin.rights_languages, who, place)
        rows = tuple(
            (Button(language, admin_token(AdminOp.RIGHTS_LANGUAGE, place, language)),)
            for language in languages
        )
        await self.conversation.say(
            who,
            _("Which language do you want to write the text in?"),
            (*rows, (Button(_("Another language"), admin_token(AdminOp.OTHER_LANGUAGE, place)),)),
        )


def _index(arg: list[str]) -> int | None:
    return int(arg[0]) if arg and arg[0].isdigit() else None


def _duration_question(key: str) -> str:
    questions: dict[str, str] = {
        Timing.REMINDER: _(
            "How long before the check-in time should the worker get a reminder? "
            "Send a time like 10m (0 for no reminder)."
        ),
        Timing.ACK_TIMEOUT: _(
            'After someone taps "I\'m on it", how long should we wait before the next step? '
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
    conversation.add_step(STEP, menu.answer)
    conversation.add_code(is_role_code, menu.accept)
    return menu
