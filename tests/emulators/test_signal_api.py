"""The real signalbot 2.2.1 client against the local signal-cli-rest-api emulator.

These tests pin down, over loopback HTTP and a real websocket, how the installed signalbot
behaves towards the server: start-up handshake, a round trip, send failures, and what
happens to receiving when the websocket goes away. They keep the emulator honest (anything
signalbot calls that it does not know fails the test) and document the signalbot behaviour
the Signal adapter has to supervise. No signalbot internals are patched.

How to run SignalBot inside an already running event loop: build it inside a coroutine
(it adopts the running loop), call `bot.start(run_forever=False)` and
`await bot.wait_until_ready()`. `bot.stop()` cannot be used to stop it there, because it
ends with `loop.stop()` on that very loop; `stop_bot` below does the rest of what `stop()`
does instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest
from signalbot import (
    LOGGER_NAME,
    Config,
    ConnectionMode,
    DataMessageContext,
    DataMessageHandler,
    InMemoryConfig,
    ReceiptType,
    SendError,
    SendMessage,
    SignalBot,
    UpdateContact,
    text_triggered,
)

from .signal_api import NO_RECIPIENT_REACHED, SignalApiEmulator

BOT_NUMBER = "+15550000001"
ALICE_UUID = "6f1d2b3c-4a5e-4f60-8a7b-9c0d1e2f3a4b"
READY_WITHIN = 5.0


class PingHandler(DataMessageHandler):
    """Answers "ping" with a quoted "pong": the smallest proof of a full round trip."""

    @text_triggered("ping")
    async def handle_data_message(self, context: DataMessageContext) -> None:
        """Reply through `ctx.reply`, which sends to the sender's uuid."""
        await context.reply(SendMessage(text="pong"))


class BusyHandler(DataMessageHandler):
    """Uses every side endpoint a check-in bot may need, so the emulator must serve them."""

    @text_triggered("busy")
    async def handle_data_message(self, context: DataMessageContext) -> None:
        """Typing, reaction, receipt, reply, disappearing timer, then delete the reply."""
        await context.start_typing()
        await context.react("👍")
        await context.send_receipt(ReceiptType.READ)
        sent = await context.reply(SendMessage(text="on it"))
        await context.stop_typing()
        await context.update_contact(UpdateContact(expiration_in_seconds=3600))
        await context.remote_delete(sent)


@pytest.fixture
async def api() -> AsyncIterator[SignalApiEmulator]:
    """A running emulator; fails the test if signalbot called a route it does not know."""
    async with SignalApiEmulator(number=BOT_NUMBER) as emulator:
        yield emulator
        assert emulator.unhandled == []


@pytest.fixture
async def bot(api: SignalApiEmulator) -> AsyncIterator[SignalBot]:
    """A SignalBot configured for the emulator, not yet started; always stopped after.

    Every SignalBot adds a console handler to the "signalbot" logger; they are removed
    again so log lines do not multiply from test to test.
    """
    logger = logging.getLogger(LOGGER_NAME)
    handlers = list(logger.handlers)
    config = Config(
        phone_number=api.number,
        signal_service=api.service,
        connection_mode=ConnectionMode.HTTP_ONLY,
        retry_interval=1,
        storage=InMemoryConfig(),
        download_attachments=False,
    )
    signal_bot = SignalBot(config)
    yield signal_bot
    await stop_bot(signal_bot)
    logger.handlers = handlers


async def start_bot(bot: SignalBot) -> None:
    """Start the bot on the test's loop and wait, bounded, until start-up is done.

    Done means the receive and handler tasks exist; the websocket may still be
    connecting, so tests then wait for `api.wait_connected()`.
    """
    bot.start(run_forever=False)
    async with asyncio.timeout(READY_WITHIN):
        await bot.wait_until_ready()


async def stop_bot(bot: SignalBot) -> None:
    """`SignalBot.stop()` minus its final `loop.stop()`, which would kill the test's loop."""
    if bot.init_task is not None and not bot.init_task.done():
        bot.init_task.cancel()
        await asyncio.gather(bot.init_task, return_exceptions=True)
    await bot._pipeline.stop()
    await bot.close()


async def test_start_up_handshake(api: SignalApiEmulator, bot: SignalBot) -> None:
    """Health, about (twice), groups, then the receiver websocket, in that order."""
    group_id = api.add_group("Buddies", [ALICE_UUID])

    await start_bot(bot)
    await api.wait_connected()

    assert [(c.method, c.path, c.status) for c in api.calls] == [
        ("GET", "/v1/health", 204),
        ("GET", "/v1/about", 200),
        ("GET", "/v1/about", 200),
        ("GET", f"/v1/groups/{BOT_NUMBER}", 200),
        ("GET", f"/v1/receive/{BOT_NUMBER}", 101),
    ]
    assert bot.groups.resolve("Buddies") == group_id


