"""/settings: a member's own safety settings, as buttons (numbered on Signal and the console).

Entries: asking for the PIN at "I'm safe", the duress PIN, changing the PIN, a forgotten PIN,
and deleting the account. Another feature adds an entry with `SettingsMenu.add_entry`; it
appears above "Delete my account". Every PIN typed here is deleted from the chat afterwards.
The menu reads the same whether or not a duress PIN is set, and the duress PIN's
confirmation deletes itself from the chat soon after (`DURESS_CONFIRMATION_SECONDS`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from bot.channels.base import Outbound
from bot.commands import Call, Command
from bot.conversation import Conversation
from bot.core_forms import checked_new_pin
from bot.forms import Field, Form, Values
from checkins import texts
from checkins.actions import Control, Menu, SettingsKey, menu_token
from checkins.context import Refusal, WrongPinRetry
from checkins.i18n import N_, _
from checkins.messages import Button, Identity
from checkins.security import SecuritySettings
from checkins.service import MemberView

DURESS_CONFIRMATION_SECONDS = 60


@dataclass(frozen=True)
class Entry:
    """One menu line: `label` is rendered in the member's language from their settings."""

    key: SettingsKey
    label: Callable[[SecuritySettings], str]
    start: Callable[[Identity], Awaitable[None]]


_CURRENT = Field("pin", lambda values: _("Send your current PIN."), pin=True)
_NEW = Field(
    "new", lambda values: _("Send your new PIN (6 to 12 digits)."), checked_new_pin, pin=True
)
_NEW_AGAIN = Field("again", lambda values: _("Send the new PIN again."), pin=True, same_as="new")
_CURRENT_FOR_DURESS = Field(
    "pin",
    lambda values: _(
        "A duress PIN is a second PIN for when someone forces you to check in. "
        "It looks like a normal check-in to them, but your buddies get an SOS. "
        "It works when your check-in PIN is on.\n"
        "First, send your current PIN."
    ),
    pin=True,
    again=lambda values: _("Send your current PIN."),
)
_DURESS = Field(
    "duress",
    lambda values: _(
        "Send the duress PIN you want: 6 to 12 digits, different from your PIN. "
        "Don't use your phone's PIN."
    ),
    checked_new_pin,
    pin=True,
)
_DURESS_AGAIN = Field(
    "duress_again", lambda values: _("Send the duress PIN again."), pin=True, same_as="duress"
)
# A wrong current PIN (with tries left) asks for it again; the other answers are kept.
_RETRY: Mapping[type[Refusal], str] = {WrongPinRetry: "pin"}


