"""The conversations every channel shares: commands, keywords, buttons and guided forms.

Adapters hand in `Inbound` events; this module turns them into service calls and replies.
Whatever a person is in the middle of typing (an outcall's plate, a PIN) is held only in
memory, only for `STEP_TTL`, and never written anywhere: after a restart the person is asked
again. The messages that carried it are deleted from the chat (where the messenger allows)
however the form ends: done, stopped, refused, replaced or timed out. Keywords (SAFE, +30,
SOS, ON IT, UNLOCK) work in any form, so a frightened person never has to finish a form
first.

Every command is one `Command` in the conversation's `CommandTable` (`bot/commands.py`):
the core ones are declared in `_core_commands`, the features' (settings, admin menus, …) in
their own modules with `add_command`. Every guided form is one `Form` (`bot/forms.py`), run
by `start_form` with the same Back, Skip, Stop, re-asking and timeout everywhere. Features
plug in their buttons with `add_buttons`; they share this routing, its per-person lock and
its rule that every event gets a reply.

The core forms (registering, the outcall, the check-in and unlock PINs) are in
`bot/core_forms.py`, the keywords in `bot/keywords.py`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from bot import executors
from bot.channels.base import Channel, Inbound, Outbound
from bot.commands import Audience, Call, Command, CommandTable, command_name
from bot.core_forms import CoreForms, located, outcall_values, place_values
from bot.executors import Executors, Lane
from bot.forms import Form, Pending, Values
from bot.keywords import (
    command_by_word,
    command_by_word_in_any_language,
    is_help_word,
    keyword_action,
    near_keyword,
    nearest,
)
from bot.ratelimit import CommandLimiter
from checkins import texts
from checkins.actions import (
    PAIRING_VERBS,
    Action,
    Control,
    Menu,
    Verb,
    is_control,
    menu_token,
    parse_action,
)
from checkins.argon2_pool import Argon2Budget
from checkins.context import Refusal
from checkins.i18n import N_, _, current_locale, ngettext, supported_locale, use_locale
from checkins.locations import Location, find_location
from checkins.messages import Button, Identity, Message
from checkins.security import SecurityService
from checkins.service import (
    CheckinService,
    MemberView,
)
from storage.db import transient

log = logging.getLogger(__name__)
T = TypeVar("T")
STEP_TTL = 15 * 60
MAX_INPUT_CHARS = 2000


ButtonHandler = Callable[[Identity, MemberView, str], Awaitable[None]]
"""A feature's buttons: the token after the registered `prefix:`."""
CodeHandler = Callable[[Identity, str], Awaitable[None]]
"""A feature's one-time codes, sent with /accept CODE or /start CODE."""