async def test_ping_is_answered_over_the_wire(api: SignalApiEmulator, bot: SignalBot) -> None:
    """The handler sees the envelope and its reply reaches /v2/send addressed to the uuid."""
    bot.register(PingHandler())
    await start_bot(bot)
    await api.wait_connected()
    alice = api.user(uuid=ALICE_UUID, number="+14155550123", name="Alice")

    sent_at = await alice.send_text("ping")
    reply = await alice.wait_for_message("pong")

    assert reply.status == 201
    assert reply.recipients == (ALICE_UUID,)
    assert reply.body["number"] == BOT_NUMBER
    assert reply.body["quote_author"] == ALICE_UUID
    assert reply.body["quote_timestamp"] == sent_at
    assert api.dropped == []


async def test_side_endpoints_are_served(api: SignalApiEmulator, bot: SignalBot) -> None:
    """Typing, reactions, receipts, remote delete and the contact timer all round-trip."""
    bot.register(BusyHandler())
    await start_bot(bot)
    await api.wait_connected()
    alice = api.user(uuid=ALICE_UUID, name="Alice")

    sent_at = await alice.send_text("busy")
    await api.wait_until(lambda: api.calls_to("DELETE", f"/v1/remote-delete/{BOT_NUMBER}"))

    side_calls = [(c.method, c.path.removesuffix(BOT_NUMBER), c.status) for c in api.calls[5:]]
    assert side_calls == [
        ("PUT", "/v1/typing-indicator/", 204),
        ("POST", "/v1/reactions/", 204),
        ("POST", "/v1/receipts/", 204),
        ("POST", "/v2/send", 201),
        ("DELETE", "/v1/typing-indicator/", 204),
        ("PUT", "/v1/contacts/", 204),
        ("DELETE", "/v1/remote-delete/", 201),
    ]
    reaction = api.calls_to("POST", f"/v1/reactions/{BOT_NUMBER}")[0].json
    assert reaction == {
        "reaction": "👍",
        "recipient": ALICE_UUID,
        "target_author": ALICE_UUID,
        "timestamp": sent_at,
    }
    assert api.contacts == {ALICE_UUID: {"expiration_in_seconds": 3600}}
    deleted = api.calls_to("DELETE", f"/v1/remote-delete/{BOT_NUMBER}")[0].json
    assert deleted == {"recipient": ALICE_UUID, "timestamp": alice.messages()[0].timestamp}


@pytest.mark.parametrize("status", [500, 429])
async def test_send_failure_raises_send_error_with_status_on_cause(
    api: SignalApiEmulator, bot: SignalBot, status: int
) -> None:
    """The status is only on `exc.__cause__.status`; the JSON error body is dropped."""
    api.fail_next_send(status=status)

    with pytest.raises(SendError) as raised:
        await bot.messages.send(SendMessage(text="hello"), ALICE_UUID)

    cause = raised.value.__cause__
    assert isinstance(cause, aiohttp.ClientResponseError)
    assert cause.status == status
    assert str(raised.value).startswith(f"{status}, message=")
    assert "error" not in str(raised.value)
    assert api.sent[-1].delivered_to == ()
    await bot.messages.send(SendMessage(text="hello again"), ALICE_UUID)
    assert api.sent[-1].status == 201


async def test_unregistered_recipient_is_a_400_send_error(
    api: SignalApiEmulator, bot: SignalBot
) -> None:
    """Someone who left Signal: 400, which the outbox must treat as permanent."""
    alice = api.user(uuid=ALICE_UUID, name="Alice")
    api.unregister(ALICE_UUID)

    with pytest.raises(SendError) as raised:
        await bot.messages.send(SendMessage(text="are you ok?"), ALICE_UUID)

    assert isinstance(raised.value.__cause__, aiohttp.ClientResponseError)
    assert raised.value.__cause__.status == 400
    assert alice.messages() == []


async def test_failures_scripted_for_one_recipient_leave_others_alone(
    api: SignalApiEmulator, bot: SignalBot
) -> None:
    """`fail_sends_to` answers only that recipient's sends, `count` times, with the real text."""
    alice, bob = api.user(name="Alice"), api.user(name="Bob")
    api.fail_sends_to(alice.uuid, NO_RECIPIENT_REACHED, count=1)

    with pytest.raises(SendError) as raised:
        await bot.messages.send(SendMessage(text="one"), alice.uuid)
    await bot.messages.send(SendMessage(text="two"), bob.uuid)
    await bot.messages.send(SendMessage(text="three"), alice.uuid)

    assert isinstance(raised.value.__cause__, aiohttp.ClientResponseError)
    assert raised.value.__cause__.status == 400
    assert [m.text for m in alice.messages()] == ["three"]
    assert [m.text for m in bob.messages()] == ["two"]


async def test_201_listing_the_recipient_as_failed_counts_as_sent_for_signalbot(
    api: SignalApiEmulator, bot: SignalBot
) -> None:
    """signalbot only logs a recipient listed under `errors` and reports the message sent."""
    alice = api.user(uuid=ALICE_UUID, name="Alice")
    api.report_undelivered(ALICE_UUID, "UNREGISTERED_FAILURE")

    sent = await bot.messages.send(SendMessage(text="are you ok?"), ALICE_UUID)

    assert sent.timestamp == api.sent[-1].timestamp
    assert api.sent[-1].status == 201
    assert alice.messages() == []


