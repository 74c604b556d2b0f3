"""The emergency stage: only where sex work is decriminalised, only for workers who opted in,
never for a drill, and never carrying the sealed details."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from pydantic import ValidationError
from sqlalchemy import select, update

from bot.channels.base import DeliveryError, Outbound
from bot.channels.console import ConsoleChannel
from bot.channels.emergency import EmergencyChannel
from bot.config import ConfigError, settings_from
from bot.dispatcher import Dispatcher
from checkins.context import Refusal
from checkins.ladder import LegalModel
from checkins.messages import Identity, Kind
from checkins.organisation import OrganisationService
from checkins.policy import EmergencyContact, Limits, Policy
from checkins.rules import merged
from checkins.security import SecurityService
from storage.tables import Member, OutboxMessage, Outcall, Role
from tests.conftest import PIN, World

UNSAFE_MODELS = [m for m in LegalModel if m is not LegalModel.DECRIMINALISED]
PLATE, ADDRESS, NOTES = "KX482B", "14 Hollow Lane", "tall, blue hat"
EMERGENCY_LADDER = [
    {"after": "10m", "notify": "buddies"},
    {"after": "60m", "notify": "emergency"},
]


class Webhook:
    """A loopback HTTP server standing in for the organisation's emergency line."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.status = 200
        self.url = ""
        self._arrived = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(await request.json())
        self._arrived.set()
        return web.Response(status=self.status)

    async def wait(self, count: int, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self.received) < count:
                self._arrived.clear()
                await self._arrived.wait()


