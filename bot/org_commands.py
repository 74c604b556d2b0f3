"""The organisation's commands in the shared conversation: /duty for responders, /drill for
workers, /emergency where an emergency contact exists (also an "Emergency contact" line in
/settings), and their buttons.

Plugged in with `install(conversation, org_service)`; routing, the per-person lock and the
reply to every event stay with `bot.conversation`.
"""

from __future__ import annotations

from bot.commands import Audience, Call, Command
from bot.conversation import Conversation
from bot.settings_menu import Entry, SettingsMenu
from checkins import texts
from checkins.actions import Menu, SettingsKey, Toggle
from checkins.context import Refusal
from checkins.i18n import N_, _
from checkins.messages import Identity
from checkins.organisation import OrganisationService
from checkins.service import MemberView


def install(
    conversation: Conversation, org: OrganisationService, settings: SettingsMenu | None = None
) -> None:
    """Register the commands and buttons on `conversation` (and the /settings line)."""

    async def duty(call: Call) -> None:
        await conversation.run(org.show_duty, call.who)

    async def duty_button(who: Identity, member: MemberView, choice: str) -> None:
        if choice not in (Toggle.ON, Toggle.OFF):
            raise Refusal(_("This button is no longer active. Send /help to start again."))
        await conversation.run(org.set_duty, who, choice == Toggle.ON)

    async def drill(call: Call) -> None:
        await conversation.run(org.start_drill, call.who)

    async def drill_button(who: Identity, member: MemberView, ref: str) -> None:
        await conversation.run(org.drill_got_it, who, ref)

    async def show_emergency(who: Identity) -> None:
        """The notice comes first: the worker sees what is shared before they can turn it on."""
        notice = await conversation.run(org.emergency_notice, who)
        if notice is None:
            await conversation.say(who, texts.emergency_unavailable())
            return
        await conversation.say(who, notice, texts.emergency_buttons())

    async def emergency(call: Call) -> None:
        await show_emergency(call.who)

    async def emergency_button(who: Identity, member: MemberView, choice: str) -> None:
        if choice not in (Toggle.ON, Toggle.OFF):
            await conversation.say(
                who, _("This button is no longer active. Send /help to start again.")
            )
            return
        await conversation.run(org.set_emergency_opt_in, who, choice == Toggle.ON)

    conversation.add_command(Command("drill", drill, N_("Send a practice alert")))
    conversation.add_buttons(Menu.DRILL, drill_button)
    conversation.add_command(
        Command(
            "emergency",
            emergency,
            N_("Where available: also tell an emergency contact"),
        )
    )
    conversation.add_buttons(Menu.EMERGENCY, emergency_button)
    conversation.add_command(
        Command("duty", duty, N_("Responders: go on or off duty"), Audience.RESPONDER)
    )
    conversation.add_buttons(Menu.DUTY, duty_button)
    if settings is not None:
        settings.add_entry(
            Entry(SettingsKey.EMERGENCY, lambda _s: _("Emergency contact"), show_emergency)
        )
