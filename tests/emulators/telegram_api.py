"""A local emulator of the Telegram Bot API HTTP server, for tests.

Why it exists: the bot's Telegram side must be tested through the real python-telegram-bot
client speaking real HTTP, without reaching api.telegram.org and without mocks. This module
serves the Bot API methods such a bot uses on 127.0.0.1, keeps the chats the bot writes to,
lets a test act as Telegram users (send text, press inline buttons), and injects the failures
Telegram really produces (403 blocked, 400, 429 flood control, 5xx, slow answers).

Usage::

    async with TelegramApiEmulator(token="123:ABC") as api:
        app = ApplicationBuilder().token("123:ABC").base_url(api.base_url).build()
        ...
        alice = api.user(1001, first_name="Alice")
        sent_id = await alice.send_text("/start")
        await alice.wait_for_message("Welcome", after=sent_id)

Everything runs on the test's event loop, and every wait is bounded in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from ipaddress import ip_address
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

from aiohttp import ClientSession, ClientTimeout, web

JSON = dict[str, Any]
Handler = Callable[[JSON], Awaitable[Any]]
MessageMatch = str | Callable[["ChatMessage"], bool]

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

# Form-encoded requests carry every value as a string; python-telegram-bot JSON-dumps all
# non-string values. These parameters are free text and must never be JSON-decoded.
_TEXT_PARAMS = frozenset(
    {
        "text",
        "caption",
        "callback_query_id",
        "inline_message_id",
        "url",
        "secret_token",
        "ip_address",
        "parse_mode",
        "language_code",
    }
)
# Telegram's default when a bot never chose allowed_updates (or chose an empty list).
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
_MAX_TEXT = 4096
_MAX_CALLBACK_DATA = 64


class ApiError(Exception):
    """An error answer, raised anywhere in a method so it reaches the client as Telegram's."""

    def __init__(self, status: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def body(self) -> JSON:
        """The JSON body Telegram sends with an error status."""
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


@dataclass
class ApiCall:
    """One request the bot made, kept so tests can assert on what went over the wire."""

    method: str
    params: JSON
    status: int = 200


@dataclass
class ChatMessage:
    """A message in an emulated chat, from the bot or a user, with edits applied in place."""

    chat: JSON
    message_id: int
    sender: JSON
    text: str
    date: int
    reply_markup: JSON | None = None
    edit_date: int | None = None
    deleted: bool = False
    # What a message carries instead of text (a location, a venue), as the Bot API sends it.
    content: JSON | None = None

    @property
    def chat_id(self) -> int:
        """The chat's id, which for a private chat is the user's id."""
        return int(self.chat["id"])

    @property
    def from_bot(self) -> bool:
        """Whether the bot wrote it, which is what most assertions look at."""
        return bool(self.sender.get("is_bot"))

    def buttons(self) -> list[JSON]:
        """The inline keyboard's buttons in reading order, so tests can find one to press."""
        if not self.reply_markup:
            return []
        return [button for row in self.reply_markup.get("inline_keyboard", []) for button in row]

    def to_api(self) -> JSON:
        """The Message object as the Bot API returns it."""
        message: JSON = {
            "message_id": self.message_id,
            "from": self.sender,
            "chat": self.chat,
            "date": self.date,
        }
        if self.content is not None:
            message.update(self.content)
        else:
            message["text"] = self.text
        if self.text.startswith("/"):
            command = self.text.split(maxsplit=1)[0]
            length = len(command.encode("utf-16-le")) // 2
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        if self.reply_markup and "inline_keyboard" in self.reply_markup:
            message["reply_markup"] = self.reply_markup
        if self.edit_date is not None:
            message["edit_date"] = self.edit_date
        return message


@dataclass
class WebhookDelivery:
    """One POST of an update to the bot's webhook, with the HTTP status the bot answered."""

    update_id: int
    status: int


@dataclass
class _Chat:
    """A chat's identity and its ordered history; message ids count up per chat."""

    info: JSON
    history: list[ChatMessage] = field(default_factory=list)
    last_message_id: int = 0

    def add(self, sender: JSON, text: str, reply_markup: JSON | None = None) -> ChatMessage:
        """Append a new message with the next id of this chat."""
        self.last_message_id += 1
        message = ChatMessage(self.info, self.last_message_id, sender, text, _now(), reply_markup)
        self.history.append(message)
        return message

    def find(self, message_id: Any) -> ChatMessage | None:
        """The live (not deleted) message with this id, if any."""
        for message in self.history:
            if message.message_id == message_id and not message.deleted:
                return message
        return None


@dataclass
class _Failure:
    """A failure a test asked for, answered instead of the next matching calls."""

    method: str
    chat_id: int | str | None
    status: int | None
    description: str
    parameters: JSON | None
    delay: float
    remaining: int

    def matches(self, method: str, params: JSON) -> bool:
        """Whether this failure applies to a call of method with params."""
        if method.lower() != self.method.lower():
            return False
        return self.chat_id is None or str(params.get("chat_id")) == str(self.chat_id)


@dataclass
class _Webhook:
    """The webhook the bot set, where updates go instead of the getUpdates queue."""

    url: str
    secret_token: str | None
    max_connections: int


class _Signal:
    """Wakes every waiter each time some state changes, without a lost-wakeup window."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Wake everyone waiting now; later waiters wait for the next change."""
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> None:
        """Wait for the next change, at most timeout seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), max(timeout, 0.0))


def _now() -> int:
    """Telegram dates are unix seconds."""
    return int(time.time())


def _decode(name: str, value: Any) -> Any:
    """Turn a string parameter back into the JSON value the client meant, except free text."""
    if not isinstance(value, str) or name in _TEXT_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


async def _read_params(request: web.Request) -> JSON:
    """Collect parameters from the query string and a JSON, form or multipart body."""
    raw: JSON = dict(request.query)
    if request.content_type == "application/json":
        text = await request.text()
        try:
            body = json.loads(text) if text.strip() else {}
        except ValueError as exc:
            raise ApiError(400, "Bad Request: can't parse JSON body") from exc
        if not isinstance(body, dict):
            raise ApiError(400, "Bad Request: request body must be a JSON object")
        raw.update(body)
    else:
        form = await request.post()
        raw.update({name: value for name, value in form.items() if isinstance(value, str)})
    return {name: _decode(name, value) for name, value in raw.items()}


def _answer(status: int, body: JSON) -> web.Response:
    """A JSON response like the Bot API's."""
    return web.json_response(body, status=status)


def _is_loopback_http(url: str) -> bool:
    """Only loopback http(s) webhooks make sense for an emulator living inside a test."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def _check_inline_keyboard(reply_markup: JSON | None) -> None:
    """Reject callback data Telegram would reject, so a too-long payload fails in tests too."""
    if not reply_markup:
        return
    for row in reply_markup.get("inline_keyboard", []):
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= _MAX_CALLBACK_DATA:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")


def _markup(params: JSON) -> JSON | None:
    """The reply_markup parameter as a dict (or None), whichever way the client encoded it."""
    markup = params.get("reply_markup")
    return markup if isinstance(markup, dict) else None


def _matcher(match: MessageMatch) -> Callable[[ChatMessage], bool]:
    """Accept a substring or a predicate wherever a test looks for a message."""
    if isinstance(match, str):
        return lambda message: match in message.text
    return match


class TelegramApiEmulator:
    """The Bot API server on 127.0.0.1, an async context manager, plus test-side controls."""

    # Where the Bot API is served (a subclass may serve it under more paths).
    ROUTES: tuple[str, ...] = ("/bot{token}/{method}",)

    def __init__(
        self,
        token: str = "123:ABC",
        *,
        bot_username: str = "buddycheck_test_bot",
        bot_first_name: str = "BuddyCheck Test",
    ) -> None:
        self.token = token
        self.bot_user: JSON = {
            "id": int(token.split(":", 1)[0]),
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.calls: list[ApiCall] = []
        self.unknown_calls: list[ApiCall] = []
        self.callback_answers: dict[str, JSON] = {}
        self.webhook_deliveries: list[WebhookDelivery] = []
        self._chats: dict[int, _Chat] = {}
        self._updates: list[JSON] = []
        self._update_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._open_queries: set[str] = set()
        self._allowed_updates: list[str] = []
        self._poll_generation = 0
        self._failures: list[_Failure] = []
        self._blocked: set[int] = set()
        self._webhook: _Webhook | None = None
        self._commands: dict[tuple[str, str], list[JSON]] = {}
        self._updates_signal = _Signal()
        self._chats_signal = _Signal()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None
        self._port = 0
        self._methods: dict[str, Handler] = {
            name.lower(): handler
            for name, handler in {
                "getMe": self._get_me,
                "getUpdates": self._get_updates,
                "sendMessage": self._send_message,
                "editMessageText": self._edit_message_text,
                "editMessageReplyMarkup": self._edit_message_reply_markup,
                "answerCallbackQuery": self._answer_callback_query,
                "deleteMessage": self._delete_message,
                "sendChatAction": self._send_chat_action,
                "setWebhook": self._set_webhook,
                "deleteWebhook": self._delete_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "setMyCommands": self._set_my_commands,
                "getMyCommands": self._get_my_commands,
                "close": self._harmless,
                "logOut": self._harmless,
            }.items()
        }

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        """Start serving on an ephemeral loopback port."""
        app = web.Application()
        for route in self.ROUTES:
            app.router.add_route("*", route, self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._port = int(self._runner.addresses[0][1])
        self._session = ClientSession(timeout=ClientTimeout(total=5.0))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Wake every pending long poll and delayed answer, then stop serving."""
        self._closing.set()
        self._updates_signal.notify()
        self._chats_signal.notify()
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        """What to give ApplicationBuilder().base_url(); the client appends the token."""
        return f"{self._root()}/bot"

    @property
    def base_file_url(self) -> str:
        """What to give ApplicationBuilder().base_file_url(); no files are served yet."""
        return f"{self._root()}/file/bot"

    def _root(self) -> str:
        """The server's origin, which only exists while it runs."""
        if not self._port:
            raise RuntimeError("TelegramApiEmulator is not running; use `async with`")
        return f"http://127.0.0.1:{self._port}"

    # -- test-side controls --------------------------------------------------------------------

    def user(
        self,
        user_id: int,
        first_name: str = "Test",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
    ) -> SimUser:
        """A Telegram user with a private chat (chat id == user id) the bot can write to."""
        info: JSON = {"id": user_id, "is_bot": False, "first_name": first_name}
        optional = {"last_name": last_name, "username": username, "language_code": language_code}
        info.update({key: value for key, value in optional.items() if value is not None})
        chat_info: JSON = {"id": user_id, "type": "private", "first_name": first_name}
        if username is not None:
            chat_info["username"] = username
        self._chat(user_id, chat_info)
        return SimUser(self, user_id, info)

    def group(self, chat_id: int, title: str = "Test group") -> SimGroup:
        """A group chat (negative id) where users can talk to the bot."""
        if chat_id >= 0:
            raise ValueError("Telegram group chat ids are negative")
        self._chat(chat_id, {"id": chat_id, "type": "group", "title": title})
        return SimGroup(self, chat_id)

    def fail_next(
        self,
        method: str,
        *,
        chat_id: int | str | None = None,
        status: int | None = 403,
        description: str | None = None,
        retry_after: int | None = None,
        delay: float = 0.0,
        count: int = 1,
    ) -> None:
        """Answer the next count matching calls with an error, after delay seconds.

        status=None with a delay answers normally, late: the way a slow Telegram makes a
        client time out although the message was sent.
        """
        parameters = None
        if status == HTTPStatus.TOO_MANY_REQUESTS:
            retry_after = 1 if retry_after is None else retry_after
            parameters = {"retry_after": retry_after}
        self._failures.append(
            _Failure(
                method=method,
                chat_id=chat_id,
                status=status,
                description=description or _default_description(status, retry_after),
                parameters=parameters,
                delay=delay,
                remaining=count,
            )
        )

    def block(self, user_id: int) -> None:
        """Act as if the user blocked the bot: every call to their chat answers 403."""
        self._blocked.add(user_id)

    def unblock(self, user_id: int) -> None:
        """Act as if the user unblocked the bot."""
        self._blocked.discard(user_id)

    def calls_to(self, method: str) -> list[ApiCall]:
        """The recorded calls of one method, in order."""
        return [call for call in self.calls if call.method == method]

    def history(self, chat_id: int) -> list[ChatMessage]:
        """Every message of a chat in order, from anyone, deleted ones included."""
        return list(self._chats[chat_id].history)

    async def push_update(self, update: JSON, *, secret_token: str | None = None) -> int:
        """Hand the bot an update such as {"message": {...}}; returns its update_id.

        With a webhook set the update is POSTed to it at once (secret_token overrides the
        secret header, to test that the bot rejects forgeries); otherwise it is queued for
        getUpdates. Update types the bot did not ask for are dropped, as Telegram does.
        An unreachable webhook raises aiohttp.ClientError, so the test notices.
        """
        update_id = next(self._update_ids)
        kind = next(iter(update))
        if not self._wants(kind):
            return update_id
        full = {"update_id": update_id, **update}
        if self._webhook is not None:
            token = secret_token if secret_token is not None else self._webhook.secret_token
            await self._deliver(self._webhook.url, full, token)
        else:
            self._updates.append(full)
            self._updates_signal.notify()
        return update_id

    async def wait_for(
        self, chat_id: int, match: MessageMatch, *, after: int = 0, timeout: float = 5.0
    ) -> ChatMessage:
        """Wait until the bot has a live message in the chat matching match, newer than after."""
        matches = _matcher(match)
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for message in reversed(self._live_bot_messages(chat_id)):
                if message.message_id > after and matches(message):
                    return message
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0 or self._closing.is_set():
                texts = [message.text for message in self._live_bot_messages(chat_id)]
                raise AssertionError(
                    f"no bot message matching {match!r} in chat {chat_id} within {timeout}s; "
                    f"bot messages: {texts!r}"
                )
            await self._chats_signal.wait(remaining)

    # -- internals used by the user and group handles -----------------------------------------

    def _chat(self, chat_id: int, info: JSON) -> _Chat:
        """Create a chat, or refresh its identity while keeping its history."""
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = self._chats[chat_id] = _Chat(info)
        else:
            chat.info.update(info)
        return chat

    def _live_bot_messages(self, chat_id: int) -> list[ChatMessage]:
        """The bot's messages in a chat that were not deleted."""
        return [m for m in self._chats[chat_id].history if m.from_bot and not m.deleted]

    def _post_as(self, chat_id: int, sender: JSON, text: str) -> ChatMessage:
        """Record a message a user wrote, taking the chat's next message id."""
        return self._chats[chat_id].add(sender, text)

    def _new_callback_query(self, sender: JSON, message: ChatMessage, data: str) -> JSON:
        """A callback_query object the bot must answer, for a button on message."""
        query_id = str(next(self._query_ids))
        self._open_queries.add(query_id)
        return {
            "id": query_id,
            "from": sender,
            "message": message.to_api(),
            "chat_instance": str(message.chat_id),
            "data": data,
        }

    def _wants(self, kind: str) -> bool:
        """Whether the bot's allowed_updates let this kind of update through."""
        if self._allowed_updates:
            return kind in self._allowed_updates
        return kind not in _OPT_IN_UPDATES

    async def _deliver(self, url: str, update: JSON, secret_token: str | None) -> None:
        """POST one update to the webhook and remember how the bot answered."""
        assert self._session is not None, "TelegramApiEmulator is not running"
        headers = {SECRET_HEADER: secret_token} if secret_token else {}
        async with self._session.post(url, json=update, headers=headers) as response:
            await response.read()
            self.webhook_deliveries.append(WebhookDelivery(update["update_id"], response.status))

    # -- HTTP plumbing -------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        """Serve one Bot API call: record it, apply injected failures, run the method."""
        if request.match_info["token"] != self.token:
            return _answer(401, ApiError(401, "Unauthorized").body())
        method = request.match_info["method"]
        call = ApiCall(method, {})
        self.calls.append(call)
        try:
            call.params = await _read_params(request)
            handler = self._methods.get(method.lower())
            if handler is None:
                self.unknown_calls.append(call)
                raise ApiError(404, "Not Found: method not found")
            await self._inject_failure(method, call.params)
            if call.params.get("chat_id") in self._blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            result = await handler(call.params)
        except ApiError as error:
            call.status = error.status
            return _answer(error.status, error.body())
        return _answer(200, {"ok": True, "result": result})

    async def _inject_failure(self, method: str, params: JSON) -> None:
        """Apply the first failure a test queued for this call, if any."""
        failure = next((f for f in self._failures if f.matches(method, params)), None)
        if failure is None:
            return
        failure.remaining -= 1
        if failure.remaining <= 0:
            self._failures.remove(failure)
        if failure.delay:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), failure.delay)
        if failure.status is not None:
            raise ApiError(failure.status, failure.description, failure.parameters)

    # -- Bot API methods -----------------------------------------------------------------------

    async def _get_me(self, params: JSON) -> JSON:
        """getMe: the bot's own user."""
        return self.bot_user

    async def _harmless(self, params: JSON) -> bool:
        """close / logOut: nothing to release here."""
        return True

    async def _get_updates(self, params: JSON) -> list[JSON]:
        """getUpdates: long polling, as Telegram does it.

        Confirms updates below offset, waits up to timeout seconds for one to arrive, and
        answers 409 to an older poll when a newer one starts, like Telegram does.
        """
        if self._webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        if isinstance(params.get("allowed_updates"), list):
            self._allowed_updates = list(params["allowed_updates"])
        self._confirm(int(params.get("offset") or 0))
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        self._poll_generation += 1
        generation = self._poll_generation
        self._updates_signal.notify()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + float(params.get("timeout") or 0)
        while True:
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            if self._updates:
                return self._updates[:limit]
            remaining = deadline - loop.time()
            if remaining <= 0 or self._closing.is_set():
                return []
            await self._updates_signal.wait(remaining)

    def _confirm(self, offset: int) -> None:
        """Forget updates the bot confirmed; a negative offset keeps only the last -offset."""
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]

    def _target_chat(self, params: JSON) -> _Chat:
        """The chat a call addresses; unknown chats fail as on Telegram."""
        chat_id = params.get("chat_id")
        chat = self._chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        return chat

    async def _send_chat_action(self, params: JSON) -> bool:
        """sendChatAction: shows nothing here; fails like sendMessage for a gone chat."""
        self._target_chat(params)
        return True

    async def _send_message(self, params: JSON) -> JSON:
        """sendMessage: record the bot's message in its chat; parse_mode is ignored."""
        chat = self._target_chat(params)
        text = str(params.get("text", ""))
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > _MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        markup = _markup(params)
        _check_inline_keyboard(markup)
        message = chat.add(self.bot_user, text, markup)
        self._chats_signal.notify()
        return message.to_api()

    def _editable(self, params: JSON) -> ChatMessage:
        """The bot message an edit addresses; inline messages are not emulated."""
        if "inline_message_id" in params:
            raise ApiError(400, "Bad Request: inline messages are not supported by the emulator")
        message = self._target_chat(params).find(params.get("message_id"))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if not message.from_bot:
            raise ApiError(400, "Bad Request: message can't be edited")
        return message

    def _apply_edit(self, message: ChatMessage, text: str, markup: JSON | None) -> JSON:
        """Edit in place, refusing no-op edits the way Telegram does."""
        if text == message.text and markup == message.reply_markup:
            raise ApiError(400, _NOT_MODIFIED)
        _check_inline_keyboard(markup)
        message.text = text
        message.reply_markup = markup
        message.edit_date = _now()
        self._chats_signal.notify()
        return message.to_api()

    async def _edit_message_text(self, params: JSON) -> JSON:
        """editMessageText: without reply_markup the inline keyboard goes, as on Telegram."""
        message = self._editable(params)
        text = str(params.get("text", ""))
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        return self._apply_edit(message, text, _markup(params))

    async def _edit_message_reply_markup(self, params: JSON) -> JSON:
        """editMessageReplyMarkup: replace or (without reply_markup) remove the keyboard."""
        message = self._editable(params)
        return self._apply_edit(message, message.text, _markup(params))

    async def _delete_message(self, params: JSON) -> bool:
        """deleteMessage: mark the bot's or a user's message deleted."""
        message = self._target_chat(params).find(params.get("message_id"))
        if message is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        message.deleted = True
        self._chats_signal.notify()
        return True

    async def _answer_callback_query(self, params: JSON) -> bool:
        """answerCallbackQuery: each query can be answered once."""
        query_id = str(params.get("callback_query_id"))
        if query_id not in self._open_queries:
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        self._open_queries.discard(query_id)
        self.callback_answers[query_id] = params
        self._chats_signal.notify()
        return True

    async def _set_webhook(self, params: JSON) -> bool:
        """setWebhook: switch to pushing updates to a loopback url; an empty url removes it."""
        url = str(params.get("url") or "")
        if not url:
            return await self._delete_webhook(params)
        if not _is_loopback_http(url):
            raise ApiError(400, "Bad Request: bad webhook: the emulator only reaches loopback")
        if params.get("drop_pending_updates"):
            self._updates.clear()
        if isinstance(params.get("allowed_updates"), list):
            self._allowed_updates = list(params["allowed_updates"])
        secret = params.get("secret_token")
        self._webhook = _Webhook(url, secret, int(params.get("max_connections") or 40))
        self._updates_signal.notify()
        return True

    async def _delete_webhook(self, params: JSON) -> bool:
        """deleteWebhook: back to getUpdates, optionally dropping what is queued."""
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self._webhook = None
        return True

    async def _get_webhook_info(self, params: JSON) -> JSON:
        """getWebhookInfo: the current webhook, or an empty url when polling."""
        info: JSON = {
            "url": self._webhook.url if self._webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self._webhook is not None:
            info["max_connections"] = self._webhook.max_connections
        if self._allowed_updates:
            info["allowed_updates"] = self._allowed_updates
        return info

    @staticmethod
    def _commands_key(params: JSON) -> tuple[str, str]:
        """Commands are stored per scope and language, as Telegram does."""
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    async def _set_my_commands(self, params: JSON) -> bool:
        """setMyCommands: remember the list for its scope and language."""
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        self._commands[self._commands_key(params)] = commands
        return True

    async def _get_my_commands(self, params: JSON) -> list[JSON]:
        """getMyCommands: the list for a scope and language, empty if never set."""
        return self._commands.get(self._commands_key(params), [])


def _default_description(status: int | None, retry_after: int | None) -> str:
    """The description Telegram typically sends with each injected status."""
    if status is None:
        return ""
    if status == HTTPStatus.FORBIDDEN:
        return "Forbidden: bot was blocked by the user"
    if status == HTTPStatus.TOO_MANY_REQUESTS:
        return f"Too Many Requests: retry after {retry_after}"
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"Error {status}"


class _ChatHandle:
    """What a test can read or wait for in one chat."""

    def __init__(self, api: TelegramApiEmulator, chat_id: int) -> None:
        self.api = api
        self.chat_id = chat_id

    def messages(self) -> list[ChatMessage]:
        """The bot's messages in this chat, oldest first, deleted ones left out."""
        return self.api._live_bot_messages(self.chat_id)

    def last_message(self) -> ChatMessage | None:
        """The bot's newest live message here, if any."""
        messages = self.messages()
        return messages[-1] if messages else None

    def history(self) -> list[ChatMessage]:
        """All messages here, from anyone, deleted ones included."""
        return self.api.history(self.chat_id)

    async def wait_for_message(
        self, match: MessageMatch, *, after: int = 0, timeout: float = 5.0
    ) -> ChatMessage:
        """Wait (bounded) for a bot message matching a substring or predicate.

        Pass after=<message id> (e.g. what send_text returned) to ignore older messages.
        """
        return await self.api.wait_for(self.chat_id, match, after=after, timeout=timeout)

    async def _send(self, sender: JSON, text: str) -> int:
        """Post text as sender and hand it to the bot as a message update."""
        message = self.api._post_as(self.chat_id, sender, text)
        await self.api.push_update({"message": message.to_api()})
        return message.message_id

    async def _send_content(self, sender: JSON, content: JSON) -> int:
        """Post a message without text (a location, a venue) and hand it to the bot."""
        message = self.api._post_as(self.chat_id, sender, "")
        message.content = content
        await self.api.push_update({"message": message.to_api()})
        return message.message_id

    async def _press(self, sender: JSON, button: str, message: ChatMessage | int | None) -> str:
        """Press an inline button by its text or callback data; returns the query id."""
        candidates = self.messages()[::-1]
        if message is not None:
            wanted = message if isinstance(message, int) else message.message_id
            candidates = [m for m in candidates if m.message_id == wanted]
        for candidate in candidates:
            for found in candidate.buttons():
                if button in (found.get("text"), found.get("callback_data")):
                    return await self._click(sender, candidate, found)
        raise AssertionError(
            f"no inline button {button!r} on the bot's messages in chat {self.chat_id}; "
            f"buttons: {[b.get('text') for m in candidates for b in m.buttons()]!r}"
        )

    async def _click(self, sender: JSON, message: ChatMessage, button: JSON) -> str:
        """Send the callback_query a press on a callback button produces."""
        if "callback_data" not in button:
            raise AssertionError(f"button {button!r} sends no callback query")
        query = self.api._new_callback_query(sender, message, str(button["callback_data"]))
        await self.api.push_update({"callback_query": query})
        return str(query["id"])


class SimUser(_ChatHandle):
    """A simulated Telegram user, acting in their private chat with the bot."""

    def __init__(self, api: TelegramApiEmulator, user_id: int, info: JSON) -> None:
        super().__init__(api, user_id)
        self.user_id = user_id
        self.info = info

    def compose(self, text: str) -> JSON:
        """Record a message from this user without sending it; returns the Message object.

        For pushing it by hand, e.g. `api.push_update({"message": ...}, secret_token="bad")`.
        """
        return self.api._post_as(self.chat_id, self.info, text).to_api()

    async def send_text(self, text: str) -> int:
        """Send the bot a text message (commands get their entity); returns its message_id."""
        return await self._send(self.info, text)

    async def press(self, button: str, message: ChatMessage | int | None = None) -> str:
        """Press an inline button (by text or callback data) on the newest bot message having
        it, or on message; returns the callback query id."""
        return await self._press(self.info, button, message)

    async def send_location(
        self, latitude: float, longitude: float, *, live_period: int | None = None
    ) -> int:
        """Share a location (the paperclip's Location), or a live one for `live_period`
        seconds; returns its message_id. Telegram sends no text with it."""
        location: JSON = {"latitude": latitude, "longitude": longitude}
        if live_period is not None:
            location.update(live_period=live_period, heading=90, horizontal_accuracy=20.0)
        return await self._send_content(self.info, {"location": location})

    async def send_venue(self, latitude: float, longitude: float, title: str, address: str) -> int:
        """Share a place picked from the map's list: Telegram sends the venue and, beside it,
        its location."""
        location = {"latitude": latitude, "longitude": longitude}
        venue = {"location": location, "title": title, "address": address}
        return await self._send_content(self.info, {"venue": venue, "location": location})

    async def move_live_location(self, message_id: int, latitude: float, longitude: float) -> int:
        """The live location of `message_id` moved: Telegram sends an edited_message with the
        new position (every few seconds while it is shared); returns the update_id."""
        message = self.api._chats[self.chat_id].find(message_id)
        assert message is not None and message.content is not None, "no live location here"
        location = {**message.content["location"], "latitude": latitude, "longitude": longitude}
        message.content = {**message.content, "location": location}
        message.edit_date = _now()
        return await self.api.push_update({"edited_message": message.to_api()})


class SimGroup(_ChatHandle):
    """A simulated group chat, where any simulated user can talk."""

    async def send_text(self, from_user: SimUser, text: str) -> int:
        """Post text in the group as from_user; returns its message_id."""
        return await self._send(from_user.info, text)

    async def press(
        self, from_user: SimUser, button: str, message: ChatMessage | int | None = None
    ) -> str:
        """Press an inline button in the group as from_user; returns the callback query id."""
        return await self._press(from_user.info, button, message)
