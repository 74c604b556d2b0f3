"""Tests of the Telegram Bot API emulator, driven by the real python-telegram-bot client.

Why: the emulator is only worth using if PTB's own HTTP layer accepts it. Every test here
talks to it over loopback HTTP with PTB's `Application`/`Bot`, no mocks, and asserts on what
went over the wire, so a drift between the emulator and PTB shows up here first.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import ClientSession, web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from tests.channels.telegram_harness import free_port

from .telegram_api import SECRET_HEADER, TelegramApiEmulator

TOKEN = "123:ABC"
ALICE = 1001
SECRET = "s3cr3t"
STOP_TIMEOUT = 10.0


pytestmark = pytest.mark.usefixtures("ptb_timedelta")


@pytest.fixture
async def api() -> AsyncIterator[TelegramApiEmulator]:
    """A running emulator, stopped after the test."""
    async with TelegramApiEmulator(token=TOKEN) as emulator:
        yield emulator


def build_app(api: TelegramApiEmulator) -> Application:  # type: ignore[type-arg]
    """A PTB Application pointed at the emulator."""
    return (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(api.base_url)
        .base_file_url(api.base_file_url)
        .build()
    )


def make_bot(api: TelegramApiEmulator, *, read_timeout: float = 5.0, token: str = TOKEN) -> Bot:
    """A bare PTB Bot pointed at the emulator, with a read timeout tests can shorten."""
    return Bot(
        token,
        base_url=api.base_url,
        base_file_url=api.base_file_url,
        request=HTTPXRequest(read_timeout=read_timeout),
    )


@contextlib.asynccontextmanager
async def polling(app: Application) -> AsyncIterator[None]:  # type: ignore[type-arg]
    """Run app with long polling, and always shut it down within a bounded time."""
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        yield
    finally:
        async with asyncio.timeout(STOP_TIMEOUT):
            await app.updater.stop()
            await app.stop()
            await app.shutdown()


async def ask_if_safe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/start: ask with buttons, then tidy the command away as the real bot does."""
    assert update.message is not None
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("I'm safe", callback_data="safe")],
            [InlineKeyboardButton("Need help", callback_data="help")],
        ]
    )
    await update.message.reply_text("Are you safe?", reply_markup=keyboard, parse_mode="HTML")
    await update.message.delete()


async def record_answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A button press: acknowledge it and replace the question with the answer."""
    query = update.callback_query
    assert query is not None
    await query.answer("Thanks")
    await query.edit_message_text(f"Recorded: {query.data}")


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Any text: echo it, so a test sees the update reached a handler."""
    assert update.effective_message is not None
    await update.effective_message.reply_text(f"echo: {update.effective_message.text}")


async def test_polling_command_button_edit_and_delete(api: TelegramApiEmulator) -> None:
    """A whole check-in exchange over long polling, checked on the wire."""
    app = build_app(api)
    app.add_handler(CommandHandler("start", ask_if_safe))
    app.add_handler(CallbackQueryHandler(record_answer))
    alice = api.user(ALICE, "Alice", language_code="de")
    async with polling(app):
        command_id = await alice.send_text("/start")
        prompt = await alice.wait_for_message("Are you safe?", after=command_id)
        assert [b["callback_data"] for b in prompt.buttons()] == ["safe", "help"]
        query_id = await alice.press("I'm safe")
        edited = await alice.wait_for_message("Recorded: safe")

    assert edited.message_id == prompt.message_id > command_id
    assert edited.reply_markup is None, "editMessageText without markup drops the keyboard"
    assert api.callback_answers[query_id]["text"] == "Thanks"
    assert [m.text for m in alice.messages()] == ["Recorded: safe"]
    command = next(m for m in alice.history() if m.message_id == command_id)
    assert command.deleted and not command.from_bot
    wire = [call.method for call in api.calls if call.method != "getUpdates"]
    assert wire == [
        "getMe",
        "deleteWebhook",
        "sendMessage",
        "deleteMessage",
        "answerCallbackQuery",
        "editMessageText",
    ]
    send = api.calls_to("sendMessage")[0].params
    assert send["chat_id"] == ALICE
    assert send["reply_markup"]["inline_keyboard"][0][0]["text"] == "I'm safe"
    assert {call.params.get("timeout") for call in api.calls_to("getUpdates")} <= {0, 1}
    assert all(call.status == 200 for call in api.calls if call.method != "getUpdates")
    # PTB abandons its in-flight long poll on stop; the next poll ends it with 409, unseen.
    assert {call.status for call in api.calls_to("getUpdates")} <= {200, 409}
    assert api.unknown_calls == []


