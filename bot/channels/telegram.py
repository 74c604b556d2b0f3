"""The Telegram adapter: python-telegram-bot v22 updates in, `Outbound` messages out.

Thin by design: a message becomes `Inbound(text)`, a button press `Inbound(action)`, and an
`Outbound` becomes one sendMessage with an inline keyboard (plain text, no parse_mode, so
nobody can inject markup). Only the inline PIN keypad lives here because only Telegram has
it (a PIN never appears in the chat history); unlocked details are deleted later through the
shared `TimedDeletions`, with Telegram's deleteMessage. Sending limits live in the outbox, so
no PTB rate limiter is installed.
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum, auto
from typing import Any
from urllib.parse import urlsplit

from telegram import (
    BotCommand,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
    User,
)
from telegram.constants import ChatAction, ChatType
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBDeprecationWarning

from bot import logs
from bot.channels.base import (
    RECEIVING,
    SEND_ONLY,
    Channel,
    ChannelLimits,
    DeliveryError,
    DeliveryReceipt,
    Inbound,
    InboundHandler,
    Outbound,
    TimedDeletions,
)
from bot.config import ConfigError, Settings, TelegramConfig
from checkins.actions import Control
from checkins.i18n import (
    SOURCE_LOCALE,
    _,
    available_locales,
    supported_locale,
    use_locale,
)
from checkins.locations import Location, point
from checkins.messages import Button
from checkins.service import PIN_MAX_DIGITS

log = logging.getLogger(__name__)

CHANNEL = "telegram"
POLL_TIMEOUT = 10
# A getUpdates failure this recent means receiving is failing (PTB retries within seconds).
POLL_FAILING = 3 * POLL_TIMEOUT
SEND_TIMEOUT = 10.0
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")
MAX_CALLBACK_BYTES = 64
KEY = "k:"  # keypad presses; the adapter handles them, the conversation never sees them
_KEY_DELETE, _KEY_OK = "del", "ok"

PtbApplication = Application[Any, Any, Any, Any, Any, Any]


# -- the PIN keypad ---------------------------------------------------------------------------


class Press(Enum):
    """What a keypad press did."""

    STALE = auto()
    CHANGED = auto()
    UNCHANGED = auto()
    EMPTY = auto()
    SUBMIT = auto()


@dataclass(frozen=True)
class KeypadView:
    """How a keypad message should look at one moment: taken at the press, edited later."""

    message_id: int
    text: str
    rows: tuple[tuple[Button, ...], ...]
    keys: bool
    version: int


@dataclass
class Keypad:
    """One open PIN prompt: its message, its text and extra buttons, and the digits so far."""

    message_id: int
    text: str
    rows: tuple[tuple[Button, ...], ...]
    digits: str = ""
    version: int = 0

    def view(self, *, keys: bool) -> KeypadView:
        """The prompt with one dot per digit typed, never the digits."""
        dots = "•" * len(self.digits)
        text = f"{self.text}\n\n{dots}" if dots else self.text
        return KeypadView(self.message_id, text, self.rows, keys, self.version)


class PinKeypads:
    """Digits typed on inline keypads, one open keypad per chat, held in memory only.

    Digits are never logged or stored; they leave this object only as the text of one
    `Inbound` when the person taps OK. A restart forgets them (the person types again).
    """

    def __init__(self) -> None:
        self._open: dict[str, Keypad] = {}
        # Per chat, the old keypad already reported as tapped with none open (see `lost`).
        self._lost: dict[str, int] = {}

    def open(self, chat: str, keypad: Keypad) -> Keypad | None:
        """Make `keypad` the chat's keypad; returns the one it replaces, if any."""
        previous = self._open.get(chat)
        self._open[chat] = keypad
        self._lost.pop(chat, None)
        return previous

    def lost(self, chat: str, message_id: int) -> bool:
        """Whether a tap on `message_id` is the first on an old keypad while none is open in
        the chat (after a restart): only that one is passed on, not every digit after it."""
        if chat in self._open or self._lost.get(chat) == message_id:
            return False
        self._lost[chat] = message_id
        return True

    def close(self, chat: str) -> Keypad | None:
        """Forget the chat's keypad (and its digits); returns it so its keys can be removed."""
        return self._open.pop(chat, None)

    def is_idle(self, chat: str) -> bool:
        """No keypad is open in this chat."""
        return chat not in self._open

    def is_current(self, chat: str, view: KeypadView) -> bool:
        """Whether `view` still shows the chat's open keypad as it is now."""
        keypad = self._open.get(chat)
        return keypad is not None and (keypad.message_id, keypad.version) == (
            view.message_id,
            view.version,
        )

    def press(self, chat: str, message_id: int, key: str) -> tuple[Press, KeypadView | None, str]:
        """Apply one key; on OK returns the digits and forgets them."""
        keypad = self._open.get(chat)
        if keypad is None or keypad.message_id != message_id:
            return Press.STALE, None, ""
        if key == _KEY_OK:
            if not keypad.digits:
                return Press.EMPTY, None, ""
            view, digits = keypad.view(keys=False), keypad.digits
            keypad.digits = ""
            del self._open[chat]
            return Press.SUBMIT, view, digits
        before = keypad.digits
        if key == _KEY_DELETE:
            keypad.digits = before[:-1]
        elif key.isdigit() and len(key) == 1 and len(before) < PIN_MAX_DIGITS:
            keypad.digits = before + key
        if keypad.digits == before:
            return Press.UNCHANGED, None, ""
        keypad.version += 1
        return Press.CHANGED, keypad.view(keys=True), ""


