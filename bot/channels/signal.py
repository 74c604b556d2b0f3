"""The Signal channel: buddycheck over signalbot 2.x and signal-cli-rest-api (json-rpc mode).

Thin like every adapter: an envelope becomes an `Inbound`, an `Outbound` becomes one
`/v2/send` to one person. What it adds to signalbot is what a safety bot cannot do without:
send failures classified for the outbox from the server's own words (which signalbot
drops), a watch on receiving (signalbot stops receiving for good, silently, when the
websocket is closed cleanly), loud start-up problems, and PIN hygiene (a disappearing-message
timer, and remote deletion of unlocked details).
See docs/signal.md and /work/shared/signalbot-notes.md for the signalbot behaviour relied on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from datetime import timedelta

import aiohttp
from packaging.version import InvalidVersion, Version
from pydantic import TypeAdapter
from signalbot import (
    LOGGER_NAME,
    Config,
    ConnectionMode,
    DataMessage,
    DataMessageContext,
    DataMessageHandler,
    EditMessage,
    InMemoryConfig,
    SendError,
    SendMessage,
    SentMessage,
    SignalBot,
    SignalBotError,
    UpdateContact,
)
from signalbot._client.messages import MessagesClient
from signalbot._generated import SendMessageResponse, SendMessageV2

from bot.channels.base import (
    Channel,
    ChannelLimits,
    DeliveryError,
    DeliveryReceipt,
    Inbound,
    InboundHandler,
    Outbound,
    TimedDeletions,
)
from bot.channels.menus import Choice, NumberedMenus, grouped, heading
from bot.config import Settings
from checkins.i18n import _, use_locale
from checkins.texts import span

log = logging.getLogger(__name__)

MIN_SERVER_VERSION = Version("0.101.0")  # what signalbot 2.2.1 itself checks on /v1/about
_MODES = {
    "auto": ConnectionMode.AUTO,
    "http": ConnectionMode.HTTP_ONLY,
    "https": ConnectionMode.HTTPS_ONLY,
}
# signalbot log lines that carry message text, phone numbers or uuids: never let them out.
_CONTENT_LOG_PREFIXES = ("[Raw Message]", "[Bot] New message", "[Bot] Message %s not delivered")
_SEND_RESPONSES = TypeAdapter(list[SendMessageResponse])
# signal-cli's words for a recipient who is not on Signal or whose safety number changed, as
# signal-cli-rest-api passes them on in `{"error": …}`: `Unregistered user "…"` and
# `Unregistered user: …` (signal-cli's SendMessageResultUtils, UnregisteredRecipientException;
# seen as `Failed to send (some) messages: …: Unregistered user "…"` in
# bbernhard/signal-cli-rest-api#857), `The user … is not registered.` (SendCommand),
# `… due to untrusted identities` / `Untrusted Identity for "…"`, and the per-recipient types
# UNREGISTERED_FAILURE / IDENTITY_FAILURE. `User … is not registered.` without "The" is the
# bot's *own* account (bbernhard/signal-cli-rest-api#696, #756) and deliberately not matched:
# failing over would not help, retrying once the account is fixed does.
_RECIPIENT_GONE = (
    (
        re.compile(r"unregistered|\bthe user \S+ is not registered", re.IGNORECASE),
        "unknown_recipient",
    ),
    (re.compile(r"untrusted identit|identity_failure", re.IGNORECASE), "untrusted_identity"),
)


@dataclass(frozen=True)
class SignalOptions:
    """How to reach signal-cli-rest-api, and the adapter's own timings (seconds)."""

    service: str
    phone_number: str
    connection_mode: ConnectionMode = ConnectionMode.AUTO
    locale: str = "en"
    disappearing_seconds: int = 3600
    send_timeout: float = 30.0
    retry_interval: int = 1
    watch_interval: float = 1.0
    slow_start_after: float = 30.0
    restart_delay: float = 1.0
    max_restart_delay: float = 60.0
    stable_after: float = 180.0
    delete_attempts: int = 3


