"""The warning list and raid alerts in the shared conversation: /report, /check, /warnings,
/raid, /verify, /moderate, their buttons, and the plate screening at /outcall.

Every question is one guided form (`bot/forms.py`), so each step has Skip, Back and Stop,
buttons on Telegram and numbered replies on Signal and the console. `ReportService` decides
and authorises; this module only asks and routes.

/check is the exception to "every reply goes through the outbox": its answer, and every
refusal of it, goes straight to the chat, and the message with the plate is deleted, so no
row anywhere says who checked what.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.channels.base import Outbound
from bot.commands import Call, Command
from bot.conversation import Conversation
from bot.forms import Field, Form, Values
from checkins import report_texts as words
from checkins.actions import (
    Consent,
    Happened,
    ListOp,
    Menu,
    RaidKind,
    ReportKind,
    answer_token,
)
from checkins.admin import AdminService
from checkins.context import Refusal
from checkins.i18n import N_, _
from checkins.messages import Button, Identity
from checkins.normalise import fold_phone, fold_plate
from checkins.reports import ReportDraft, ReportService, area_in_words, bounded
from checkins.service import MemberView

Rows = tuple[tuple[Button, ...], ...]


def _choices(options: list[tuple[str, str]]) -> Callable[[Values], Rows]:
    """One button per option (a row each: long labels, numbered on Signal)."""

    def rows(values: Values) -> Rows:
        return tuple((Button(label, answer_token(value)),) for value, label in options)

    return rows


def _one_of(allowed: set[str]) -> Callable[[str, Values], str]:
    """A choice question's parser: only its buttons' answers (or their numbers) count."""

    def parse(text: str, values: Values) -> str:
        if text not in allowed:
            raise Refusal(_("Please choose one of the options below, or skip."))
        return text

    return parse


def _kinds() -> list[tuple[str, str]]:
    return [(kind.value, words.report_kind(kind)) for kind in ReportKind]


def _raid_kinds() -> list[tuple[str, str]]:
    return [(kind.value, words.raid_kind(kind)) for kind in RaidKind]


def _when(*options: Happened) -> list[tuple[str, str]]:
    return [(option.value, words.happened_button(option)) for option in options]


def _checked(fold: Callable[[str], str]) -> Callable[[str, Values], str]:
    """A plate or phone answer, kept as typed once it folds (so a typo is asked again at
    once, not found when the whole report is sent)."""

    def parse(text: str, values: Values) -> str:
        fold(text)
        return text

    return parse


def _text(most: int) -> Callable[[str, Values], str]:
    return lambda text, values: bounded(text, most)


class ReportForms:
    """The feature's forms and buttons, bound to the conversation and the services."""

    def __init__(
        self, conversation: Conversation, reports: ReportService, admin: AdminService
    ) -> None:
        self.conversation = conversation
        self.reports = reports
        self.admin = admin
        self.report = Form(
            "report",
            (
                Field(
                    "kind",
                    lambda v: words.ask_kind(),
                    _one_of({k.value for k in ReportKind}),
                    buttons=lambda v: _choices(_kinds())(v),
                    optional=True,
                ),
                Field(
                    "plate",
                    lambda v: words.ask_plate(),
                    _checked(fold_plate),
                    optional=True,
                    secret=True,
                ),
                Field(
                    "phone",
                    lambda v: words.ask_phone(),
                    _checked(fold_phone),
                    optional=True,
                    secret=True,
                ),
                Field(
                    "hint",
                    lambda v: words.ask_hint(),
                    _one_of({c.value for c in Consent}),
                    buttons=lambda v: _choices(
                        [(Consent.YES, words.show_hint_yes()), (Consent.NO, words.show_hint_no())]
                    )(v),
                    optional=True,
                ),
                Field("vehicle", lambda v: words.ask_vehicle(), _text(300), optional=True),
                Field("description", lambda v: words.ask_description(), _text(500), optional=True),
                Field(
                    "area",
                    lambda v: words.ask_area(),
                    lambda text, v: area_in_words(text),
                    optional=True,
                ),
                Field(
                    "when",
                    lambda v: words.ask_when(),
                    _one_of({Happened.TODAY, Happened.WEEK, Happened.EARLIER}),
                    buttons=lambda v: _choices(
                        _when(Happened.TODAY, Happened.WEEK, Happened.EARLIER)
                    )(v),
                    optional=True,
                ),
            ),
            self._submit_report,
            deleted=lambda: _("I deleted your messages with the plate and phone number."),
        )
        self.raid = Form(
            "raid",
            (
                Field(
                    "kind",
                    lambda v: words.ask_raid_kind(),
                    _one_of({k.value for k in RaidKind}),
                    buttons=lambda v: _choices(_raid_kinds())(v),
                    optional=True,
                ),
                Field(
                    "area",
                    lambda v: words.ask_raid_area(),
                    lambda text, v: area_in_words(text),
                    optional=True,
                ),
                Field(
                    "when",
                    lambda v: words.ask_raid_when(),
                    _one_of({Happened.NOW, Happened.TODAY}),
                    buttons=lambda v: _choices(_when(Happened.NOW, Happened.TODAY))(v),
                    optional=True,
                ),
            ),
            self._submit_raid,
        )
        self.edit = self._one_question("edit", words.ask_new_details, self._edit)
        self.ask = self._one_question("ask", words.ask_question, self._ask)
        self.answer = self._one_question("answer", words.ask_answer, self._answer)

    def _one_question(
        self,
        name: str,
        prompt: Callable[[], str],
        finish: Callable[[Identity, Values], Awaitable[None]],
    ) -> Form:
        return Form(
            name,
            (Field("text", lambda v: prompt(), _text(500)),),
            finish,
            deleted=None,
        )

    # -- commands --------------------------------------------------------------------------

    async def report_command(self, call: Call) -> None:
        await self.conversation.start_form(call.who, self.report)

    async def raid_command(self, call: Call) -> None:
        await self.conversation.start_form(call.who, self.raid)

    async def moderate(self, call: Call) -> None:
        await self.conversation.run(self.reports.next_to_moderate, call.who)

    async def verify(self, call: Call) -> None:
        await self.conversation.run(self.admin.verification_code, call.who)

    async def warnings(self, call: Call) -> None:
        text, muted = await self.conversation.run(self.reports.warnings, call.who)
        await self.conversation.say(call.who, text, words.warnings_buttons(muted))

    async def check(self, call: Call) -> None:
        """`/check PLATE`: answered straight to the chat, the message with it deleted; no
        outbox row, no database row, no log line."""
        if call.message_ref:
            await self.conversation.delete_messages(call.who, [call.message_ref], None)
        if not call.rest:
            await self._direct(call.who, words.check_how())
            return
        try:
            reply = await self.conversation.run(self.reports.check, call.who, call.rest)
        except Refusal as refusal:
            reply = str(refusal)
        await self._direct(call.who, reply)

    async def _direct(self, who: Identity, text: str) -> None:
        channel = self.conversation.channels[who.channel]
        await channel.send(Outbound(who.channel, who.address, text))

    # -- buttons ---------------------------------------------------------------------------

    async def press(self, who: Identity, member: MemberView, token: str) -> None:
        """`wl:op:number`: the moderation buttons, the reporter's Answer, mute and rights."""
        op, _sep, item = token.partition(":")
        run, reports = self.conversation.run, self.reports
        number = int(item) if item.isascii() and item.isdigit() and len(item) < 12 else None
        by_number: dict[str, Callable[[Identity, int], None]] = {
            ListOp.PUBLISH: reports.publish_report,
            ListOp.REJECT: reports.reject_report,
            ListOp.WITHDRAW: reports.withdraw_report,
            ListOp.RAID_PUBLISH: reports.publish_raid,
            ListOp.RAID_REJECT: reports.reject_raid,
            ListOp.RAID_WITHDRAW: reports.withdraw_raid,
        }
        if op in by_number and number is not None:
            await run(by_number[op], who, number)
        elif op in (ListOp.EDIT, ListOp.ASK) and number is not None:
            await run(reports.check_may_moderate, who, number)
            form = self.edit if op == ListOp.EDIT else self.ask
            await self.conversation.start_form(who, form, {"number": item})
        elif op == ListOp.ANSWER and number is not None:
            await run(reports.answer_question, who, number, None)
            await self.conversation.start_form(who, self.answer, {"number": item})
        elif op == ListOp.NEXT and not item:
            await run(reports.next_to_moderate, who)
        elif op in (ListOp.MUTE, ListOp.UNMUTE) and not item:
            await run(reports.set_pushes, who, op == ListOp.UNMUTE)
        elif op == ListOp.RIGHTS and not item:
            await run(self.admin.show_rights, who)
        else:
            raise Refusal(_("This button is no longer active. Send /help to start again."))

    # -- what the forms do -----------------------------------------------------------------

    async def _submit_report(self, who: Identity, values: Values) -> None:
        draft = ReportDraft(
            kind=values["kind"],
            plate=values["plate"],
            phone=values["phone"],
            hint=values["hint"],
            vehicle=values["vehicle"],
            description=values["description"],
            area=values["area"],
            happened=values["when"],
        )
        await self.conversation.run(self.reports.submit_report, who, draft)

    async def _submit_raid(self, who: Identity, values: Values) -> None:
        await self.conversation.run(
            self.reports.submit_raid, who, values["kind"], values["area"], values["when"]
        )

    async def _edit(self, who: Identity, values: Values) -> None:
        await self.conversation.run(
            self.reports.edit_report, who, int(values["number"]), values["text"]
        )

    async def _ask(self, who: Identity, values: Values) -> None:
        await self.conversation.run(
            self.reports.ask_reporter, who, int(values["number"]), values["text"]
        )

    async def _answer(self, who: Identity, values: Values) -> None:
        await self.conversation.run(
            self.reports.answer_question, who, int(values["number"]), values["text"]
        )

    async def screen(self, who: Identity, plate: str) -> list[str]:
        """The outcall form's screening: the matching reports' text, for a verified worker."""
        return await self.conversation.run(self.reports.screen, who, plate)


def install(conversation: Conversation, reports: ReportService, admin: AdminService) -> ReportForms:
    """Register the commands, buttons and the /outcall screening on `conversation`."""
    forms = ReportForms(conversation, reports, admin)
    for command in (
        Command("report", forms.report_command, N_("Report a bad client to the warning list")),
        Command("check", forms.check, N_("Verified members: check a plate or phone number")),
        Command("warnings", forms.warnings, N_("Verified members: the community's warning list")),
        Command("raid", forms.raid_command, N_("Warn others about police or immigration activity")),
        Command("verify", forms.verify, N_("Organisation: a code that verifies a worker")),
        Command("moderate", forms.moderate, N_("Moderators: reports and raid alerts waiting")),
    ):
        conversation.add_command(command)
    conversation.add_buttons(Menu.WARNINGS, forms.press)
    conversation.forms.screen = forms.screen
    return forms