async def test_group_command_is_answered_in_the_group(api: TelegramApiEmulator) -> None:
    """Group messages carry the group chat, and replies land there, not in a private chat."""
    app = build_app(api)
    app.add_handler(CommandHandler("status", echo))
    alice = api.user(ALICE, "Alice")
    group = api.group(-100123, "Buddies")
    async with polling(app):
        sent = await group.send_text(alice, "/status@buddycheck_test_bot")
        reply = await group.wait_for_message("echo: /status", after=sent)
    assert reply.chat["type"] == "group"
    assert alice.messages() == []


async def test_get_updates_long_polls_and_wakes_on_update(api: TelegramApiEmulator) -> None:
    """getUpdates waits out its timeout when idle and returns promptly when an update comes."""
    loop = asyncio.get_running_loop()
    alice = api.user(ALICE, "Alice")
    async with make_bot(api) as bot:
        started = loop.time()
        assert await bot.get_updates(timeout=1) == ()
        assert loop.time() - started >= 0.9

        poll = asyncio.create_task(bot.get_updates(timeout=5))
        await asyncio.sleep(0.1)
        started = loop.time()
        await alice.send_text("hello")
        updates = await asyncio.wait_for(poll, 2)
        assert loop.time() - started < 1
        assert updates[0].message.text == "hello"

        assert len(await bot.get_updates(offset=updates[0].update_id)) == 1, "not confirmed"
        assert await bot.get_updates(offset=updates[0].update_id + 1) == ()

        await bot.get_updates(timeout=0, allowed_updates=["callback_query"])
        await alice.send_text("dropped: not an allowed update type")
        assert await bot.get_updates(timeout=0) == ()


async def test_flood_control_raises_retry_after(api: TelegramApiEmulator) -> None:
    """A 429 carries parameters.retry_after, which PTB turns into RetryAfter."""
    alice = api.user(ALICE, "Alice")
    api.fail_next("sendMessage", status=429, retry_after=7)
    async with make_bot(api) as bot:
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(ALICE, "hi")
        assert caught.value.retry_after == dt.timedelta(seconds=7)
        await bot.send_message(ALICE, "hi again")
    assert [m.text for m in alice.messages()] == ["hi again"]
    assert [c.status for c in api.calls_to("sendMessage")] == [429, 200]


async def test_forbidden_bad_request_and_server_errors(api: TelegramApiEmulator) -> None:
    """403, 400 and 5xx map onto PTB's Forbidden, BadRequest and NetworkError."""
    alice = api.user(ALICE, "Alice")
    api.fail_next("sendMessage", chat_id=ALICE)
    api.fail_next("sendMessage", status=400, description="Bad Request: can't parse entities")
    api.fail_next("sendMessage", status=502, count=2)
    async with make_bot(api) as bot:
        with pytest.raises(Forbidden, match="blocked by the user"):
            await bot.send_message(ALICE, "one")
        with pytest.raises(BadRequest, match="Can't parse entities"):
            await bot.send_message(ALICE, "two")
        for _ in range(2):
            with pytest.raises(NetworkError, match="Bad Gateway"):
                await bot.send_message(ALICE, "three")
        with pytest.raises(BadRequest, match="Chat not found"):
            await bot.send_message(4242, "nobody")
        await bot.send_message(ALICE, "four")
    assert [m.text for m in alice.messages()] == ["four"]