class SignalChannel(Channel):
    """Signal through a signalbot `SignalBot`, one recipient per send, receiving supervised.

    People are identified by their ACI (`sourceUuid`); the phone number is used only when an
    envelope carries no uuid, and the profile name is never passed on. Group messages and
    anything coming from the bot's own account (another linked device) are ignored.
    """

    name = "signal"

    def __init__(self, options: SignalOptions) -> None:
        self.options = options
        # Signal publishes no sending limits and rate-limits (or asks for a captcha) without
        # warning, and signal-cli sends through one account: an even pace, no burst.
        self.limits = ChannelLimits(per_second=5.0, per_chat_interval=1.0, burst=1)
        self.receive_restarts = 0
        self.state = "stopped"
        self._menus = NumberedMenus()
        self._timer_set: set[str] = set()
        self._pin_told: set[str] = set()
        self._bot: SignalBot | None = None
        self._on_inbound: InboundHandler | None = None
        self._watch: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._deletions = TimedDeletions(
            self._remote_delete, options.delete_attempts, options.restart_delay
        )

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self, on_inbound: InboundHandler) -> None:
        """Begin connecting and return at once; start-up continues (and is watched) behind.

        The process must not wait for signal-cli-rest-api: other channels and the escalation
        engine run meanwhile, and sends made before it is ready fail transiently and retry.
        """
        self._on_inbound = on_inbound
        self._bot = _new_bot(self.options)
        self._bot.register(_EnvelopeHandler(self), contacts=True, groups=False)
        self._bot.start(run_forever=False)
        self.state = "starting"
        self._watch = asyncio.get_running_loop().create_task(self._supervise())

    async def stop(self) -> None:
        """Delete pending unlocked details now, let inbound handling finish, then disconnect."""
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
        await self._deletions.flush()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5.0)
        bot, self._bot = self._bot, None
        if bot is not None:
            await _stop_bot(bot)
        self._on_inbound = None
        self.state = "stopped"

    def receive_state(self) -> str:
        """starting | receiving | restarting | stopped (see `Channel.receive_state`)."""
        return self.state

    # -- receiving -----------------------------------------------------------------------

    def accept(self, message: DataMessage) -> None:
        """An envelope arrived: hand it to the bot core in a task of our own.

        A task, not signalbot's consumer, runs the conversation, so restarting signalbot's
        pipeline never cancels a half-handled message.
        """
        if isinstance(message, EditMessage):
            self._spawn(self._refuse_edit(message))
            return
        event = self._to_inbound(message)
        if event is not None and self._on_inbound is not None:
            self._spawn(self._on_inbound(event))

    def _to_inbound(self, message: DataMessage) -> Inbound | None:
        address = _address(message, self.options.phone_number)
        if address is None:
            return None
        ref = str(message.timestamp)
        typed = message.text or ""
        # Menu numbers are short; a PIN like "000002" must never pick choice 2.
        action = self._menus.resolve(address, typed) if len(typed.strip()) <= 3 else None
        if action is not None:
            return Inbound(self.name, address, action=action, message_ref=ref)
        return Inbound(self.name, address, text=message.text, message_ref=ref)

    async def _refuse_edit(self, message: DataMessage) -> None:
        """Edits are not re-read: an edited answer could land on a later question."""
        address = _address(message, self.options.phone_number)
        if address is None:
            return
        with use_locale(self.options.locale):
            text = _("I can't use edited messages. Please send it again as a new message.")
        with contextlib.suppress(DeliveryError):
            await self.send(Outbound(self.name, address, text))

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.get_running_loop().create_task(_run(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _supervise(self) -> None:
        """Surface a slow start-up, then keep receiving alive for as long as we run."""
        bot = self._require_bot()
        await self._await_start_up(bot)
        self.state = "receiving"
        log.info("signal: connected to signal-cli-rest-api, receiving")
        delay = self.options.restart_delay
        loop = asyncio.get_running_loop()
        since = loop.time()
        while True:
            await asyncio.sleep(self.options.watch_interval)
            if _receiving(bot):
                if loop.time() - since > self.options.stable_after:
                    delay = self.options.restart_delay
                continue
            delay = await self._restart_receiving(bot, delay)
            since = loop.time()

    async def _await_start_up(self, bot: SignalBot) -> None:
        """Wait for signalbot's start-up; every `slow_start_after` s, log why it is stuck.

        signalbot retries a wrong server version or mode forever without logging a reason,
        which looks like a hang; this asks /v1/about itself and says what is wrong.
        """
        task = bot.init_task
        assert task is not None  # set by bot.start()
        while True:
            done, _pending = await asyncio.wait({task}, timeout=self.options.slow_start_after)
            if done:
                return
            log.error("signal: %s", await self._start_up_problem(bot))

    async def _start_up_problem(self, bot: SignalBot) -> str:
        service = self.options.service
        try:
            async with asyncio.timeout(5.0):
                about = await bot.general.about()
        except (SignalBotError, TimeoutError, aiohttp.ClientError) as error:
            return f"signal-cli-rest-api at {service} does not answer ({type(error).__name__})"
        if about.mode != "json-rpc":
            return f"signal-cli-rest-api runs in mode {about.mode!r}; set MODE=json-rpc"
        if _too_old(about.version):
            return (
                f"signal-cli-rest-api is version {about.version}; "
                f"at least {MIN_SERVER_VERSION} is needed"
            )
        return (
            f"signal-cli-rest-api at {service} answers but start-up has not finished; "
            "check that [signal] phone_number is registered there"
        )

    async def _restart_receiving(self, bot: SignalBot, delay: float) -> float:
        """Receiving ended without an error (a clean websocket close): start it again."""
        self.receive_restarts += 1
        self.state = "restarting"
        log.warning(
            "signal: receiving stopped (websocket closed cleanly); restart %d in %.0f s",
            self.receive_restarts,
            delay,
        )
        await asyncio.sleep(delay)
        # signalbot offers no public way to restart receiving; its pipeline's start() is
        # what SignalBot.start() itself calls, and restarts producer and consumers.
        await bot._pipeline.start()
        self.state = "receiving"
        return min(delay * 2, self.options.max_restart_delay)

    # -- sending -------------------------------------------------------------------------

    async def send(self, message: Outbound) -> DeliveryReceipt:
        """Send to one person; raise `DeliveryError` classified for retry or fail-over."""
        bot = self._require_bot()
        text = self._render(message)
        first_pin = message.input_hint == "pin" and message.address not in self._pin_told
        if first_pin:
            notice = await self._pin_notice(bot, message.address, message.locale)
            text = notice + "\n\n" + text
        sent = await self._send_text(bot, message.address, text)
        if first_pin:
            self._pin_told.add(message.address)
        if message.delete_after_seconds:
            self._deletions.schedule(sent, message.delete_after_seconds)
        return DeliveryReceipt(str(sent.timestamp))

    def _render(self, message: Outbound) -> str:
        """The text, with buttons turned into numbered choices by block: "Reply 1 for …, 2
        for …" and "For this alert, reply 21 for …" (`bot/channels/menus.py`)."""
        choices = self._menus.remember(message.address, message.buttons)
        if not choices:
            return message.text
        with use_locale(message.locale or self.options.locale):
            lines = [
                heading(context, ", ".join(_choice(choice) for choice in group))
                for context, group in grouped(choices)
            ]
        return message.text + "\n\n" + "\n".join(lines)

    async def _pin_notice(self, bot: SignalBot, address: str, locale: str | None) -> str:
        """Set the chat's disappearing timer (once) and say why, so a PIN does not linger."""
        seconds = self.options.disappearing_seconds
        if seconds > 0 and address not in self._timer_set:
            try:
                async with asyncio.timeout(self.options.send_timeout):
                    await bot.contacts.update(UpdateContact(expiration_in_seconds=seconds), address)
                self._timer_set.add(address)
            except (SignalBotError, TimeoutError, aiohttp.ClientError) as error:
                log.warning("signal: could not set a disappearing timer (%s)", type(error).__name__)
        with use_locale(locale or self.options.locale):
            if address in self._timer_set:
                return _(
                    "I turned on disappearing messages in this chat ({span}), so the PIN you "
                    "send me does not stay on your phone. Please leave it on."
                ).format(span=span(timedelta(seconds=seconds)))
            return _(
                "Please turn on disappearing messages for this chat (open the chat's name, then "
                "Disappearing messages), so the PIN you send me does not stay on your phone."
            )

    async def _send_text(self, bot: SignalBot, address: str, text: str) -> SentMessage:
        try:
            async with asyncio.timeout(self.options.send_timeout):
                return await bot.messages.send(SendMessage(text=text), address)
        except TimeoutError:
            raise DeliveryError("timeout") from None
        except SendError as error:
            raise classify_send_error(error) from None
        except SignalBotError:  # "Cannot resolve recipient": not a uuid, number or username
            raise DeliveryError("unknown_recipient", permanent=True) from None
        except ValueError:  # pydantic too: /v2/send did not answer with a JSON array
            log.error("signal: unexpected /v2/send answer; is signal-cli-rest-api too old?")
            raise DeliveryError("bad_response") from None

    # -- deleting ------------------------------------------------------------------------

    async def delete(self, address: str, message_ref: str) -> bool:
        """Always False: Signal's remote delete only works on messages the bot itself sent.

        A person's own message (their PIN, their outcall details) stays in their chat until
        the disappearing-message timer set at the first PIN request removes it; returning
        False keeps the core from claiming it was deleted.
        """
        return False

    async def _remote_delete(self, sent: SentMessage) -> bool:
        """`TimedDeletions`' one attempt at a remote delete of one of the bot's own messages
        (unlocked details); the chat's disappearing timer is the fallback if all fail."""
        bot = self._bot
        if bot is None:
            return False
        try:
            async with asyncio.timeout(self.options.send_timeout):
                await bot.messages.remote_delete(sent)
            return True
        except (SignalBotError, TimeoutError, aiohttp.ClientError) as error:
            log.warning("signal: remote delete failed (%s)", type(error).__name__)
            return False

    def _require_bot(self) -> SignalBot:
        if self._bot is None:
            raise DeliveryError("not_started")
        return self._bot


class _EnvelopeHandler(DataMessageHandler):
    """signalbot's hook for data messages (and edits): passes each to the channel."""

    def __init__(self, channel: SignalChannel) -> None:
        self._channel = channel

    async def handle_data_message(self, context: DataMessageContext) -> None:
        """Someone wrote to the bot."""
        self._channel.accept(context.message)


class SendRejected(SendError):
    """/v2/send answered with an error status; keeps the server's `{"error": …}` text.

    The text can name the recipient, so it is kept as an attribute and never put in the
    exception's message.
    """

    def __init__(self, status: int, error: str, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.error = error
        self.retry_after = retry_after


class RecipientFailed(SendError):
    """/v2/send answered 201 but listed the recipient under `errors`: not delivered."""

    def __init__(self, reason: str) -> None:
        super().__init__("recipient listed under errors")
        self.reason = reason


class _BodyReadingMessages(MessagesClient):
    """signalbot's own messages client with a `send` that reads what signalbot drops.

    signalbot 2.2.1 raises `SendError` from aiohttp's `raise_for_status()`, which never
    reads the body, so "unregistered user" and a passing network failure both arrive as a
    bare 400; and for a 201 that lists the recipient under `errors.recipients` (the shape
    signal-cli-rest-api's API description gives, see signalbot's generated
    `SendMessageResponse`) it only logs and reports the message as sent. Replacing this one
    method is the smallest way to see both: payload building, recipient resolution,
    `SentMessage`, auth, the http/https choice and every other call stay signalbot's. It
    builds on signalbot internals (`_client`, `_generated`); the Signal tests pin them.
    """

    async def send(self, data_message: SendMessageV2) -> list[SendMessageResponse]:
        """POST /v2/send; raise `SendRejected` / `RecipientFailed` with what the server said."""
        payload = data_message.model_dump_json(exclude_none=True, by_alias=True)
        session = await self._sessions.get()
        try:
            async with session.post(
                self._uris.send_uri(), headers=self._add_auth(), data=payload
            ) as response:
                status, text, headers = response.status, await response.text(), response.headers
        except aiohttp.ClientError as error:
            raise SendError(type(error).__name__) from error
        if status >= 400:
            raise SendRejected(status, _error_text(text), _retry_after(headers))
        results = _SEND_RESPONSES.validate_json(text)
        failure = _listed_failure(results)
        if failure is not None:
            raise RecipientFailed(failure)
        return results


def classify_send_error(error: SendError) -> DeliveryError:
    """The outbox's one bit (permanent or not) for a failed /v2/send.

    Only what the server says about the recipient makes a failure permanent; anything else
    (including a dropped connection) is retried.
    """
    if isinstance(error, SendRejected):
        return classify_rejection(error.status, error.error, error.retry_after)
    if isinstance(error, RecipientFailed):
        return classify_recipient_failure(error.reason)
    return DeliveryError("network")


def classify_rejection(status: int, error: str, retry_after: float | None = None) -> DeliveryError:
    """An error status from /v2/send with the server's `{"error": …}` text.

    signal-cli-rest-api answers 400 for nearly every signal-cli failure, transient ones too
    (a network failure reaching Signal, an I/O error), so a 4xx is permanent only when the
    text says the recipient is not on Signal or can't be trusted (`_RECIPIENT_GONE`).

    Known gap, from signal-cli's sources (SendMessageResultUtils.outputResult): in json-rpc
    mode a send whose only recipient is unregistered fails with the bare "Failed to send
    message" — the same words as a network failure — and signal-cli-rest-api keeps only the
    JSON-RPC error's message (bbernhard/signal-cli-rest-api#692 shows it for a recipient
    `/v1/search` calls unregistered). That case is retried; after a few failures in a row
    the dispatcher has the engine fail over while it keeps retrying (`STUBBORN_FAILURES`).
    """
    if status == 429:
        return DeliveryError("rate_limited", retry_after=retry_after)
    if status >= 500:
        return DeliveryError("server_error")
    gone = _recipient_gone(error)
    if gone is not None:
        return DeliveryError(gone, permanent=True)
    return DeliveryError(f"http_{status}")


def classify_recipient_failure(reason: str) -> DeliveryError:
    """A recipient listed under `errors` in a 201, by signal-cli's SendMessageResult type.

    UNREGISTERED_FAILURE and IDENTITY_FAILURE are permanent (fail over); RATE_LIMIT_FAILURE,
    NETWORK_FAILURE, INVALID_PRE_KEY_FAILURE and PROOF_REQUIRED_FAILURE are retried: they
    pass, or are the bot's account's problem rather than the recipient's.
    """
    gone = _recipient_gone(reason)
    if gone is not None:
        return DeliveryError(gone, permanent=True)
    if "rate_limit" in reason.lower():
        return DeliveryError("rate_limited")
    return DeliveryError("recipient_failure")


def _recipient_gone(text: str) -> str | None:
    """The permanent reason the server's words give, None when they give none."""
    for pattern, reason in _RECIPIENT_GONE:
        if pattern.search(text):
            return reason
    return None


def _error_text(body: str) -> str:
    """The `error` of signal-cli-rest-api's `{"error": …}` body; "" for anything else."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return ""
    error = parsed.get("error") if isinstance(parsed, dict) else None
    return error if isinstance(error, str) else ""


def _listed_failure(results: list[SendMessageResponse]) -> str | None:
    """The reason given for the first recipient a 201 lists under `errors`.

    One recipient per send, so any listed recipient is the one this message was for.
    """
    for result in results:
        listed = result.errors.recipients if result.errors else None
        if listed:
            return listed[0].reason or ""
    return None


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _choice(choice: Choice) -> str:
    return _("{number} for {label}").format(number=choice.number, label=choice.button.label)


def _address(message: DataMessage, own_number: str) -> str | None:
    """The sender's uuid (their number only if no uuid came); None for what we ignore."""
    if message.is_group() or message.source_number == own_number:
        return None
    address: str | None = message.source_uuid or message.source_number
    return address


async def _run(work: Awaitable[None]) -> None:
    await work


def _receiving(bot: SignalBot) -> bool:
    """Whether signalbot's receive loop is still running.

    Its producer task leaves this set when it ends, which after start-up only happens on a
    clean websocket close (errors restart it inside the task). Private, so pinned by tests.
    """
    return bool(bot._pipeline._produce_tasks)


def _too_old(version: str) -> bool:
    if version == "unset":
        return False
    try:
        return Version(version) < MIN_SERVER_VERSION
    except InvalidVersion:
        return True


class _DropContent(logging.Filter):
    """Drops signalbot's log lines that carry message text, numbers or uuids."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_CONTENT_LOG_PREFIXES)


def _new_bot(options: SignalOptions) -> SignalBot:
    """A SignalBot on the running loop, logging through ours and never logging content."""
    logger = logging.getLogger(LOGGER_NAME)
    handlers = list(logger.handlers)
    config = Config(
        phone_number=options.phone_number,
        signal_service=options.service,
        connection_mode=options.connection_mode,
        retry_interval=options.retry_interval,
        storage=InMemoryConfig(),
        download_attachments=False,
        logging_level=logging.WARNING,
    )
    bot = SignalBot(config)
    _read_send_bodies(bot)
    logger.handlers = handlers  # signalbot adds a console handler per instance
    if not any(isinstance(f, _DropContent) for f in logger.filters):
        logger.addFilter(_DropContent())
    return bot


def _read_send_bodies(bot: SignalBot) -> None:
    """Swap in `_BodyReadingMessages` for signalbot's messages client (private; pinned by tests)."""
    messages = bot._signal.messages
    bot._signal.messages = _BodyReadingMessages(messages._uris, messages._auth, messages._sessions)


async def _stop_bot(bot: SignalBot) -> None:
    """`SignalBot.stop()` without its final `loop.stop()`, which would stop our whole loop."""
    if bot.init_task is not None and not bot.init_task.done():
        bot.init_task.cancel()
        await asyncio.gather(bot.init_task, return_exceptions=True)
    await bot._pipeline.stop()
    await bot.close()


def build_channel(settings: Settings) -> SignalChannel:
    """The Signal channel as `[signal]` configures it (see bot.config.SignalConfig)."""
    section = settings.signal
    default = settings.jurisdictions[settings.service.default_jurisdiction]
    return SignalChannel(
        SignalOptions(
            service=section.service,
            phone_number=section.phone_number,
            connection_mode=_MODES[section.connection_mode],
            locale=default.locale,
            disappearing_seconds=int(section.disappearing_timer.total_seconds()),
            send_timeout=section.send_timeout.total_seconds(),
        )
    )