class SettingsMenu:
    """The /settings command, its buttons and its PIN forms."""

    def __init__(self, conversation: Conversation) -> None:
        self.conversation = conversation
        self.security = conversation.security
        self.entries: list[Entry] = [
            Entry(SettingsKey.CHECKIN_PIN, _checkin_label, self._toggle_checkin_pin),
            Entry(SettingsKey.DURESS, _duress_label, self._flow_starter("duress")),
            Entry(SettingsKey.CHANGE, lambda s: _("Change my PIN"), self._flow_starter("change")),
            Entry(SettingsKey.FORGOT, _forgot_label, self._forgot),
            Entry(SettingsKey.FORGET, lambda s: _("Delete my account"), self._confirm_forget),
        ]
        self._forms = {
            form.name: form
            for form in (
                Form("pin_on", (_CURRENT,), self._finish_checkin(True), _RETRY),
                Form("pin_off", (_CURRENT,), self._finish_checkin(False), _RETRY),
                Form(
                    "duress",
                    (_CURRENT_FOR_DURESS, _DURESS, _DURESS_AGAIN),
                    self._finish_duress,
                    _RETRY,
                ),
                Form("change", (_CURRENT, _NEW, _NEW_AGAIN), self._finish_change, _RETRY),
                # The PIN's message is deleted without a notice: after the account is gone,
                # a reply would keep the person's address in the outbox.
                Form("forget", (_CURRENT,), self._finish_forget, _RETRY, deleted=None),
            )
        }
        self._starts: dict[str, Callable[[Identity], Awaitable[None]]] = {
            SettingsKey.RESET_YES: self._request_reset,
            SettingsKey.RESET_STOP: self._stop_reset,
            SettingsKey.FORGET_YES: self._flow_starter("forget"),
        }

    async def forget_me(self, call: Call) -> None:
        """/forgetme: straight to what "Delete my account" explains and asks to confirm."""
        await self._confirm_forget(call.who)

    def add_entry(self, entry: Entry) -> None:
        """Add a line to the menu, just above "Delete my account"."""
        self.entries.insert(len(self.entries) - 1, entry)

    # -- menu ----------------------------------------------------------------------------

    async def show(self, call: Call) -> None:
        settings = await self.conversation.run(self.security.settings, call.who)
        buttons = tuple((Button(e.label(settings), _token(e.key)),) for e in self.entries)
        await self.conversation.say(call.who, _("Settings. What do you want to change?"), buttons)

    async def on_button(self, who: Identity, member: MemberView, token: str) -> None:
        entry = next((e for e in self.entries if e.key == token), None)
        start = entry.start if entry else self._starts.get(token)
        if start is None:
            raise Refusal(_("This button is no longer active. Send /settings to start again."))
        await start(who)

    async def _toggle_checkin_pin(self, who: Identity) -> None:
        settings = await self.conversation.run(self.security.settings, who)
        await self._begin(who, "pin_off" if settings.checkin_pin else "pin_on")

    async def _forgot(self, who: Identity) -> None:
        settings = await self.conversation.run(self.security.settings, who)
        if settings.reset_at is not None:
            await self._stop_reset(who)
            return
        await self.conversation.say(
            who,
            _(
                "If you forgot your PIN, you can choose a new one. For your safety this "
                "takes {span}: your buddies, and the people you are a buddy for, are told now, "
                "and you can stop it until then. After that you'll get new keys, so details "
                "sealed to you before can't be opened any more. Your buddies and settings stay."
            ).format(span=texts.span(self.security.policy.limits.pin_reset_cooling_off)),
            (
                (
                    Button(
                        _("Start the PIN reset"), menu_token(Menu.SETTINGS, SettingsKey.RESET_YES)
                    ),
                ),
                (Button(_("Stop"), Control.STOP),),
            ),
        )

    async def _request_reset(self, who: Identity) -> None:
        await self.conversation.run(self.security.request_reset, who)

    async def _stop_reset(self, who: Identity) -> None:
        await self.conversation.run(self.security.stop_reset, who)

    async def _confirm_forget(self, who: Identity) -> None:
        await self.conversation.say(
            who,
            _(
                "This deletes your account for good: your nickname, your keys and PIN, your "
                "buddy pairings, your outcalls and their sealed details, your invite codes, "
                "and the messages I keep for you. Anyone alerted about an outcall of yours is "
                "told it was closed. Your buddies are told a pairing ended, without your name.\n"
                "You'll need your PIN to confirm. This can't be undone."
            ),
            (
                (
                    Button(
                        _("Yes, delete everything"),
                        menu_token(Menu.SETTINGS, SettingsKey.FORGET_YES),
                    ),
                ),
                (Button(_("Stop"), Control.STOP),),
            ),
        )

    # -- PIN forms ------------------------------------------------------------------

    def _flow_starter(self, flow: str) -> Callable[[Identity], Awaitable[None]]:
        async def start(who: Identity) -> None:
            await self._begin(who, flow)

        return start

    async def _begin(self, who: Identity, flow: str) -> None:
        await self.conversation.start_form(who, self._forms[flow])

    def _finish_checkin(self, on: bool) -> Callable[[Identity, Values], Awaitable[None]]:
        async def finish(who: Identity, values: Values) -> None:
            await self.conversation.run(self.security.set_checkin_pin, who, on, values["pin"])

        return finish

    async def _finish_duress(self, who: Identity, values: Values) -> None:
        message = await self.conversation.run(
            self.security.set_duress_pin, who, values["pin"], values["duress"]
        )
        # Straight to the chat and gone soon: someone looking at the phone later must not
        # find out that a duress PIN exists. Never stored in the outbox.
        channel = self.conversation.channels.get(who.channel)
        if channel is not None:
            await channel.send(
                Outbound(
                    who.channel,
                    who.address,
                    message.text,
                    delete_after_seconds=DURESS_CONFIRMATION_SECONDS,
                )
            )

    async def _finish_change(self, who: Identity, values: Values) -> None:
        await self.conversation.run(self.security.change_pin, who, values["pin"], values["new"])

    async def _finish_forget(self, who: Identity, values: Values) -> None:
        await self.conversation.run(self.security.forget_me, who, values["pin"])
        # Sent straight to the chat: an outbox row would keep their address after deletion.
        channel = self.conversation.channels.get(who.channel)
        if channel is not None:
            await channel.send(Outbound(who.channel, who.address, texts.forgotten()))


def _token(key: SettingsKey) -> str:
    return menu_token(Menu.SETTINGS, key)


def _checkin_label(settings: SecuritySettings) -> str:
    if settings.checkin_pin:
        return _("Ask for my PIN at I'm safe: ON (choose to turn off)")
    return _("Ask for my PIN at I'm safe: OFF (choose to turn on)")


def _duress_label(settings: SecuritySettings) -> str:
    # The same whether or not one is set: the screen must not tell a watcher.
    return _("Set a duress PIN")


def _forgot_label(settings: SecuritySettings) -> str:
    if settings.reset_at is not None:
        return _("Stop my PIN reset (it takes effect at {time})").format(time=settings.reset_at)
    return _("I forgot my PIN")


def install(conversation: Conversation) -> SettingsMenu:
    """Plug /settings into the conversation; returns the menu so features can add entries."""
    menu = SettingsMenu(conversation)
    conversation.add_command(
        Command(
            "settings",
            menu.show,
            N_("PIN, duress PIN, emergency contact, delete my account"),
            shortcut=True,
        )
    )
    conversation.add_command(
        Command("forgetme", menu.forget_me, N_("Delete my account"), listed=False)
    )
    conversation.add_buttons(Menu.SETTINGS, menu.on_button)
    return menu
