"""`/language` (and `/idioma`): choose the language buddycheck writes to you in.

The choices are buttons named in their own language ("English", "Español"), so someone
stuck in a language they cannot read still finds theirs. The answer comes in the new one.
"""

from __future__ import annotations

from bot.conversation import Conversation
from checkins.i18n import _, available_locales, language_name, supported_locale
from checkins.messages import Button, Identity
from checkins.service import CheckinService, MemberView

PREFIX = "lang"
COMMANDS = ("language", "idioma")


class LanguageMenu:
    """Offers every language with a catalog and sets the one a member taps."""

    def __init__(self, conversation: Conversation, service: CheckinService) -> None:
        self.conversation = conversation
        self.service = service

    async def show(self, who: Identity, member: MemberView, rest: str) -> None:
        """The language buttons; `/language es` (or es-MX, ES) sets Spanish straight away."""
        if rest:
            await self.choose(who, member, supported_locale(rest.strip()) or rest.strip())
            return
        buttons = tuple(
            (Button(language_name(locale), f"{PREFIX}:{locale}"),) for locale in available_locales()
        )
        await self.conversation.say(
            who,
            _("Which language should I write to you in? Now: {language}.").format(
                language=language_name(member.locale)
            ),
            buttons,
        )

    async def choose(self, who: Identity, member: MemberView, locale: str) -> None:
        await self.conversation.run(self.service.set_locale, who, locale)


def install(conversation: Conversation, service: CheckinService) -> LanguageMenu:
    """Plug `/language`, `/idioma` and their buttons into the shared conversation."""
    menu = LanguageMenu(conversation, service)
    for name in COMMANDS:
        conversation.add_command(name, menu.show)
    conversation.add_buttons(PREFIX, menu.choose)
    return menu