async def test_blocked_user_answers_403_until_unblocked(api: TelegramApiEmulator) -> None:
    """A user who blocked the bot makes every send to their chat fail with Forbidden."""
    alice = api.user(ALICE, "Alice")
    api.block(ALICE)
    async with make_bot(api) as bot:
        for text in ("one", "two"):
            with pytest.raises(Forbidden, match="bot was blocked by the user"):
                await bot.send_message(ALICE, text)
        api.unblock(ALICE)
        await bot.send_message(ALICE, "three")
    assert [m.text for m in alice.messages()] == ["three"]


async def test_slow_answer_times_out_but_message_arrives(api: TelegramApiEmulator) -> None:
    """A reply slower than PTB's read timeout raises TimedOut; Telegram still sent it."""
    alice = api.user(ALICE, "Alice")
    api.fail_next("sendMessage", status=None, delay=0.6)
    async with make_bot(api, read_timeout=0.2) as bot:
        with pytest.raises(TimedOut):
            await bot.send_message(ALICE, "slow")
        await alice.wait_for_message("slow", timeout=2.0)


async def test_edit_rules_and_commands(api: TelegramApiEmulator) -> None:
    """Edits follow Telegram's rules; commands round-trip per scope."""
    alice = api.user(ALICE, "Alice")
    async with make_bot(api) as bot:
        sent = await bot.send_message(ALICE, "Check in?")
        with pytest.raises(BadRequest, match="Message is not modified"):
            await bot.edit_message_text("Check in?", chat_id=ALICE, message_id=sent.message_id)
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("OK", callback_data="ok")]])
        await bot.edit_message_reply_markup(ALICE, sent.message_id, reply_markup=keyboard)
        last = alice.last_message()
        assert last is not None and last.buttons() == [{"text": "OK", "callback_data": "ok"}]
        with pytest.raises(BadRequest, match="Button_data_invalid"):
            too_long = InlineKeyboardButton("x", callback_data="x" * 65)
            await bot.send_message(ALICE, "bad", reply_markup=InlineKeyboardMarkup([[too_long]]))
        await bot.delete_message(ALICE, sent.message_id)
        with pytest.raises(BadRequest, match="Message to edit not found"):
            await bot.edit_message_text("gone", chat_id=ALICE, message_id=sent.message_id)

        await bot.set_my_commands([("checkin", "Start a check-in")], language_code="de")
        assert await bot.get_my_commands() == ()
        [command] = await bot.get_my_commands(language_code="de")
        assert command.command == "checkin"
    assert alice.messages() == []


async def test_unknown_method_and_wrong_token_are_noticed(api: TelegramApiEmulator) -> None:
    """Unknown methods answer 404 and are recorded; a wrong token is refused."""
    async with make_bot(api) as bot:
        with pytest.raises(EndPointNotFound):
            await bot.do_api_request("sendTelepathy", api_kwargs={"chat_id": ALICE})
        assert await bot.close() is True
    assert [call.method for call in api.unknown_calls] == ["sendTelepathy"]
    assert api.unknown_calls[0].status == 404
    with pytest.raises(InvalidToken):
        async with make_bot(api, token="999:WRONG"):
            pass


async def test_json_and_query_parameters_are_accepted(api: TelegramApiEmulator) -> None:
    """Other clients send JSON bodies or query strings; both must decode like PTB's forms."""
    alice = api.user(ALICE, "Alice")
    keyboard = {"inline_keyboard": [[{"text": "OK", "callback_data": "ok"}]]}
    url = f"{api.base_url}{TOKEN}"
    async with ClientSession() as session:
        body = {"chat_id": ALICE, "text": "42", "reply_markup": keyboard}
        async with session.post(f"{url}/sendMessage", json=body) as response:
            assert (await response.json())["result"]["reply_markup"] == keyboard
        async with session.get(f"{url}/getMe") as response:
            assert (await response.json())["result"]["username"] == "buddycheck_test_bot"
        json_header = {"Content-Type": "application/json"}
        async with session.post(
            f"{url}/sendMessage", data="{oops", headers=json_header
        ) as response:
            assert (await response.json())["description"] == "Bad Request: can't parse JSON body"
        async with session.post(f"{url}/sendMessage?chat_id={ALICE}&text=true") as response:
            assert response.status == 200
    assert [m.text for m in alice.messages()] == ["42", "true"], "text stays text"
    assert alice.messages()[0].buttons()[0]["callback_data"] == "ok"