async def test_send_multiple_raises_after_delivering(
    api: SignalApiEmulator, bot: SignalBot
) -> None:
    """One response entry for all uuids, so signalbot's strict zip fails after the send."""
    alice, bob = api.user(name="Alice"), api.user(name="Bob")

    with pytest.raises(ValueError, match="zip"):
        await bot.messages.send_multiple(SendMessage(text="hi"), [alice.uuid, bob.uuid])

    assert [m.text for m in alice.messages()] == ["hi"]
    assert [m.text for m in bob.messages()] == ["hi"]


async def test_slow_send_cancelled_by_caller_is_still_delivered(
    api: SignalApiEmulator, bot: SignalBot
) -> None:
    """signalbot has no send timeout of its own; a caller's timeout does not unsend."""
    alice = api.user(uuid=ALICE_UUID, name="Alice")
    api.send_delay = 0.3

    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.1):
            await bot.messages.send(SendMessage(text="check in?"), ALICE_UUID)

    assert (await alice.wait_for_message("check in?", timeout=2.0)).status == 201


async def test_dropped_websocket_reconnects_but_loses_the_gap(
    api: SignalApiEmulator, bot: SignalBot
) -> None:
    """A TCP drop (the real server's way) is retried after 1 s; what came meanwhile is lost."""
    bot.register(PingHandler())
    await start_bot(bot)
    await api.wait_connected()
    alice = api.user(uuid=ALICE_UUID, name="Alice")

    await api.drop_websocket()
    await alice.send_text("ping")
    await api.wait_connected(count=2, timeout=5.0)
    await alice.send_text("ping")
    await alice.wait_for_message("pong")

    assert [frame["envelope"]["dataMessage"]["message"] for frame in api.dropped] == ["ping"]
    assert len(alice.messages()) == 1


async def test_error_frame_restarts_receiving(api: SignalApiEmulator, bot: SignalBot) -> None:
    """A `{"error": ...}` frame fails signalbot's validation; receiving restarts after 1 s."""
    bot.register(PingHandler())
    await start_bot(bot)
    await api.wait_connected()
    alice = api.user(uuid=ALICE_UUID, name="Alice")

    assert await api.push({"error": "Couldn't read data"})
    await api.wait_connected(count=2, timeout=5.0)
    await alice.send_text("ping")

    await alice.wait_for_message("pong")


async def test_restart_while_running_is_survived(api: SignalApiEmulator, bot: SignalBot) -> None:
    """Server down for a moment (503s, websocket cut): the bot reconnects once it is back."""
    bot.register(PingHandler())
    await start_bot(bot)
    await api.wait_connected()
    alice = api.user(uuid=ALICE_UUID, name="Alice")

    api.set_down(True)
    await api.wait_until(lambda: not api.connected)
    await asyncio.sleep(0.3)
    api.set_down(False)
    await api.wait_connected(count=2, timeout=5.0)
    await alice.send_text("ping")

    await alice.wait_for_message("pong")


@pytest.mark.parametrize("code", [1000, 1001])
async def test_clean_close_stops_receiving_for_good(
    api: SignalApiEmulator, bot: SignalBot, code: int
) -> None:
    """Observed: after a close frame with code 1000 or 1001 signalbot never reconnects.

    `websockets` ends the `async for` quietly on a clean close, so signalbot's producer
    returns instead of raising, its restart wrapper treats that as done, and nothing is
    logged. The bot process stays up, sends still work, but every later envelope is lost.
    The adapter has to notice this and restart receiving itself.
    """
    bot.register(PingHandler())
    await start_bot(bot)
    await api.wait_connected()
    alice = api.user(uuid=ALICE_UUID, name="Alice")

    await api.close_websocket_cleanly(code)
    with pytest.raises(TimeoutError):
        await api.wait_connected(count=2, timeout=2.5)
    await alice.send_text("ping")

    assert len(api.dropped) == 1
    assert api.websocket_connects == 1
    await bot.messages.send(SendMessage(text="still able to send"), ALICE_UUID)
    assert [m.text for m in alice.messages()] == ["still able to send"]


async def test_start_up_waits_for_the_server(api: SignalApiEmulator, bot: SignalBot) -> None:
    """While the server is down, start-up polls health every `retry_interval` seconds."""
    api.set_down(True)
    bot.start(run_forever=False)
    await api.wait_until(lambda: len(api.calls_to("GET", "/v1/health")) >= 2, timeout=3.0)
    assert bot.init_task is not None and not bot.init_task.done()

    api.set_down(False)
    async with asyncio.timeout(READY_WITHIN):
        await bot.wait_until_ready()
    await api.wait_connected()


async def test_incompatible_version_retries_start_up_silently(
    api: SignalApiEmulator, bot: SignalBot
) -> None:
    """A server older than 0.101.0 is not fatal: start-up is retried with back-off forever."""
    api.version = "0.95"
    bot.start(run_forever=False)

    await api.wait_until(lambda: len(api.calls_to("GET", "/v1/about")) >= 2, timeout=3.0)

    assert bot.init_task is not None and not bot.init_task.done()
    assert api.websocket_connects == 0