class Conversation:
    """Routes one person's events; one at a time per person, so steps never interleave."""

    def __init__(
        self,
        service: CheckinService,
        channels: dict[str, Channel],
        executors: Executors | None = None,
    ) -> None:
        self.service = service
        self.channels = channels
        self.executors = executors or Executors()
        self._pending: dict[Identity, Pending] = {}
        self._locks: dict[Identity, asyncio.Lock] = {}
        self._waiting: dict[Identity, int] = {}
        self.commands = CommandTable()
        self._buttons: dict[str, ButtonHandler] = {}
        self.security = SecurityService(service)
        self.limiter = CommandLimiter()
        self._codes: list[tuple[Callable[[str], bool], CodeHandler]] = []
        self._expiring: set[asyncio.Task[None]] = set()
        for command in self._core_commands():
            self.commands.add(command)
        self.forms = CoreForms(self)

    def _core_commands(self) -> list[Command]:
        """The commands of the core loop; features add theirs with `add_command`."""
        safety = self._safety_command
        return [
            Command(
                "outcall",
                self._outcall,
                N_("Before a booking: plate, address, check-in time"),
                shortcut=True,
            ),
            safety("safe", Verb.SAFE, N_("I'm out and safe"), urgent=True),
            safety("sos", Verb.SOS, N_("Alert my buddies now"), urgent=True),
            Command("status", self._status, N_("What's running now"), shortcut=True),
            Command("invite", self._invite, N_("Get a code for a new buddy"), shortcut=True),
            Command("accept", self._accept_command, N_("Become someone's buddy with their code")),
            Command("buddies", self._buddies, N_("See or remove buddies"), shortcut=True),
            safety("unlock", Verb.UNLOCK, N_("Open the details of an alert")),
            safety("onit", Verb.ON_IT, N_("I'm handling an alert")),
            Command("cancel", self._cancel, N_("Stop what I'm doing"), safety=Verb.CANCEL),
            Command("start", self._start, N_("Register"), Audience.ANYONE),
            Command("help", self._help, N_("What I can do"), Audience.ANYONE),
        ]

    def add_command(self, command: Command) -> None:
        """Answer `/command.name` (and its aliases) with `command.handler`."""
        self.commands.add(command)

    def add_buttons(self, prefix: str, handler: ButtonHandler) -> None:
        """Route button tokens `prefix:rest` from a registered member to `handler`."""
        self._buttons[prefix] = handler

    def add_code(self, matches: Callable[[str], bool], handler: CodeHandler) -> None:
        """Route `/accept CODE` to `handler` when `matches(CODE)`; buddy codes otherwise."""
        self._codes.append((matches, handler))

    def pending(self, who: Identity) -> Pending | None:
        """What `who` is in the middle of, if anything (and not timed out)."""
        return self._current(who)

    async def _begin(self, who: Identity, pending: Pending) -> None:
        """Start what `who` is in the middle of; a form it replaces is closed first, and is
        said to be lost where that matters (a half-typed outcall would alert nobody)."""
        replaced = self._current(who)
        if replaced is not None and replaced.form.replaced is not None:
            await self.say(who, replaced.form.replaced())
        await self.close(who)
        self._pending[who] = pending

    async def close(self, who: Identity) -> None:
        """A form ends unfinished (stopped, refused, replaced): forget it and delete the
        messages that carried its details or PINs from the chat, saying so."""
        pending = self._pending.pop(who, None)
        if pending is not None:
            await self._delete_refs(who, pending)

    async def _delete_refs(self, who: Identity, pending: Pending) -> None:
        refs, pending.refs = pending.refs, []
        notice = pending.form.deleted
        await self.delete_messages(who, refs, notice() if notice else None)

    # -- guided forms --------------------------------------------------------------------

    async def start_form(
        self,
        who: Identity,
        form: Form,
        values: Values | None = None,
        refs: list[str] | None = None,
    ) -> None:
        """Begin `form` with what is already known (`values`), asking the first missing field."""
        pending = Pending(form, dict(values or {}), refs=list(refs or []))
        await self._begin(who, pending)
        await self._advance(who, pending, 0)

    async def _advance(self, who: Identity, pending: Pending, start: int) -> None:
        """Ask the first unanswered field from `start` on, or finish once all are answered."""
        at = pending.next_missing(start)
        if at is None:
            await self._complete(who, pending)
            return
        pending.at = at
        await self._ask(who, pending)

    async def _ask(self, who: Identity, pending: Pending, wrong: str = "") -> None:
        """Ask the current field; after a bad answer, say what was wrong first."""
        question = pending.current
        prompt = question.prompt
        if wrong and question.again is not None:
            prompt = question.again
        text = f"{wrong}\n\n{prompt(pending.values)}" if wrong else prompt(pending.values)
        hint = "pin" if question.pin else None
        await self.say(who, text, pending.buttons(), input_hint=hint)

    async def _answer(self, who: Identity, pending: Pending, text: str) -> None:
        """One answer to the current field: checked, kept, and the form moves on."""
        question = pending.current
        if question.same_as is not None and text != pending.values.get(question.same_as):
            pending.values.pop(question.same_as, None)
            pending.at = pending.form.index(question.same_as)
            await self._ask(who, pending, _("The PINs didn't match. Let's try again."))
            return
        try:
            pending.values[question.key] = question.parse(text, pending.values)
        except Refusal as refusal:
            await self._ask(who, pending, str(refusal))
            return
        if question.many:  # more may follow, until Done
            await self._ask(who, pending)
            return
        await self._advance(who, pending, pending.at + 1)

    async def _complete(self, who: Identity, pending: Pending) -> None:
        """Every field is answered: finish the form, then delete the messages that carried
        the answers. A refusal in the form's `retry` asks that field again and keeps the form
        (and its messages, deleted when it ends) open; any other ends it."""
        try:
            await pending.form.finish(who, pending.values)
        except Refusal as refusal:
            again = pending.form.retry_field(refusal)
            if self._pending.get(who) is not pending:
                raise
            if again is None:
                await self.say(who, str(refusal))
                await self.close(who)
                return
            pending.values.pop(pending.form.fields[again].key, None)
            pending.at = again
            await self._ask(who, pending, str(refusal))
            return
        if self._pending.get(who) is pending:
            del self._pending[who]
        await self._delete_refs(who, pending)

    async def _on_control(
        self, who: Identity, member: MemberView | None, pending: Pending | None, token: str
    ) -> None:
        """A form's own button: Stop, Skip, Back, Done, a button that answers, or a keypad
        tapped when none was open (the form's question is asked again)."""
        if token == Control.STOP:
            await self.say(
                who, pending.form.stopped() if pending else _("Stopped. Nothing was saved.")
            )
            await self.close(who)
            return
        if pending is None:
            await self._form_lost(who, member, token)
            return
        question = pending.current
        if token == Control.KEYPAD:
            await self._ask(who, pending)
        elif token == Control.SKIP and question.optional:
            pending.values[question.key] = ""
            await self._advance(who, pending, pending.at + 1)
        elif token == Control.BACK and pending.at > 0:
            pending.at -= 1
            pending.values.pop(pending.current.key, None)
            await self._ask(who, pending)
        elif token == Control.DONE and question.many and question.key in pending.values:
            await self._advance(who, pending, pending.at + 1)
        elif token.startswith(f"{Control.ANSWER}:"):
            await self._answer(who, pending, token.removeprefix(f"{Control.ANSWER}:"))
        else:
            raise Refusal(_("This button is no longer active. Send /help to start again."))

    async def run(self, call: Callable[..., T], *args: Any) -> T:
        """Run a blocking service call for the event being handled, on its own threads (a
        safety action's are retried through database trouble: `bot/executors.py`)."""
        return await self.executors.run(call, *args)

    async def handle(self, event: Inbound) -> None:
        """Answer one event. Every event gets a reply; nothing typed is silently dropped,
        not even when the database fails: then the reply goes straight to the chat."""
        who = Identity(event.channel, event.address)
        self.forget_stale()
        lock = self._locks.setdefault(who, asyncio.Lock())
        self._waiting[who] = self._waiting.get(who, 0) + 1
        try:
            async with lock:
                safety = safety_action(event, self._current(who), self.commands)
                with self.executors.lane(who, safety, self._taking_longer) as lane:
                    lane.locale = self._new_person_locale(who, event)  # a member's: theirs
                    try:
                        await self._handle_locked(event, who, lane)
                    except Exception as error:  # nobody is left without an answer
                        await self._failed(lane, error)
        finally:
            # The lock goes once nobody holds or awaits it, so memory doesn't grow per person.
            self._waiting[who] -= 1
            if not self._waiting[who]:
                del self._waiting[who], self._locks[who]

    def forget_stale(self) -> None:
        """Drop every half-typed step older than `STEP_TTL` (a plate, an address, a PIN),
        not only those of people who come back: what was typed lives no longer than that."""
        now = time.monotonic()
        for who, pending in list(self._pending.items()):
            if now - pending.started > STEP_TTL:
                self._expire(who, pending)

    def _expire(self, who: Identity, pending: Pending) -> None:
        """Forget a step left too long; tell its person and delete its messages in the
        background, so nobody else's event (an SOS) waits for that."""
        del self._pending[who]
        if pending.refs or pending.form.expired is not None:
            task = asyncio.get_running_loop().create_task(self._tell_expired(who, pending))
            self._expiring.add(task)
            task.add_done_callback(self._expiring.discard)

    async def _tell_expired(self, who: Identity, pending: Pending) -> None:
        try:
            member = await self.run(self.service.member, who)
            with use_locale(member.locale if member else self._default_locale()):
                if pending.form.expired is not None:
                    await self.say(who, pending.form.expired())
                await self._delete_refs(who, pending)
        except Exception as error:  # a failed clean-up must not surface in another's event
            log.warning("closing a timed-out step failed: %s", type(error).__name__)

    async def _handle_locked(self, event: Inbound, who: Identity, lane: Lane) -> None:
        member = await self.run(self.service.member, who)
        if member is not None:
            lane.locale = member.locale
        with use_locale(lane.locale):
            if not await self._within_limits(event, who):
                return
            try:
                await self._route(event, who, member)
            except Refusal as refusal:
                await self.say(who, str(refusal))
            except Argon2Budget as spent:
                await self.say(who, _pin_budget_spent(spent.retry_after))

    async def _taking_longer(self, lane: Lane) -> None:
        await self.tell_directly(lane.who, lane.locale, executors.taking_longer)

    async def _failed(self, lane: Lane, error: Exception) -> None:
        """The event could not be handled: say so, straight to the chat."""
        log.error("handling a %s event failed: %s", lane.who.channel, executors.reason(error))
        say: Callable[[], str]
        if transient(error):
            say = functools.partial(executors.not_recorded, lane.safety)
        else:
            say = executors.unsure if lane.safety else executors.went_wrong
        await self.tell_directly(lane.who, lane.locale, say)

    async def tell_directly(self, who: Identity, locale: str, text: Callable[[], str]) -> None:
        """Send `text()`, rendered in `locale`, straight to the chat: never through the
        outbox, which lives in the database that may be what failed."""
        channel = self.channels.get(who.channel)
        if channel is None:
            return
        with use_locale(locale):
            message = Outbound(who.channel, who.address, text(), locale=locale)
        try:
            await channel.send(message)
        except Exception as error:  # nothing else is left to try
            log.error("a direct message to %s failed: %s", who.channel, type(error).__name__)

    async def _within_limits(self, event: Inbound, who: Identity) -> bool:
        """Per-person limits; safety actions and PIN answers always pass. Over the limit,
        the person is told once how long to wait, and the event is not handled."""
        pending = self._current(who)
        if urgent(event, self.commands) or (
            pending is not None
            and (_is_pin_answer(event, pending) or _is_language_choice(event, pending))
        ):  # a PIN, or a newcomer's first tap (their language) is never turned away
            return True
        verdict = self.limiter.check(who, time.monotonic())
        if verdict.tell:
            wait = max(1, round(verdict.wait))
            await self.say(
                who,
                ngettext(
                    "You're sending a lot of messages. Please wait {n} second and try again.",
                    "You're sending a lot of messages. Please wait {n} seconds and try again.",
                    wait,
                ).format(n=wait)
                + " "
                + _("SAFE and SOS always work."),
            )
        return verdict.allowed

    async def say(
        self,
        who: Identity,
        text: str,
        buttons: tuple[tuple[Button, ...], ...] = (),
        input_hint: str | None = None,
    ) -> None:
        message = Message(text, buttons, input_hint=input_hint)
        await self.run(self.service.reply, who, message)

    # -- routing -------------------------------------------------------------------------

    async def _route(self, event: Inbound, who: Identity, member: MemberView | None) -> None:
        pending = self._current(who)
        if (
            member is not None
            and member.needs_new_pin
            and pending is None
            and not urgent(event, self.commands)
        ):
            await self.ask_new_pin(who)
            return
        if event.action:
            await self._on_button(event, who, member, pending)
            return
        text = (event.text or "").strip()
        if len(text) > MAX_INPUT_CHARS:
            await self.say(who, _("That message is too long. Please send something shorter."))
            return
        if not text and event.place is None:
            await self.say(who, _("I can only read text messages. Send /help to see what I do."))
            return
        if text.startswith("/"):
            await self._on_command(event, who, member, text)
            return
        keyword = keyword_action(text)
        if keyword is not None and member is not None:
            await self._on_action(who, member, keyword)
            return
        place = event.place or find_location(text)
        outcall = pending is None or pending.form is self.forms.outcall
        if place is not None and member is not None and outcall:
            await self._on_place(event, who, pending, place)
            return
        if event.place is not None and (member is not None or pending is not None):
            raise Refusal(_("I can use a shared location only as the address of an outcall."))
        named = command_by_word(text, current_locale()) if pending is None else None
        if named is not None:  # "salida" is /outcall where there is no command menu
            await self._on_command(event, who, member, f"/{named[0]} {named[1]}".strip())
            return
        if pending is not None:
            if event.message_ref and pending.current.deletes_answer:
                pending.refs.append(event.message_ref)
            await self._answer(who, pending, text)
            return
        if member is None:
            if keyword is not None and keyword.verb is Verb.SOS:
                await self.say(who, texts.sos_from_a_stranger())
            await self._begin_again(who)
            return
        if is_help_word(text):
            await self._help(Call(who, member, ""))
            return
        await self._not_understood(who, text)

    def _current(self, who: Identity) -> Pending | None:
        pending = self._pending.get(who)
        if pending and time.monotonic() - pending.started > STEP_TTL:
            self._expire(who, pending)
            return None
        return pending

    async def _on_command(
        self, event: Inbound, who: Identity, member: MemberView | None, text: str
    ) -> None:
        """Look the command up in the table; only `ANYONE` commands answer non-members."""
        command = self.commands.get(command_name(text))
        if member is None and (command is None or command.audience is not Audience.ANYONE):
            await self.say(who, _("You're not registered yet. Send /start to begin."))
            return
        if command is None:
            near = nearest(command_name(text), [c.name for c in self.commands])
            options = await self._options_now(who)
            head = _("I don't know that command.")
            await self.say(who, texts.not_understood(head, f"/{near}" if near else None, options))
            return
        # What follows the command's first word, however it is set apart (a space, or a
        # new line in a one-message outcall).
        words = text.split(maxsplit=1)
        rest = words[1].strip() if len(words) > 1 else ""
        await command.handler(Call(who, member, rest, event.message_ref))

    async def _not_understood(self, who: Identity, text: str) -> None:
        """Text that is no keyword, command or answer: say so, suggest the keyword it is one
        slip away from (sfae → SAFE, never acted on), and list what works now, not the whole
        command list."""
        if text.rstrip(".").isdigit():
            head = _("That number is not a choice right now.")
        else:
            head = _("Sorry, I didn't understand that.")
        options = await self._options_now(who)
        await self.say(who, texts.not_understood(head, near_keyword(text), options))

    async def _options_now(self, who: Identity) -> list[str]:
        """The two to four things this person can usefully send now: their own outcall's
        keywords, an alert's, or how to start. Keywords in the reader's language."""
        own = await self._has_own_outcall(who)
        alerts = await self.run(self.service.open_alerts, who)
        # TRANSLATORS: the keywords below must be ones bot/keywords.py knows in your language.
        safe_word, on_it_word, unlock_word = _("SAFE"), _("ON IT"), _("UNLOCK")

        def line(word: str, command: str) -> str:
            return texts.option(word, self._meaning(command))

        safe, sos, status = line(safe_word, "safe"), line("SOS", "sos"), line("/status", "status")
        on_it = line(on_it_word, "onit")
        if own and alerts:
            return [safe, sos, on_it, status]
        if own:
            return [safe, texts.option("+30", _("30 more minutes")), sos, status]
        if alerts:
            return [on_it, line(unlock_word, "unlock"), status]
        return [line("/outcall", "outcall"), line("/invite", "invite"), sos, line("/help", "help")]

    def _meaning(self, name: str) -> str:
        """A command's one-line description from the command table, translated."""
        command = self.commands.get(name)
        assert command is not None  # only the core commands are named here
        return _(command.description)

    def help_text(self, who: Identity | None = None) -> str:
        """/help's text, from the command table; on a messenger without a command menu
        (Signal, the console) with each command's word in the reader's language."""
        channel = self.channels.get(who.channel) if who else None
        words = channel is not None and not channel.has_command_menu
        return self.commands.help_text(current_locale() if words else None)

    async def _help(self, call: Call) -> None:
        """/help: the command list, with the everyday commands as buttons (numbered on
        Signal and the console, so "1" starts an outcall)."""
        shortcuts = tuple(
            (Button(_(c.description), menu_token(Menu.COMMAND, c.name)),)
            for c in self.commands
            if c.shortcut
        )
        await self.say(call.who, self.help_text(call.who), shortcuts if call.member else ())

    def _safety_command(
        self, name: str, verb: Verb, description: str, *, urgent: bool = False
    ) -> Command:
        """/safe, /sos, /unlock, /onit: the same as their buttons and keywords."""

        async def handle(call: Call) -> None:
            await self._act(call, verb)

        return Command(name, handle, description, safety=verb, urgent=urgent)

    async def _act(self, call: Call, verb: Verb) -> None:
        assert call.member is not None  # member commands only reach registered members
        await self._on_action(call.who, call.member, Action(verb))

    async def _cancel(self, call: Call) -> None:
        """/cancel stops what is being typed; with nothing being typed, the outcall."""
        pending = self._current(call.who)
        if pending is not None:
            await self.say(call.who, pending.form.stopped())
            await self.close(call.who)
            return
        await self._act(call, Verb.CANCEL)

    async def _invite(self, call: Call) -> None:
        await self.run(self.service.create_invite, call.who)

    async def _accept_command(self, call: Call) -> None:
        await self.accept_code(call.who, call.rest)

    async def _run_shortcut(self, who: Identity, member: MemberView, name: str) -> None:
        """A /help button: run its command as if typed."""
        command = self.commands.get(name)
        if command is None or not command.shortcut:
            raise Refusal(_("This button is no longer active. Send /help to start again."))
        await command.handler(Call(who, member, ""))

    async def _on_button(
        self, event: Inbound, who: Identity, member: MemberView | None, pending: Pending | None
    ) -> None:
        token = event.action or ""
        if is_control(token) and token != Control.NO_PIN:
            await self._on_control(who, member, pending, token)
            return
        if token == Control.NO_PIN and member is not None:
            try:
                await self.run(self.security.ask_buddies_to_confirm, who)
            finally:
                await self.close(who)
            return
        prefix, _sep, rest = token.partition(":")
        if prefix == Menu.COMMAND and member is not None:
            await self._run_shortcut(who, member, rest)
            return
        if prefix in self._buttons and member is not None:
            await self._buttons[prefix](who, member, rest)
            return
        action = parse_action(token)
        if action is None or member is None:
            await self.say(who, _("This button is no longer active. Send /help to start again."))
            return
        await self._on_action(who, member, action)

    async def _on_action(self, who: Identity, member: MemberView, action: Action) -> None:
        service, ref = self.service, action.ref or None
        if action.verb is Verb.SAFE:
            own = await self._has_own_outcall(who)
            if own and member.checkin_pin:
                await self._ask_checkin_pin(who, ref)
            elif own or ref:
                await self.run(service.check_in, who, ref)
            else:  # a buddy's SAFE: "is safe" for their only alert, after a second tap
                await self._answer_alert(who, Verb.CONFIRM_SAFE, None)
        elif action.verb is Verb.EXTEND:
            await self.run(service.extend, who, action.minutes, ref)
        elif action.verb is Verb.SOS:
            try:
                await self.run(service.sos, who)
            finally:  # the SOS first: tidying the chat must never delay it
                await self.close(who)
        elif action.verb is Verb.CANCEL and member.checkin_pin and await self._has_own_outcall(who):
            # Cancelling also silences the alerts: with the PIN on, it needs the PIN like SAFE.
            await self._ask_checkin_pin(who, ref)
        elif action.verb is Verb.CANCEL:
            await self.run(service.cancel, who, ref)
        elif action.verb is Verb.REMOVE_LINK:
            await self._ask_remove_buddy(who, int(action.ref or 0))
        elif action.verb is Verb.REMOVE_CONFIRMED:
            await self.run(service.end_pairing, who, int(action.ref or 0))
        else:
            await self._answer_alert(who, action.verb, ref)

    async def _answer_alert(self, who: Identity, verb: Verb, ref: str | None) -> None:
        """ON IT / UNLOCK / confirm safe, for the alert the button names or the only open one."""
        alerts = await self.run(self.service.open_alerts, who)
        if ref is not None and verb is Verb.UNLOCK and ref not in {a.ref for a in alerts}:
            # Ask for a PIN only for an alert this person may open (stale or foreign: refuse).
            raise Refusal(_("This alert is no longer active. Nothing more to do here."))
        if ref is None:
            if not alerts:
                raise Refusal(_("There is no alert for you right now."))
            if len(alerts) > 1:
                raise Refusal(_("You have several alerts. Please choose from the alert you mean."))
            ref = alerts[0].ref
        if verb is Verb.ON_IT:
            await self.run(self.service.acknowledge, who, ref)
        elif verb is Verb.CONFIRM_SAFE:  # it ends the alert for everyone: ask once more
            about = await self.run(self.service.alerted_about, who, ref)
            question = texts.confirm_safe_question(ref, about.alias, about.duress)
            await self.run(self.service.reply, who, question)
        elif verb is Verb.SAFE_CONFIRMED:
            await self.run(self.service.confirm_safe, who, ref)
        else:
            await self.run(self.service.check_may_unlock, who)
            await self.start_form(who, self.forms.unlock_pin, {"ref": ref})

    async def _ask_remove_buddy(self, who: Identity, link_id: int) -> None:
        """The second tap before a pairing ends (alerts between the two stop at once)."""
        pairings = await self.run(self.service.pairings, who)
        pairing = next((p for p in pairings if p.link_id == link_id), None)
        if pairing is None:
            raise Refusal(_("That buddy link no longer exists. Send /buddies to see yours."))
        question = texts.remove_buddy_question(link_id, pairing.other_alias)
        await self.run(self.service.reply, who, question)

    async def _ask_checkin_pin(self, who: Identity, ref: str | None) -> None:
        """Check-in PIN on: the same prompt whatever comes next (PIN, duress PIN, or none)."""
        await self.start_form(who, self.forms.checkin_pin, {"ref": ref or ""})

    async def ask_new_pin(self, who: Identity) -> None:
        """New keys under a new PIN: after a panic wipe, or when the PIN is forgotten."""
        await self.start_form(who, self.forms.new_pin)

    async def _has_own_outcall(self, who: Identity) -> bool:
        return await self.run(self.service.current_outcall, who) is not None

    # -- onboarding and buddies ----------------------------------------------------------

    async def _start(self, call: Call) -> None:
        who, member, code = call.who, call.member, call.rest
        if member is not None:
            if code:
                await self.accept_code(who, code)
                return
            await self.say(
                who,
                _("Welcome back, {alias}.").format(alias=member.alias)
                + "\n\n"
                + self.help_text(who),
            )
            return
        await self.start_form(who, self.forms.onboarding, {"code": code[:40]})

    async def _begin_again(self, who: Identity) -> None:
        """Someone not registered wrote: they may be new, or have been half-way through
        registering when the bot restarted (what was typed is kept only in memory). Either
        way registering starts (again), rather than a bare "send /start"."""
        await self._start(Call(who, None, ""))

    async def _form_lost(self, who: Identity, member: MemberView | None, token: str) -> None:
        """A button of a form that is no longer open (the bot restarted, or it timed out):
        nothing typed in it was kept, and the person is told so and what to do. Someone
        who was registering starts again at once; a member whose PIN keypad outlived its
        question is told how to be asked again."""
        if member is None:
            await self.say(
                who,
                _(
                    "Sorry, I lost what you were typing (I keep it only for a short while, "
                    "and never after a restart). Let's start again."
                ),
            )
            await self._begin_again(who)
            return
        if token == Control.KEYPAD:
            raise Refusal(
                _(
                    "That PIN question has ended (perhaps I restarted), and nothing you entered "
                    "was kept. Choose the button you began with again, like I'm safe or "
                    "Unlock, and I'll ask for your PIN again."
                )
            )
        raise Refusal(_("This button is no longer active. Send /help to start again."))

    async def accept_code(self, who: Identity, code: str) -> None:
        """/accept CODE (or /start CODE): a feature's code if one claims it, else a buddy code."""
        if not code:
            await self.say(who, _("Send the code with the command, like this: /accept ABCD-EFGH"))
            return
        for matches, handler in self._codes:
            if matches(code):
                await handler(who, code)
                return
        await self.run(self.service.accept_invite, who, code)

    async def _buddies(self, call: Call) -> None:
        who = call.who
        pairings = await self.run(self.service.pairings, who)
        if not pairings:
            await self.say(who, _("You have no buddies yet. Send /invite to get a code."))
            return
        lines, buttons = [], []
        for pairing in pairings:
            if pairing.i_am_worker:
                lines.append(_("• {alias} is your buddy").format(alias=pairing.other_alias))
            else:
                lines.append(_("• You are {alias}'s buddy").format(alias=pairing.other_alias))
            label = _("Remove {alias}").format(alias=pairing.other_alias)
            buttons.append((Button(label, Action(Verb.REMOVE_LINK, str(pairing.link_id)).token()),))
        await self.say(who, "\n".join(lines), tuple(buttons))

    async def _status(self, call: Call) -> None:
        who = call.who
        current = await self.run(self.service.current_outcall, who)
        member = await self.run(self.service.member, who)
        if current is None or member is None:
            await self.say(who, _("No outcall is running. Send /outcall before a booking."))
            return
        due = texts.clock(current.due_at, member.timezone)
        alerting = await self.run(self.service.alert_status, who, current.ref)
        if alerting is not None:
            status = texts.alert_status(
                current.ref, due, alerting.sos, alerting.buddies, alerting.others, alerting.handler
            )
            await self.run(self.service.reply, who, status)
            return
        await self.say(
            who,
            _("Your outcall is running. Check in by {time}.").format(time=due),
            texts.worker_buttons(current.ref),
        )

    # -- outcalls ------------------------------------------------------------------------

    async def _outcall(self, call: Call) -> None:
        """/outcall, with any details sent along: `/outcall KX482B | 14 Hollow Lane | 1h`, or
        one on each line after the command."""
        if await self._told_no_buddy(call.who, [call.message_ref] if call.rest else []):
            return
        refs = [call.message_ref] if call.message_ref else []
        await self.start_form(call.who, self.forms.outcall, outcall_values(call.rest), refs)

    async def _on_place(
        self, event: Inbound, who: Identity, pending: Pending | None, place: Location
    ) -> None:
        """A shared location is the outcall's address: it starts one, or fills the address
        of the one being typed (replacing a typed one), and the question that was open is
        asked again. Its message is deleted with the other details when the form ends. A
        typed address stays when the location comes without words of its own."""
        refs = [event.message_ref] if event.message_ref else []
        if pending is None and await self._told_no_buddy(who, refs):
            return
        await self.say(who, located(place))
        if pending is None:
            await self.start_form(who, self.forms.outcall, place_values(place), refs)
            return
        pending.refs.extend(refs)
        typed = pending.values.get("address", "")
        pending.values.update(place_values(place, typed))
        await self._advance(who, pending, pending.at)

    async def _told_no_buddy(self, who: Identity, refs: Sequence[str | None]) -> bool:
        """An outcall needs a buddy: say so before asking anything, and take any details
        already sent out of the chat."""
        if await self.run(self.service.has_buddy, who):
            return False
        await self.delete_messages(who, [ref for ref in refs if ref], None)
        await self.say(who, texts.no_buddy_for_outcall())
        return True

    async def delete_messages(self, who: Identity, refs: list[str], notice: str | None) -> None:
        """Delete the person's messages where the messenger allows; say so if `notice`."""
        channel = self.channels.get(who.channel)
        if channel is None or not refs:
            return
        deleted = [await channel.delete(who.address, ref) for ref in refs]
        if all(deleted) and notice:
            await self.say(who, notice)

    def _new_person_locale(self, who: Identity, event: Inbound) -> str:
        """The language a newcomer chose at /start; before that their messenger's language
        when we have it, else the default place's language."""
        pending = self._pending.get(who)
        chosen = pending.values.get("language") if pending else None
        return chosen or supported_locale(event.language) or self._default_locale()

    def _default_locale(self) -> str:
        policy = self.service.policy
        return policy.jurisdiction(policy.default_jurisdiction).locale