async def webhook_exchange(api: TelegramApiEmulator, handled: Callable[[], list[str]]) -> None:
    """Drive a bot whose webhook is set: forgeries bounce, real updates get through."""
    alice = api.user(ALICE, "Alice")
    await api.push_update({"message": alice.compose("forged")}, secret_token="wrong")
    assert api.webhook_deliveries[-1].status == 403
    sent = await alice.send_text("genuine")
    assert api.webhook_deliveries[-1].status == 200
    await alice.wait_for_message("echo: genuine", after=sent)
    assert handled() == ["genuine"]
    async with make_bot(api) as bot:
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates()


async def test_webhook_with_ptb_webhook_server(api: TelegramApiEmulator) -> None:
    """PTB's own webhook server (needs the `webhooks` extra, i.e. tornado) gets pushed updates."""
    pytest.importorskip("tornado", reason="python-telegram-bot[webhooks] is not installed")
    seen: list[str] = []

    async def note(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Remember what reached the handler, then echo it."""
        assert update.effective_message is not None
        seen.append(str(update.effective_message.text))
        await echo(update, context)

    app = build_app(api)
    app.add_handler(MessageHandler(filters.TEXT, note))
    port = free_port()
    await app.initialize()
    await app.start()
    assert app.updater is not None
    try:
        await app.updater.start_webhook(
            listen="127.0.0.1",
            port=port,
            url_path="hook",
            webhook_url=f"http://127.0.0.1:{port}/hook",
            secret_token=SECRET,
        )
        await webhook_exchange(api, lambda: seen)
    finally:
        async with asyncio.timeout(STOP_TIMEOUT):
            if app.updater.running:
                await app.updater.stop()
            await app.stop()
            await app.shutdown()


async def test_webhook_with_custom_receiver(api: TelegramApiEmulator) -> None:
    """Webhook mode without tornado: PTB's documented custom-webhook pattern on aiohttp."""
    seen: list[str] = []

    async def note(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Remember what reached the handler, then echo it."""
        assert update.effective_message is not None
        seen.append(str(update.effective_message.text))
        await echo(update, context)

    app = build_app(api)
    app.add_handler(MessageHandler(filters.TEXT, note))

    async def receive(request: web.Request) -> web.Response:
        """Check the secret header as PTB's server does, then queue the update."""
        if request.headers.get(SECRET_HEADER) != SECRET:
            return web.Response(status=403)
        await app.update_queue.put(Update.de_json(await request.json(), app.bot))
        return web.Response()

    receiver = web.Application()
    receiver.router.add_post("/hook", receive)
    runner = web.AppRunner(receiver, shutdown_timeout=1.0)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await app.initialize()
    await app.start()
    try:
        url = f"http://127.0.0.1:{port}/hook"
        with pytest.raises(BadRequest, match="Bad webhook"):
            await app.bot.set_webhook("https://example.org/hook")
        assert await app.bot.set_webhook(url, secret_token=SECRET)
        assert (await app.bot.get_webhook_info()).url == url
        await webhook_exchange(api, lambda: seen)
        assert await app.bot.delete_webhook()
        assert await app.bot.get_updates(timeout=0) == ()
    finally:
        async with asyncio.timeout(STOP_TIMEOUT):
            await app.stop()
            await app.shutdown()
            await runner.cleanup()