@pytest.fixture
async def webhook() -> AsyncIterator[Webhook]:
    hook = Webhook()
    app = web.Application()
    app.router.add_post("/emergency", hook.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    hook.url = f"http://127.0.0.1:{port}/emergency"
    yield hook
    await runner.cleanup()


async def deliver(dispatcher: Dispatcher, webhook: Webhook, count: int) -> None:
    """Drain the outbox until the webhook holds `count` posts (the channel's rate limit may
    hold a message back for a moment); bounded to five seconds."""
    for _attempt in range(50):
        await dispatcher.drain()
        if len(webhook.received) >= count:
            return
        await asyncio.sleep(0.1)
    await webhook.wait(count, timeout=0.1)


def pointed_at(policy: Policy, url: str) -> Policy:
    """The same policy with the south's emergency contact at the test's webhook."""
    south = dataclasses.replace(
        policy.jurisdictions["south"], emergency_contact=EmergencyContact("webhook", url)
    )
    return dataclasses.replace(policy, jurisdictions={**policy.jurisdictions, "south": south})


def move_worker_south(world: World) -> None:
    with world.db.transaction() as session:
        session.execute(
            update(Member).where(Member.address == "robin").values(jurisdiction="south")
        )


def organisation(world: World) -> OrganisationService:
    service = world.service
    return OrganisationService(service.ctx)


def emergency_rows(world: World) -> list[OutboxMessage]:
    with world.db.transaction() as session:
        rows = list(
            session.scalars(select(OutboxMessage).where(OutboxMessage.kind == Kind.EMERGENCY))
        )
        session.expunge_all()
        return rows


# -- refused everywhere but decriminalised ---------------------------------------------------


def jurisdiction_section(model: str, **extra: Any) -> dict[str, Any]:
    return {"legal_model": model, "timezone": "UTC", "ladder": EMERGENCY_LADDER, **extra}


@pytest.mark.parametrize("model", UNSAFE_MODELS)
def test_config_with_an_emergency_stage_is_refused_outside_decriminalised(model: str) -> None:
    contact = {"emergency_contact": {"webhook_url": "https://example.org/hook"}}
    with pytest.raises(ConfigError, match="only allowed where legal_model is 'decriminalised'"):
        settings_from(
            {
                "service": {"default_jurisdiction": "x"},
                "jurisdictions": {"x": jurisdiction_section(model, **contact)},
            },
            "config.toml",
        )


def test_config_with_an_emergency_stage_is_accepted_where_decriminalised() -> None:
    contact = {"emergency_contact": {"webhook_url": "https://example.org/hook"}}
    settings = settings_from(
        {
            "service": {"default_jurisdiction": "x"},
            "jurisdictions": {"x": jurisdiction_section("decriminalised", **contact)},
        },
        "config.toml",
    )
    assert settings.policy().jurisdiction("x").emergency_contact is not None


def test_an_emergency_contact_on_a_messenger_buddycheck_does_not_know_is_refused() -> None:
    """A typo in `channel` would leave the emergency stage with nowhere to send."""
    contact = {"emergency_contact": {"channel": "signall", "address": "+15550100"}}
    with pytest.raises(ConfigError, match="'signall', which is not a messenger"):
        settings_from(
            {
                "service": {"default_jurisdiction": "x"},
                "jurisdictions": {"x": jurisdiction_section("decriminalised", **contact)},
            },
            "config.toml",
        )


@pytest.mark.parametrize("model", UNSAFE_MODELS)
def test_an_admin_edit_adding_an_emergency_stage_is_refused_outside_decriminalised(
    model: str,
) -> None:
    source = {
        "legal_model": model,
        "timezone": "UTC",
        "ladder": [{"after": "10m", "notify": "buddies"}],
    }
    with pytest.raises(ValidationError, match="only allowed where legal_model is 'decriminalised'"):
        merged(source, {"ladder": EMERGENCY_LADDER}, Limits())


@pytest.mark.parametrize("model", UNSAFE_MODELS)
def test_a_tampered_snapshot_never_makes_the_engine_call_the_emergency_contact(
    world: World, model: LegalModel
) -> None:
    organisation(world)  # the worker is in the criminalised north: opting in is impossible
    with world.db.transaction() as session:
        session.execute(update(Member).values(emergency_opt_in=True))
    world.service.start_outcall(world.worker, PLATE, ADDRESS, NOTES, "30m")
    with world.db.transaction() as session:
        outcall = session.scalars(select(Outcall)).one()
        ladder = dict(outcall.ladder)
        ladder["legal_model"] = model.value
        ladder["stages"] = [[0, "buddies"], [60, "emergency"]]
        outcall.ladder = ladder
        outcall_id = outcall.id
    world.clock.advance(hours=2)
    world.engine.tick()
    assert emergency_rows(world) == []
    assert not world.engine.may_send(outcall_id)


# -- the decriminalised south ----------------------------------------------------------------


def test_the_notice_says_what_is_shared_and_where_it_is_not_available_opt_in_is_refused(
    world: World,
) -> None:
    org = organisation(world)
    assert org.emergency_notice(world.worker) is None
    with pytest.raises(Refusal, match="There is no emergency contact where you are"):
        org.set_emergency_opt_in(world.worker, True)
    move_worker_south(world)
    notice = org.emergency_notice(world.worker)
    assert notice is not None
    for promise in ("your nickname", "the check-in time you missed", "who is handling it"):
        assert promise in notice
    assert "never get your plate, address or notes" in notice
    assert "60 minutes" in notice and "It is OFF for you now" in notice
    assert "127.0.0.1" not in notice, "the contact's address is the operator's, not shown"
    org.set_emergency_opt_in(world.worker, True)
    assert "Turned on" in world.last(world.worker)
    assert "It is ON for you now" in (org.emergency_notice(world.worker) or "")


async def test_opted_in_worker_reaches_the_webhook_without_details_and_it_stands_down(
    world: World, webhook: Webhook
) -> None:
    move_worker_south(world)
    organisation(world).set_emergency_opt_in(world.worker, True)
    world.service.start_outcall(world.worker, PLATE, ADDRESS, NOTES, "30m")
    world.clock.advance(minutes=41)
    world.engine.tick()  # buddies
    world.service.acknowledge(world.buddy, world.outcall_ref())
    world.clock.advance(minutes=50)  # due + 61 min: the emergency stage
    world.engine.tick()
    rows = emergency_rows(world)
    assert [(r.channel, r.address) for r in rows] == [("emergency", "south")]
    assert all(webhook.url not in r.text for r in rows), "the URL stays out of the outbox"
    policy = pointed_at(world.service.policy, webhook.url)
    console = ConsoleChannel(printer=lambda _text: None)
    emergency = EmergencyChannel(policy, {"console": console})
    channels = {"console": console, "emergency": emergency}
    dispatcher = Dispatcher(world.db, world.engine, channels, world.clock)
    await deliver(dispatcher, webhook, 1)
    alert = webhook.received[0]
    assert alert["jurisdiction"] == "south"
    assert "Robin" in alert["text"] and "missed a safety check-in" in alert["text"]
    assert "Sam said they were handling it" in alert["text"]
    world.service.check_in(world.worker)
    await deliver(dispatcher, webhook, 2)
    assert (
        "stand down" in webhook.received[1]["text"]
        and "Robin is safe" in webhook.received[1]["text"]
    )
    for body in webhook.received:
        for secret in (PLATE, ADDRESS, NOTES):
            assert secret not in str(body)
    await emergency.stop()


def test_withdrawing_consent_after_an_sos_does_not_silence_the_emergency_contact(
    world: World,
) -> None:
    """Whoever holds the phone after Robin pressed SOS turns the opt-in off; the contact is
    still told, because Robin consented when they asked for help."""
    move_worker_south(world)
    organisation(world).set_emergency_opt_in(world.worker, True)
    world.service.start_outcall(world.worker, PLATE, ADDRESS, NOTES, "30m")
    world.service.sos(world.worker)
    organisation(world).set_emergency_opt_in(world.worker, False)
    world.clock.advance(minutes=91)
    world.engine.tick()
    assert [(r.channel, r.address) for r in emergency_rows(world)] == [("emergency", "south")]


def test_withdrawing_consent_after_the_duress_pin_does_not_silence_the_emergency_contact(
    world: World,
) -> None:
    move_worker_south(world)
    organisation(world).set_emergency_opt_in(world.worker, True)
    SecurityService(world.service).set_duress_pin(world.worker, PIN, "975310")
    world.service.start_outcall(world.worker, PLATE, ADDRESS, NOTES, "30m")
    world.service.check_in(world.worker, pin="975310")
    organisation(world).set_emergency_opt_in(world.worker, False)
    world.clock.advance(minutes=91)
    world.engine.tick()
    assert [(r.channel, r.address) for r in emergency_rows(world)] == [("emergency", "south")]


def test_withdrawing_consent_during_an_ordinary_outcall_is_honoured(world: World) -> None:
    move_worker_south(world)
    organisation(world).set_emergency_opt_in(world.worker, True)
    world.service.start_outcall(world.worker, PLATE, ADDRESS, NOTES, "30m")
    organisation(world).set_emergency_opt_in(world.worker, False)
    world.clock.advance(minutes=91)
    world.engine.tick()
    assert emergency_rows(world) == []


def test_without_opt_in_the_emergency_stage_falls_through(world: World) -> None:
    move_worker_south(world)
    world.service.start_outcall(world.worker, PLATE, ADDRESS, NOTES, "30m")
    world.clock.advance(minutes=91)
    world.engine.tick()
    assert emergency_rows(world) == []
    assert "Still no check-in from Robin" in world.last(world.buddy)


def test_an_extension_after_the_contact_was_alerted_stands_them_down(world: World) -> None:
    move_worker_south(world)
    organisation(world).set_emergency_opt_in(world.worker, True)
    world.service.start_outcall(world.worker, PLATE, ADDRESS, NOTES, "30m")
    world.clock.advance(minutes=91)
    world.engine.tick()
    assert len(emergency_rows(world)) == 1
    world.service.extend(world.worker, 30)
    texts = [row.text for row in emergency_rows(world)]
    assert len(texts) == 2 and "asked for more time" in texts[1]


async def test_a_contact_refusing_the_alert_brings_in_the_admins(
    world: World, webhook: Webhook
) -> None:
    move_worker_south(world)
    organisation(world).set_emergency_opt_in(world.worker, True)
    admin = Identity("console", "ada")
    world.service.register(admin, "Ada", PIN)
    with world.db.transaction() as session:
        ada = session.scalars(select(Member).where(Member.address == "ada")).one()
        session.add(
            Role(member_id=ada.id, role="admin", jurisdiction="south", created_at=world.clock())
        )
    world.service.start_outcall(world.worker, PLATE, ADDRESS, NOTES, "30m")
    world.clock.advance(minutes=91)
    world.engine.tick()
    webhook.status = 410  # the contact's endpoint is gone
    console = ConsoleChannel(printer=lambda _text: None)
    emergency = EmergencyChannel(pointed_at(world.service.policy, webhook.url), {})
    dispatcher = Dispatcher(
        world.db, world.engine, {"console": console, "emergency": emergency}, world.clock
    )
    await deliver(dispatcher, webhook, 1)
    told = world.messages(admin)
    assert any("Robin" in text for text in told)  # the alert itself, as the last resort
    assert "could not be reached" in told[-1]
    await emergency.stop()


def test_a_drill_never_reaches_the_emergency_contact(world: World) -> None:
    move_worker_south(world)
    org = organisation(world)
    org.set_emergency_opt_in(world.worker, True)
    org.start_drill(world.worker)
    for _hour in range(3):
        world.clock.advance(hours=1)
        world.engine.tick()
    assert emergency_rows(world) == []
    assert "Drill report" in world.last(world.worker)


@pytest.mark.parametrize(
    ("status", "permanent"), [(500, False), (503, False), (404, True), (410, True)]
)
async def test_webhook_failures_are_classified_for_retry_or_give_up(
    world: World, webhook: Webhook, status: int, permanent: bool
) -> None:
    webhook.status = status
    channel = EmergencyChannel(pointed_at(world.service.policy, webhook.url), {})
    with pytest.raises(DeliveryError) as raised:
        await channel.send(Outbound("emergency", "south", "test"))
    assert raised.value.permanent is permanent
    with pytest.raises(DeliveryError) as raised:
        await channel.send(Outbound("emergency", "north", "test"))  # no contact there
    assert raised.value.permanent
    await channel.stop()
