"""`/place`: a touring worker moves to the place they work in now.

The places are buttons (numbered replies on Signal and the console) named in the member's
language. Tapping one shows what the move changes; only "Yes, move me" moves them
(`checkins/places.py`).
"""

from __future__ import annotations

from bot.commands import Call, Command
from bot.conversation import Conversation
from checkins.actions import Menu, PlaceStep
from checkins.context import Refusal
from checkins.i18n import N_, _
from checkins.messages import Identity
from checkins.places import PlaceService, read_place
from checkins.service import MemberView


class PlaceMenu:
    """The /place command and its buttons."""

    def __init__(self, conversation: Conversation, places: PlaceService) -> None:
        self.conversation = conversation
        self.places = places

    async def show(self, call: Call) -> None:
        """`/place` lists the places; `/place south` (or its name) goes straight to what a
        move there changes."""
        if call.rest:
            place = read_place(self.places.policy, call.rest)
            await self.conversation.run(self.places.preview, call.who, place)
            return
        await self.conversation.run(self.places.show, call.who)

    async def choose(self, who: Identity, member: MemberView, token: str) -> None:
        step, _sep, place = token.partition(":")
        if step == PlaceStep.SEE:
            await self.conversation.run(self.places.preview, who, place)
        elif step == PlaceStep.GO:
            await self.conversation.run(self.places.move, who, place)
        elif step == "stay":
            await self.conversation.run(self.places.stay, who)
        else:
            raise Refusal(_("This button is no longer active. Send /help to start again."))


def install(conversation: Conversation, places: PlaceService) -> PlaceMenu:
    """Plug `/place` and its buttons into the shared conversation."""
    menu = PlaceMenu(conversation, places)
    conversation.add_command(Command("place", menu.show, N_("Where I work now (its rules)")))
    conversation.add_buttons(Menu.PLACE, menu.choose)
    return menu
