"""Messages through the bot between an alert's handler and its worker (`relay:REF` buttons).

The handler of an alert presses "Message Robin through the bot", types one message, and the
bot sends it to Robin's chat with a button to answer; Robin's answer comes back the same way.
`checkins.relay` authorises every single message against the alert as it stands, so the
relay ends when the alert closes. Neither side ever sees the other's messenger id.

The typed text lives only in memory, in the one-question form, until it is sent, and it is
sent straight to the other chat (as unlocked details are), never through the outbox: the
outbox keeps its text in clear in the database, and sealing it would gain nothing, since a
message must be readable by its recipient's messenger the moment it is sent. Not sealed,
then, but never stored: if the send fails the sender is told and types it again. Nothing
here logs the text.
"""

from __future__ import annotations

from bot.channels.base import DeliveryError, Outbound
from bot.conversation import Conversation
from bot.forms import Field, Form, Values
from checkins import texts
from checkins.actions import Menu
from checkins.context import Refusal
from checkins.i18n import use_locale
from checkins.messages import Identity
from checkins.parsing import normalise
from checkins.relay import RelayService
from checkins.service import MemberView

RELAY_MAX_CHARS = 1000


class Relay:
    """One relayed message per press of a `relay:REF` button."""

    def __init__(self, conversation: Conversation, service: RelayService) -> None:
        self.conversation = conversation
        self.service = service
        self.form = Form(
            "relay",
            (Field("text", lambda values: texts.relay_prompt(values["reader"]), _relay_text),),
            self._pass_on,
            deleted=None,
            stopped=texts.relay_stopped,
        )

    async def press(self, who: Identity, member: MemberView, ref: str) -> None:
        """Check at once that `who` may write (so nobody types a message that can't go)."""
        route = await self.conversation.run(self.service.route, who, ref)
        await self.conversation.start_form(
            who, self.form, {"ref": route.ref, "reader": route.reader_alias}
        )

    async def _pass_on(self, who: Identity, values: Values) -> None:
        # Asked again: the alert may have closed, or been taken over, while they typed.
        route = await self.conversation.run(self.service.route, who, values["ref"])
        channel = self.conversation.channels.get(route.to.channel)
        if channel is None:
            raise Refusal(texts.relay_not_delivered(route.reader_alias))
        with use_locale(route.to_locale):
            message = texts.relayed(route.sender_alias, values["text"], to_worker=route.to_worker)
            buttons = texts.relay_buttons(route.ref, route.sender_alias)
        outbound = Outbound(
            route.to.channel, route.to.address, message.text, buttons, locale=route.to_locale
        )
        try:
            await channel.send(outbound)
        except DeliveryError:
            raise Refusal(texts.relay_not_delivered(route.reader_alias)) from None
        await self.conversation.say(
            who,
            texts.relay_sent(route.reader_alias),
            texts.relay_buttons(route.ref, route.reader_alias),
        )


def _relay_text(text: str, values: Values) -> str:
    """One line of visible text, so a relayed message can't forge lines of the bot's own."""
    cleaned = normalise(text)
    if not cleaned:
        raise Refusal(texts.relay_empty())
    if len(cleaned) > RELAY_MAX_CHARS:
        raise Refusal(texts.relay_too_long(RELAY_MAX_CHARS))
    return cleaned


def install(conversation: Conversation, service: RelayService) -> Relay:
    """Plug the `relay:` buttons into the conversation."""
    relay = Relay(conversation, service)
    conversation.add_buttons(Menu.RELAY, relay.press)
    return relay
