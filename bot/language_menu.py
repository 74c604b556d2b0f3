"""`/language` (and `/idioma`): choose the language buddycheck writes to you in.

The choices are buttons named in their own language ("English", "Español"), so someone
stuck in a language they cannot read still finds theirs. The answer comes in the new one.
"""

from __future__ import annotations

from bot.commands import Call, Command
from bot.conversation import Conversation
from checkins.actions import Menu, menu_token
from checkins.i18n import N_, _, available_locales, current_locale, language_name, supported_locale
from checkins.messages import Button, Identity
from checkins.service import CheckinService, MemberView


class LanguageMenu:
    """Offers every language with a catalog and sets the one a member taps."""

    def __init__(self, conversation: Conversation, service: CheckinService) -> None:
        self.conversation = conversation
        self.service = service

    async def show(self, call: Call) -> None:
        """The language buttons; `/language es` (or es-MX, ES) sets Spanish straight away."""
        rest = call.rest.strip()
        if rest:
            await self.conversation.run(
                self.service.set_locale, call.who, supported_locale(rest) or rest
            )
            return
        buttons = tuple(
            (Button(language_name(locale), menu_token(Menu.LANGUAGE, locale)),)
            for locale in available_locales()
        )
        await self.conversation.say(
            call.who,
            # The conversation speaks the member's language: the current one is theirs.
            _("Which language should I write to you in? Now: {language}.").format(
                language=language_name(current_locale())
            ),
            buttons,
        )

    async def choose(self, who: Identity, member: MemberView, locale: str) -> None:
        await self.conversation.run(self.service.set_locale, who, locale)


def install(conversation: Conversation, service: CheckinService) -> LanguageMenu:
    """Plug `/language`, `/idioma` and their buttons into the shared conversation."""
    menu = LanguageMenu(conversation, service)
    conversation.add_command(
        Command("language", menu.show, N_("Choose my language"), aliases=("idioma",))
    )
    conversation.add_buttons(Menu.LANGUAGE, menu.choose)
    return menu