def _is_language_choice(event: Inbound, pending: Pending) -> bool:
    """A newcomer answering the first question of all, their language (tapped or typed)."""
    if pending.form.name != "onboarding" or pending.current.key != "language":
        return False
    if event.action:
        return event.action.startswith(f"{Control.ANSWER}:")
    typed = (event.text or "").strip()
    return bool(typed) and not typed.startswith("/")


def _is_pin_answer(event: Inbound, pending: Pending) -> bool:
    """Typed text (not a command or button) while a PIN is expected."""
    typed = (event.text or "").strip()
    return pending.current.pin and not event.action and bool(typed) and not typed.startswith("/")


def safety_action(event: Inbound, pending: Pending | None, commands: CommandTable) -> Verb | None:
    """The safety action an event is, if any: it runs on its own threads, and is retried
    through database trouble (`bot/executors.py`). A PIN typed to check in or to unlock is
    one too."""
    if event.action:
        action = parse_action(event.action)
        if event.action == Control.NO_PIN:
            return Verb.SAFE
        return action.verb if action and action.verb not in PAIRING_VERBS else None
    text = (event.text or "").strip()
    if text.startswith("/"):
        command = commands.get(command_name(text))
        return command.safety if command else None
    keyword = keyword_action(text[:40])
    if keyword is not None:
        return keyword.verb
    if pending is not None and _is_pin_answer(event, pending):
        return pending.form.safety
    named = command_by_word_in_any_language(text[:40]) if pending is None else None
    command = commands.get(named) if named else None  # "cancelar" is /cancel
    return command.safety if command else None


def _pin_budget_spent(retry_after: float) -> str:
    minutes = max(1, round(retry_after / 60))
    return ngettext(
        "You've used your PIN many times in a short while. Please wait {n} minute and try "
        "again. SAFE and SOS always work.",
        "You've used your PIN many times in a short while. Please wait {n} minutes and try "
        "again. SAFE and SOS always work.",
        minutes,
    ).format(n=minutes)


def urgent(event: Inbound, commands: CommandTable) -> bool:
    """Safety actions: every alert and check-in button, SAFE, SOS, +30, ON IT, /safe, /sos.

    They are never rate-limited and never wait behind a settings step.
    """
    if event.action:
        return parse_action(event.action) is not None or event.action == Control.NO_PIN
    text = (event.text or "").strip()
    command = commands.get(command_name(text))
    return (command is not None and command.urgent) or keyword_action(text[:40]) is not None