def keypad_rows() -> list[list[InlineKeyboardButton]]:
    """1–9, then ⌫ 0 OK, like a phone's dial pad."""
    rows = [
        [InlineKeyboardButton(d, callback_data=KEY + d) for d in digits]
        for digits in ("123", "456", "789")
    ]
    rows.append(
        [
            InlineKeyboardButton("⌫", callback_data=KEY + _KEY_DELETE),
            InlineKeyboardButton("0", callback_data=KEY + "0"),
            InlineKeyboardButton(_("OK ✓"), callback_data=KEY + _KEY_OK),
        ]
    )
    return rows


def keyboard(
    rows: tuple[tuple[Button, ...], ...], *, keypad: bool = False
) -> InlineKeyboardMarkup | None:
    """The inline keyboard for a message: the keypad (if asked) above the message's buttons."""
    grid = keypad_rows() if keypad else []
    for row in rows:
        buttons = [
            InlineKeyboardButton(b.label, callback_data=b.action) for b in row if _fits(b.action)
        ]
        if buttons:
            grid.append(buttons)
    return InlineKeyboardMarkup(grid) if grid else None


def _fits(action: str) -> bool:
    """Telegram refuses a whole message over one too-long button; leave that button out."""
    if 1 <= len(action.encode()) <= MAX_CALLBACK_BYTES:
        return True
    log.error("a button's action is %d bytes; Telegram allows 64", len(action.encode()))
    return False


# -- failures ---------------------------------------------------------------------------------


def delivery_error(error: TelegramError) -> DeliveryError:
    """Classify a Bot API failure: permanent (fail over) or transient (retry)."""
    if isinstance(error, RetryAfter):
        return DeliveryError("rate_limited", retry_after=retry_seconds(error))
    if isinstance(error, Forbidden):  # blocked the bot, never started it, deactivated
        return DeliveryError("blocked", permanent=True)
    if isinstance(error, BadRequest):  # before NetworkError: BadRequest subclasses it
        if "chat not found" in error.message.lower():
            return DeliveryError("unknown_chat", permanent=True)
        return DeliveryError("bad_request", permanent=True)
    if isinstance(error, ChatMigrated):
        return DeliveryError("chat_migrated", permanent=True)
    if isinstance(error, TimedOut):  # may have arrived anyway: at-least-once, never zero
        return DeliveryError("timeout")
    if isinstance(error, InvalidToken):  # a configuration problem, not the recipient's
        log.error("Telegram rejected the bot token (check [telegram] token and base_url)")
        return DeliveryError("invalid_token")
    if isinstance(error, NetworkError):
        return DeliveryError("network")
    return DeliveryError("telegram_error")


