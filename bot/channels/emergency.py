"""The emergency contact as a channel: where a decriminalised jurisdiction's emergency stage
sends.

The outbox row says only `channel="emergency"` and `address=<jurisdiction id>`; the contact
itself (an HTTPS webhook, or a messenger address) is read from the operator's configuration
at send time, so a URL never sits in the outbox and a changed contact applies at once. The
dispatcher's `Engine.may_send` refuses these messages outside decriminalised places before
they get here.
"""

from __future__ import annotations

import httpx

from bot.channels.base import (
    SEND_ONLY,
    Channel,
    ChannelLimits,
    DeliveryError,
    DeliveryReceipt,
    InboundHandler,
    Outbound,
)
from checkins.escalation import EMERGENCY_CHANNEL
from checkins.policy import EmergencyContact, Policy

WEBHOOK = "webhook"
TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class EmergencyChannel(Channel):
    """Sends to each jurisdiction's emergency contact: a webhook POST or a messenger message."""

    name = EMERGENCY_CHANNEL

    def __init__(
        self,
        policy: Policy,
        messengers: dict[str, Channel],
        timeout: httpx.Timeout = TIMEOUT,
    ) -> None:
        self.limits = ChannelLimits(per_second=5.0, per_chat_interval=0.0)
        self.policy = policy
        self.messengers = messengers
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False)

    async def start(self, on_inbound: InboundHandler) -> None:
        """Nothing to receive: the contact never writes back through this channel."""

    def receive_state(self) -> str:
        return SEND_ONLY

    async def stop(self) -> None:
        await self._client.aclose()

    async def send(self, message: Outbound) -> DeliveryReceipt:
        contact = self._contact(message.address)
        if contact.kind == WEBHOOK:
            await self._post(contact.target, message)
            return DeliveryReceipt()
        messenger = self.messengers.get(contact.kind)
        if messenger is None:
            raise DeliveryError("contact_channel_off", permanent=True)
        return await messenger.send(Outbound(contact.kind, contact.target, message.text))

    def _contact(self, jurisdiction_id: str) -> EmergencyContact:
        jurisdiction = self.policy.jurisdictions.get(jurisdiction_id)
        if jurisdiction is None or jurisdiction.emergency_contact is None:
            raise DeliveryError("no_contact", permanent=True)
        return jurisdiction.emergency_contact

    async def _post(self, url: str, message: Outbound) -> None:
        """POST the message as JSON. 3xx/4xx are permanent; 5xx, 429 and timeouts are retried."""
        body = {"source": "buddycheck", "jurisdiction": message.address, "text": message.text}
        try:
            response = await self._client.post(url, json=body)
        except httpx.TimeoutException:
            raise DeliveryError("timeout") from None
        except httpx.HTTPError:
            raise DeliveryError("network") from None
        status = response.status_code
        if status == 429:
            raise DeliveryError("rate_limited", retry_after=_retry_after(response))
        if status >= 500:
            raise DeliveryError(f"http_{status}")
        if status >= 300:  # a redirect or a refusal will not change by retrying
            raise DeliveryError(f"http_{status}", permanent=True)


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers.get("retry-after", ""))
    except ValueError:
        return None