def retry_seconds(error: RetryAfter) -> float:
    """`retry_after` is an int, or a timedelta under PTB_TIMEDELTA; seconds either way."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value: int | timedelta = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


# -- the channel ------------------------------------------------------------------------------


class TelegramChannel(Channel):
    """Private chats with the bot, over long polling (default) or a webhook."""

    name = CHANNEL
    has_command_menu = True

    def __init__(
        self,
        config: TelegramConfig,
        default_locale: str = SOURCE_LOCALE,
        send_timeout: float = SEND_TIMEOUT,
    ) -> None:
        self.limits = ChannelLimits(
            per_second=config.messages_per_second,
            per_chat_interval=config.chat_gap.total_seconds(),
            burst=config.burst,
        )
        self.config = config
        self.default_locale = default_locale
        self.keypads = PinKeypads()
        logs.quiet_library_loggers()
        self.application: PtbApplication = (
            ApplicationBuilder()
            .token(config.token.get_secret_value())
            .base_url(config.base_url)
            .read_timeout(send_timeout)
            .write_timeout(send_timeout)
            .concurrent_updates(True)  # one person's slow step never holds up another's SOS
            .job_queue(None)
            .build()
        )
        self._on_inbound: InboundHandler | None = None
        self._last_poll_error: float | None = None
        self._ready = asyncio.Lock()
        self._initialized = False
        self._timed = TimedDeletions(self._delete_sent)
        self._edit_locks: dict[str, asyncio.Lock] = {}
        # Each member's own language, learnt from what we send them, for keypad pop-ups.
        self._chat_locales: dict[str, str] = {}
        self._add_handlers()

    def _add_handlers(self) -> None:
        private = filters.ChatType.PRIVATE
        app = self.application
        app.add_handler(MessageHandler(private & filters.UpdateType.EDITED_MESSAGE, self._edited))
        app.add_handler(MessageHandler(private & filters.UpdateType.MESSAGE, self._message))
        app.add_handler(CallbackQueryHandler(self._button))
        app.add_handler(
            MessageHandler(~private & filters.UpdateType.MESSAGE & filters.COMMAND, self._group)
        )
        app.add_error_handler(self._error)

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self, on_inbound: InboundHandler) -> None:
        """Connect (getMe), publish the command list, then poll or serve the webhook (or,
        send-only, nothing more: another process receives)."""
        self._on_inbound = on_inbound
        await self._ensure_ready()
        if self.config.mode == "send_only":
            log.info("telegram channel started (send-only) as @%s", self.username)
            return
        await self._publish_commands()
        updater = self.application.updater
        if updater is None:
            raise RuntimeError("the Telegram application has no updater")
        if self.config.mode == "webhook":
            await updater.start_webhook(
                listen=self.config.webhook_listen,
                port=self.config.webhook_port,
                url_path=urlsplit(self.config.webhook_url).path.strip("/"),
                webhook_url=self.config.webhook_url,
                secret_token=self.config.webhook_secret.get_secret_value(),
                allowed_updates=list(ALLOWED_UPDATES),
            )
        else:
            await updater.start_polling(
                timeout=timedelta(seconds=POLL_TIMEOUT),
                allowed_updates=list(ALLOWED_UPDATES),
                error_callback=self._polling_error,
            )
        await self.application.start()
        log.info("telegram channel started (%s) as @%s", self.config.mode, self.username)

    def receive_state(self) -> str:
        """ "failing" while getUpdates has failed within the last `POLL_FAILING` seconds
        (the updater keeps retrying, so it still counts as running)."""
        if self.config.mode == "send_only":
            return SEND_ONLY
        updater = self.application.updater
        if updater is None or not updater.running:
            return "stopped"
        failed = self._last_poll_error
        if failed is not None and time.monotonic() - failed < POLL_FAILING:
            return "failing"
        return RECEIVING

    def _polling_error(self, error: TelegramError) -> None:
        self._last_poll_error = time.monotonic()
        log.warning("telegram polling failed, retrying: %s", type(error).__name__)

    async def stop(self) -> None:
        """Stop receiving, delete timed messages now rather than never, and disconnect."""
        self._on_inbound = None
        app = self.application
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await self._timed.flush()
        self.keypads = PinKeypads()
        if self._initialized:
            await app.shutdown()
            self._initialized = False

    async def _ensure_ready(self) -> None:
        """Initialise once (getMe); the outbox may send before `start`, right after a restart."""
        async with self._ready:
            if not self._initialized:
                await self.application.initialize()
                self._initialized = True

    @property
    def username(self) -> str | None:
        """The bot's @username, known after getMe."""
        return self.application.bot.username if self._initialized else None

    def invite_link_template(self) -> str | None:
        """`https://t.me/<bot>?start={code}`: opening it sends `/start CODE` to the bot."""
        return f"https://t.me/{self.username}?start={{code}}" if self.username else None

    async def _publish_commands(self) -> None:
        """setMyCommands in every language with a catalog (the source language as default),
        from the command table the app handed to `set_commands`."""
        if not self.commands:
            return
        for locale in available_locales():
            with use_locale(locale):
                commands = [BotCommand(name, _(text)) for name, text in self.commands]
            language = None if locale == SOURCE_LOCALE else locale.split("_")[0]
            try:
                await self.application.bot.set_my_commands(commands, language_code=language)
            except TelegramError as error:
                log.warning("setMyCommands failed: %s", type(error).__name__)

    # -- sending ----------------------------------------------------------------------------

    async def send(self, message: Outbound) -> DeliveryReceipt:
        """One sendMessage; a PIN request gets the keypad; raises a classified DeliveryError."""
        chat_id = _chat_id(message.address)
        pin = message.input_hint == "pin"
        if message.locale:
            self._chat_locales[message.address] = message.locale
        with use_locale(self._chat_locales.get(message.address, self.default_locale)):
            markup = keyboard(message.buttons, keypad=pin)
        try:
            await self._ensure_ready()
            sent = await self.application.bot.send_message(
                chat_id, message.text, reply_markup=markup
            )
        except TelegramError as error:
            raise delivery_error(error) from None
        if pin:
            keypad = Keypad(sent.message_id, message.text, message.buttons)
            await self._retire(message.address, self.keypads.open(message.address, keypad))
        if message.delete_after_seconds is not None:
            self._timed.schedule(
                (message.address, str(sent.message_id)), message.delete_after_seconds
            )
        return DeliveryReceipt(str(sent.message_id))

    async def probe(self, address: str) -> bool | None:
        """sendChatAction "typing": nothing appears in the chat, but Telegram answers 403 or
        "chat not found" for someone who blocked the bot or deleted their account."""
        try:
            await self._ensure_ready()
            await self.application.bot.send_chat_action(_chat_id(address), ChatAction.TYPING)
        except TelegramError as error:
            return False if delivery_error(error).reason in ("blocked", "unknown_chat") else None
        except (DeliveryError, ValueError):
            return None
        return True

    async def delete(self, address: str, message_ref: str) -> bool:
        """deleteMessage; True when Telegram confirms (bots may delete for 48 hours)."""
        try:
            await self._ensure_ready()
            return bool(
                await self.application.bot.delete_message(_chat_id(address), int(message_ref))
            )
        except (TelegramError, DeliveryError, ValueError) as error:
            log.warning("deleting a telegram message failed: %s", type(error).__name__)
            return False

    async def _delete_sent(self, sent: tuple[str, str]) -> bool:
        """`TimedDeletions`' one attempt: a message of the bot's, by (chat, message id)."""
        return await self.delete(*sent)

    # -- receiving --------------------------------------------------------------------------

    async def _message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A person wrote in their private chat (text, or anything else, which gets an answer)."""
        message, chat = update.effective_message, update.effective_chat
        if message is None or chat is None:
            return
        address = str(chat.id)
        superseded = self.keypads.close(address)  # a typed message ends keypad entry
        await self._deliver(
            Inbound(
                CHANNEL,
                address,
                text=message.text,
                message_ref=str(message.message_id),
                language=_language(update.effective_user),
                place=_place(message),
            )
        )
        await self._retire(address, superseded)

    async def _edited(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A person edited an earlier message: edits are not acted on, and we say so. A live
        location moving is an edit too, sent every few seconds: it is not followed (only
        the point it started at is sealed, docs/telegram.md) and gets no answer."""
        chat, edited = update.effective_chat, update.edited_message
        if chat is None or (edited is not None and edited.location is not None):
            return
        with use_locale(self._locale_of(update.effective_user, str(chat.id))):
            text = _(
                "I don't act on edited messages. If you meant to change something, "
                "send it again as a new message."
            )
        await self._notice(chat.id, text)

    async def _group(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Someone sent the bot a command in a group: point them to a private chat."""
        chat = update.effective_chat
        if chat is None:
            return
        with use_locale(self._locale_of(update.effective_user, None)):
            text = _("Please talk to me in a private chat: {link}").format(
                link=f"https://t.me/{self.username}"
            )
        await self._notice(chat.id, text)

    async def _button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A person pressed an inline button: answer the query, then act on its data."""
        query, chat = update.callback_query, update.effective_chat
        if query is None or chat is None:
            return
        if chat.type != ChatType.PRIVATE:
            with use_locale(self._locale_of(query.from_user, None)):
                await _answer(query, _("Please talk to me in a private chat."))
            return
        address, data = str(chat.id), query.data or ""
        if data.startswith(KEY):
            await self._key(query, address, data.removeprefix(KEY))
            return
        superseded = self.keypads.close(address)
        await _answer(query)
        await self._deliver(
            Inbound(CHANNEL, address, action=data, language=_language(query.from_user))
        )
        await self._retire(address, superseded)

    async def _key(self, query: CallbackQuery, address: str, key: str) -> None:
        """A keypad press: collect the digit in memory; on OK hand the digits on as text."""
        message_id = query.message.message_id if query.message else 0
        outcome, view, digits = self.keypads.press(address, message_id, key)
        if outcome is Press.STALE and self.keypads.lost(address, message_id):
            # No keypad is open here at all (the bot restarted, or the question ended): the
            # conversation asks the question again, or says it has ended, instead of a toast.
            await _answer(query)
            await self._deliver(Inbound(CHANNEL, address, action=Control.KEYPAD))
            return
        with use_locale(self._locale_of(query.from_user, address)):
            if outcome is Press.STALE:
                await _answer(query, _("This keypad is no longer active."))
                return
            if outcome is Press.EMPTY:
                await _answer(query, _("Tap the digits of your PIN first."))
                return
        await _answer(query)
        if view is not None:
            await self._edit(address, view)
        if outcome is Press.SUBMIT:
            await self._deliver(Inbound(CHANNEL, address, text=digits))

    async def _deliver(self, event: Inbound) -> None:
        if self._on_inbound is None:
            log.warning("a telegram update arrived while the channel is stopped")
            return
        await self._on_inbound(event)

    async def _error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log a handler failure by type only: exception texts may quote what people sent."""
        log.error("handling a telegram update failed: %s", type(context.error).__name__)

    # -- small helpers ----------------------------------------------------------------------

    async def _edit(self, address: str, view: KeypadView) -> None:
        """Show a keypad's dots, one edit at a time per chat; a superseded view is skipped."""
        lock = self._edit_locks.setdefault(address, asyncio.Lock())
        async with lock:
            if view.keys and not self.keypads.is_current(address, view):
                return
            markup = keyboard(view.rows, keypad=True) if view.keys else None
            try:
                await self.application.bot.edit_message_text(
                    view.text, _chat_id(address), view.message_id, reply_markup=markup
                )
            except (TelegramError, DeliveryError) as error:  # cosmetic: digits are kept anyway
                log.debug("editing a keypad failed: %s", type(error).__name__)
        if not lock.locked() and self.keypads.is_idle(address):
            self._edit_locks.pop(address, None)

    async def _retire(self, address: str, keypad: Keypad | None) -> None:
        """Remove the keys of a keypad nobody will use any more."""
        if keypad is not None:
            await self._edit(address, keypad.view(keys=False))

    async def _notice(self, chat_id: int, text: str) -> None:
        """A direct, best-effort answer that is about Telegram itself, not about anyone's safety."""
        try:
            await self.application.bot.send_message(chat_id, text)
        except TelegramError as error:
            log.warning("a telegram notice failed: %s", type(error).__name__)

    def _locale_of(self, user: User | None, address: str | None) -> str:
        """The member's chosen language, else their Telegram language if we have it, else ours."""
        chosen = self._chat_locales.get(address) if address else None
        telegram = supported_locale(_language(user))
        return chosen or telegram or self.default_locale


def _place(message: Message) -> Location | None:
    """A shared location or venue (a venue's name and address as the words with it)."""
    venue = message.venue
    location = venue.location if venue is not None else message.location
    if location is None:
        return None
    label = ", ".join(part for part in (venue.title, venue.address) if part) if venue else ""
    live = bool(location.live_period)
    return point(location.latitude, location.longitude, label, live=live)


def _language(user: User | None) -> str | None:
    """The language the person's Telegram app is set to, when Telegram says."""
    return user.language_code if user else None


async def _answer(query: CallbackQuery, text: str | None = None) -> None:
    """Answer a button press (Telegram shows a spinner until we do); failures are harmless."""
    try:
        await query.answer(text)
    except TelegramError as error:
        log.debug("answering a callback query failed: %s", type(error).__name__)


def _chat_id(address: str) -> int:
    try:
        return int(address)
    except ValueError:
        raise DeliveryError("bad_address", permanent=True) from None


def build_channel(settings: Settings) -> TelegramChannel:
    """The Telegram channel from `[telegram]`; refuses an incomplete webhook setup."""
    config = settings.telegram
    if config.mode == "webhook":
        if not config.webhook_url:
            raise ConfigError(_("[telegram] mode is webhook, so set webhook_url too."))
        if not config.webhook_secret.get_secret_value():
            raise ConfigError(
                _(
                    "[telegram] mode is webhook, so set webhook_secret too (1-256 characters: "
                    "letters, digits, _ and -), the same for every bot process."
                )
            )
    default = settings.jurisdictions[settings.service.default_jurisdiction].locale
    return TelegramChannel(config, default_locale=default)
