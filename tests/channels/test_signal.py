"""The Signal channel end to end: the real App and the real signalbot client, over loopback
HTTP and a real websocket to the local signal-cli-rest-api emulator.

Every flow a person can go through on Signal, the cross-channel pairs (a console channel
stands in for the other messenger), and the failures a safety bot must survive. Time is a
shifted wall clock: `skip()` jumps the service's clock forward and wakes the engine, so a
missed check-in does not take real minutes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from signalbot import SendError
from sqlalchemy import func, select, text

from bot.app import App
from bot.channels.base import ChannelLimits, DeliveryError, Outbound
from bot.channels.console import ConsoleChannel
from bot.channels.signal import (
    SignalChannel,
    SignalOptions,
    build_channel,
    classify_recipient_failure,
    classify_rejection,
    classify_send_error,
)
from bot.config import Settings, settings_from
from storage.tables import Envelope, SealedKey
from tests.emulators.signal_api import (
    NO_RECIPIENT_REACHED,
    UNTRUSTED_IDENTITIES,
    SignalApiEmulator,
    SignalUser,
    not_registered,
    unregistered_user,
)

BOT_NUMBER = "+15550000001"
PIN = "482913"
PLATE, ADDRESS = "KX-482-B", "14 Hollow Lane, flat 3"
WAIT = 6.0


class ShiftedClock:
    """The wall clock plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def signal_settings(database_url: str, service: str) -> Settings:
    """Seconds-scale ladder (as in bot.demo), the Signal section pointing at the emulator."""
    data: dict[str, Any] = {
        "service": {"default_jurisdiction": "demo", "min_duration": "5s", "max_duration": "4h"},
        "database": {"url": database_url},
        "crypto": {"kdf": "insecure-fast"},
        "security": {"unlocked_details_visible": "1s"},
        "outbox": {"max_backoff": "1s"},
        "signal": {
            "service": service,
            "phone_number": BOT_NUMBER,
            "connection_mode": "http",
            "disappearing_timer": "1h",
            "send_timeout": "3s",
        },
        "jurisdictions": {
            "demo": {
                "legal_model": "criminalised",
                "timezone": "UTC",
                "reminder_before": "1m",
                "ack_timeout": "30s",
                "ladder": [
                    {"after": "0s", "notify": "worker"},
                    {"after": "10s", "notify": "buddies"},
                ],
            }
        },
    }
    return settings_from(data, "signal test settings")


@dataclass
class Stack:
    """The running App with a Signal and a console channel, and handles to drive them."""

    api: SignalApiEmulator
    app: App
    signal: SignalChannel
    console: ConsoleChannel
    clock: ShiftedClock
    database: Path
    people: dict[str, SignalUser] = field(default_factory=dict)

    def user(self, name: str, number: str | None = None) -> SignalUser:
        person = self.api.user(name=name.title(), number=number)
        self.people[name] = person
        return person

    def skip(self, seconds: float) -> None:
        """Move the service's clock forward and wake the engine at once."""
        self.clock.offset += timedelta(seconds=seconds)
        self.app.poke()

    async def console_says(self, person: str, line: str) -> None:
        await self.console.feed(person, line)

    async def console_wait(self, person: str, pattern: str, since: int = 0) -> str:
        """Wait (bounded) for a console message to `person` matching `pattern`."""
        async with asyncio.timeout(WAIT):
            while True:
                for address, message in self.console.transcript[since:]:
                    if address == person and re.search(pattern, message):
                        return message
                await asyncio.sleep(0.05)

    def sealed_rows(self) -> int:
        with self.app.db.transaction() as session:
            envelopes = session.scalar(select(func.count()).select_from(Envelope)) or 0
            keys = session.scalar(select(func.count()).select_from(SealedKey)) or 0
        return envelopes + keys

    def stored_addresses(self) -> set[str]:
        with self.app.db.transaction() as session:
            rows = session.execute(text("SELECT address FROM members"))
            return {row[0] for row in rows}


@pytest.fixture
async def api() -> AsyncIterator[SignalApiEmulator]:
    """The emulator; the test fails if the adapter called a route the server lacks."""
    async with SignalApiEmulator(number=BOT_NUMBER) as emulator:
        yield emulator
        assert emulator.unhandled == []


def fast(channel: SignalChannel) -> SignalChannel:
    """The configured channel with test-speed supervision timings."""
    options = dataclasses.replace(
        channel.options, watch_interval=0.1, restart_delay=0.2, slow_start_after=0.5
    )
    return SignalChannel(options)


@pytest.fixture
async def stack(api: SignalApiEmulator, tmp_path: Path) -> AsyncIterator[Stack]:
    """The real App on a tmp SQLite file, with Signal (emulator) and console channels."""
    database = tmp_path / "buddycheck.db"
    settings = signal_settings(f"sqlite:///{database}", api.service)
    signal = fast(build_channel(settings))
    signal.limits = ChannelLimits(per_second=100.0, per_chat_interval=0.0)  # tests are quick
    console = ConsoleChannel(printer=lambda _line: None)
    clock = ShiftedClock()
    channels = {"signal": signal, "console": console}
    app = App(settings, secrets.token_bytes(32), channels, clock=clock)
    await app.start()
    await api.wait_connected(timeout=WAIT)
    yield Stack(api, app, signal, console, clock, database)
    await app.stop()


# -- helpers: what people do -------------------------------------------------------------


async def ask(person: SignalUser, line: str, expect: str) -> str:
    """`person` sends `line` and waits (bounded) for a reply containing `expect`."""
    await person.send_text(line)
    return (await person.wait_for_message(expect, timeout=WAIT)).text


async def onboard(person: SignalUser, alias: str) -> None:
    await ask(person, "/start", "Choose your language")
    await ask(person, "English", "choose a nickname")
    await ask(person, alias, "PIN")
    await ask(person, PIN, "same PIN")
    await ask(person, PIN, "Welcome")


async def onboard_console(stack: Stack, person: str) -> None:
    for line in ("/start", "English", person.title(), PIN, PIN):
        await stack.console_says(person, line)
    await stack.console_wait(person, "Welcome")


def invite_code(message: str) -> str:
    found = re.search(r"[0-9A-Z]{4}-[0-9A-Z]{4}", message)
    assert found is not None, message
    return found[0]


async def pair_on_signal(worker: SignalUser, buddy: SignalUser) -> None:
    code = invite_code(await ask(worker, "/invite", "buddy code"))
    await ask(buddy, f"/accept {code}", "buddy")
    await worker.wait_for_message("is now your buddy", timeout=WAIT)


async def pair_console_worker(stack: Stack, buddy: SignalUser) -> int:
    """Robin registers on the console and takes `buddy` (on Signal) as a buddy. Returns the
    console transcript position from before the pairing, to wait for later replies from."""
    await onboard_console(stack, "robin")
    mark = len(stack.console.transcript)
    await stack.console_says("robin", "/invite")
    code = invite_code(await stack.console_wait("robin", "buddy code", mark))
    await ask(buddy, f"/accept {code}", "You are now Robin's buddy")
    return mark


async def start_outcall(worker: SignalUser, due: str = "1h") -> str:
    return await ask(worker, f"/outcall {PLATE} | {ADDRESS} | {due}", "Saved and sealed")


async def miss_check_in(stack: Stack, worker: SignalUser) -> None:
    """Let the deadline pass: the worker is reminded, then the buddies' stage comes due."""
    stack.skip(3600 + 1)
    await worker.wait_for_message("has passed", timeout=WAIT)
    stack.skip(11)


# -- onboarding and pairing --------------------------------------------------------------


async def test_onboarding_sets_disappearing_timer_before_the_first_pin(stack: Stack) -> None:
    """/start → nickname → PIN by message; the chat timer is set once, and explained once."""
    robin = stack.user("robin", number="+14155550123")

    await ask(robin, "/start", "Choose your language")

    await ask(robin, "English", "choose a nickname")
    prompt = await ask(robin, "Robin", "PIN")
    assert "disappearing messages in this chat (60 minutes)" in prompt
    assert stack.api.contacts == {robin.uuid: {"expiration_in_seconds": 3600}}
    calls = stack.api.calls
    timer_at = next(i for i, c in enumerate(calls) if c.method == "PUT")
    prompt_at = next(i for i, c in enumerate(calls) if "disappearing" in str(c.json))
    assert timer_at < prompt_at  # the timer covers the prompt and the PIN sent in reply
    again = await ask(robin, PIN, "same PIN")
    assert "disappearing" not in again
    await ask(robin, PIN, "Welcome, Robin")

    assert len(stack.api.calls_to("PUT", f"/v1/contacts/{BOT_NUMBER}")) == 1
    assert stack.stored_addresses() == {robin.uuid}
    assert b"4155550123" not in stack.database.read_bytes()
    assert all(m.recipients == (robin.uuid,) for m in robin.messages())


async def test_a_newcomer_who_chooses_spanish_is_offered_the_next_choices_in_spanish(
    stack: Stack,
) -> None:
    """Language comes first at /start; a newcomer has no account yet, but the numbered
    choices under the very next question are already in the language they chose."""
    ana = stack.user("ana")
    asked = await ask(ana, "/start", "Choose your language")

    nickname = await ask(ana, numbered(asked, "Español"), "elige un apodo")

    assert "Responde 1 para Atrás, 2 para Parar." in nickname
    assert "Reply" not in nickname
    pin = await ask(ana, "Ana", "PIN")
    assert "Activé los mensajes temporales en este chat" in pin  # the adapter's notice too


async def test_invite_and_accept_on_signal(stack: Stack) -> None:
    robin, sam = stack.user("robin"), stack.user("sam")
    await onboard(robin, "Robin")
    await onboard(sam, "Sam")

    await pair_on_signal(robin, sam)

    buddies = await ask(robin, "/buddies", "Sam is your buddy")
    assert "Reply 1 for Remove Sam." in buddies
    asked = await ask(robin, "1", "Remove Sam? Alerts between you stop at once.")  # only asks
    assert "Reply 1 for No, keep Sam, 2 for Yes, remove Sam." in asked  # a second 1 keeps
    await ask(robin, "2", "no longer buddies")


async def test_unregistered_person_and_unknown_input_get_an_answer(stack: Stack) -> None:
    """Nothing typed is silently dropped, even before /start or for an attachment: a
    stranger's first message begins registering."""
    stranger = stack.user("stranger")
    await ask(stranger, "hello?", "Choose your language")
    robin = stack.user("robin")
    await onboard(robin, "Robin")
    unknown = await ask(robin, "what is this", "didn't understand")
    assert "What you can send now:" in unknown and "/settings" not in unknown


# -- outcalls, keywords, numbered replies ----------------------------------------------


async def test_one_message_outcall_then_numbered_safe(stack: Stack) -> None:
    robin, sam = stack.user("robin"), stack.user("sam")
    await onboard(robin, "Robin")
    await onboard(sam, "Sam")
    await pair_on_signal(robin, sam)

    sealed = await start_outcall(robin)
    assert "For your outcall, reply 11 for I'm safe ✅, 12 for +30 min, 13 for SOS 🆘." in sealed
    assert stack.sealed_rows() == 2

    await ask(robin, "11", "Glad you're safe")
    assert stack.sealed_rows() == 0
    assert not any("missed" in m.text for m in sam.messages())


async def test_guided_outcall_with_numbered_choices(stack: Stack) -> None:
    robin, sam = stack.user("robin"), stack.user("sam")
    await onboard(robin, "Robin")
    await onboard(sam, "Sam")
    await pair_on_signal(robin, sam)

    await ask(robin, "/outcall", "car plate")
    await ask(robin, PLATE, "address")
    notes = await ask(robin, ADDRESS, "Anything else")
    assert "Reply 1 for Skip, 2 for Back, 3 for Stop." in notes
    due = await ask(robin, "1", "How long")
    assert "Reply 1 for 30 min, 2 for 1 hour, 3 for 2 hours, 4 for Back, 5 for Stop." in due
    await ask(robin, "2", "Saved and sealed")
    await ask(robin, "/status", "Your outcall is running")


async def test_a_worker_who_mistypes_her_checkin_pin_types_it_again_and_is_checked_in(
    stack: Stack,
) -> None:
    """Robin's hands shake and her first check-in PIN is wrong. The question stays open, so
    her next message, the right PIN, checks her in: no "didn't understand", no command list,
    no starting again."""
    robin, sam = stack.user("robin"), stack.user("sam")
    await onboard(robin, "Robin")
    await onboard(sam, "Sam")
    await pair_on_signal(robin, sam)
    await ask(robin, "/settings", "What do you want to change")
    await ask(robin, "1", "Send your current PIN")
    await ask(robin, PIN, "I'll ask for your PIN")
    await start_outcall(robin)

    await ask(robin, "SAFE", "Send your PIN to check in")
    again = await ask(robin, "902137", "Wrong PIN")
    assert "tries left" in again and "Send your PIN to check in" in again
    safe = await ask(robin, PIN, "Glad you're safe")
    assert "didn't understand" not in safe and "What you can send" not in safe
    await ask(robin, "/status", "No outcall is running")


@pytest.mark.parametrize(
    ("safe", "extend"), [("safe", "+30"), ("SaFe!", "+30"), ("I'M SAFE", "+30")]
)
async def test_keywords_in_any_case(stack: Stack, safe: str, extend: str) -> None:
    robin, sam = stack.user("robin"), stack.user("sam")
    await onboard(robin, "Robin")
    await onboard(sam, "Sam")
    await pair_on_signal(robin, sam)
    await start_outcall(robin)

    await ask(robin, extend, "Check in by")
    await ask(robin, safe, "Glad you're safe")


async def test_sos_keyword_alerts_a_buddy_now(stack: Stack) -> None:
    robin, sam = stack.user("robin"), stack.user("sam")
    await onboard(robin, "Robin")
    await onboard(sam, "Sam")
    await pair_on_signal(robin, sam)
    await start_outcall(robin)

    await ask(robin, "sos", "SOS sent")
    alert = await sam.wait_for_message("pressed SOS", timeout=WAIT)
    assert (
        "For this alert, reply 21 for Unlock details 🔓, 22 for I'm on it 🙋, "
        "23 for Robin is safe 💚." in alert.text
    )


async def test_a_worker_alerted_about_her_buddy_still_gets_her_own_sos_from_her_number(
    stack: Stack,
) -> None:
    """Robin's own outcall runs when her buddy Lu's alert arrives. Today's collision: her 3
    (SOS) had become "Lu is safe". Now each has its own numbers, named in the message."""
    robin, lu = stack.user("robin"), stack.user("lu")
    await onboard(robin, "Robin")
    await onboard(lu, "Lu")
    await pair_on_signal(lu, robin)  # Robin is Lu's buddy
    await pair_on_signal(robin, lu)  # and Lu is Robin's
    await ask(lu, f"/outcall {PLATE} | {ADDRESS} | 30m", "Saved and sealed")
    await ask(robin, f"/outcall {PLATE} | {ADDRESS} | 2h", "13 for SOS")
    stack.skip(1800 + 11 * 60)
    alert = await robin.wait_for_message("Lu missed their check-in", timeout=WAIT)
    assert "For this alert, reply 21 for Unlock details 🔓" in alert.text
    assert "23 for Lu is safe 💚" in alert.text and "tap" not in alert.text.lower()

    await ask(robin, "13", "SOS sent")  # her own SOS, as her outcall's message said
    await lu.wait_for_message("Robin pressed SOS", timeout=WAIT)
    await ask(robin, "23", "Are you sure Lu is safe?")  # Lu's alert: asks, closes nothing
    assert not any("confirmed you are safe" in m.text for m in lu.messages())


async def test_reminder_before_due_then_overdue(stack: Stack) -> None:
    robin, sam = stack.user("robin"), stack.user("sam")
    await onboard(robin, "Robin")
    await onboard(sam, "Sam")
    await pair_on_signal(robin, sam)
    await start_outcall(robin)

    stack.skip(3600 - 30)
    await robin.wait_for_message("Your check-in is due at", timeout=WAIT)
    stack.skip(31)
    overdue = await robin.wait_for_message("has passed", timeout=WAIT)
    assert "For your outcall, reply 11 for I'm safe" in overdue.text
    await ask(robin, "11", "Glad you're safe")


# -- the full scenario -------------------------------------------------------------------


async def test_full_scenario_over_signal(stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    """Onboard, pair, outcall, miss, alert, unlock, I'm on it, safe — all on Signal."""
    caplog.set_level(logging.DEBUG)
    robin = stack.user("robin", number="+14155550123")
    sam = stack.user("sam", number="+14155550124")
    kit = stack.user("kit", number="+14155550125")
    for person in (robin, sam, kit):
        await onboard(person, person.name)
    await pair_on_signal(robin, sam)
    await pair_on_signal(robin, kit)
    await start_outcall(robin)

    await miss_check_in(stack, robin)
    await sam.wait_for_message("Robin missed their check-in", timeout=WAIT)
    await kit.wait_for_message("Robin missed their check-in", timeout=WAIT)

    await ask(sam, "21", "Send your PIN")
    await sam.send_text(PIN)
    details = await sam.wait_for_message(PLATE, timeout=WAIT)
    assert ADDRESS in details.text
    deleted = await stack.api.wait_until(
        lambda: stack.api.calls_to("DELETE", f"/v1/remote-delete/{BOT_NUMBER}"), timeout=WAIT
    )
    assert deleted[0].json == {"recipient": sam.uuid, "timestamp": details.timestamp}

    await ask(sam, "ON IT", "You are handling")
    await kit.wait_for_message("Sam is handling Robin's alert", timeout=WAIT)
    asked = await ask(sam, "SAFE", "Are you sure Robin is safe?")
    assert "For this alert, reply 24 for Yes — I spoke to Robin, they are safe." in asked
    await ask(sam, "24", "confirmed Robin is safe")
    await robin.wait_for_message("Sam confirmed you are safe", timeout=WAIT)
    await kit.wait_for_message("Sam confirmed Robin is safe", timeout=WAIT)

    assert stack.sealed_rows() == 0
    assert stack.stored_addresses() == {robin.uuid, sam.uuid, kit.uuid}
    assert b"415555012" not in stack.database.read_bytes()
    secrets_and_ids = (PLATE, ADDRESS, PIN, "415555012", robin.uuid, sam.uuid, kit.uuid)
    leaks = [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.INFO and any(s in r.getMessage() for s in secrets_and_ids)
    ]
    assert leaks == []


async def test_wrong_pin_on_unlock_shows_nothing(stack: Stack) -> None:
    robin, sam = stack.user("robin"), stack.user("sam")
    await onboard(robin, "Robin")
    await onboard(sam, "Sam")
    await pair_on_signal(robin, sam)
    await start_outcall(robin)
    await miss_check_in(stack, robin)
    await sam.wait_for_message("missed their check-in", timeout=WAIT)

    await ask(sam, "Unlock", "Send your PIN")
    await ask(sam, "999999", "PIN")
    assert not any(PLATE in m.text for m in sam.messages())
    await ask(sam, "uNlOcK", "Send your PIN")
    await ask(sam, PIN, PLATE)


def numbered(message: str, label: str) -> str:
    """The number a Signal message offers for the choice `label`."""
    found = re.search(rf"(\d+) for {re.escape(label)}", message)
    assert found is not None, message
    return found[1]


async def test_an_alert_says_what_to_do_and_the_handler_messages_the_worker_through_the_bot(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    robin = stack.user("robin", number="+14155550133")
    sam = stack.user("sam", number="+14155550134")
    await onboard(robin, "Robin")
    await onboard(sam, "Sam")
    await pair_on_signal(robin, sam)
    await start_outcall(robin)
    await miss_check_in(stack, robin)
    alert = await sam.wait_for_message("Robin missed their check-in", timeout=WAIT)
    assert "What to do:\n• Call or message Robin now" in alert.text

    taken = await ask(sam, "ON IT", "You are handling")
    await ask(sam, numbered(taken, "💬 Message Robin through the bot"), "Write your message")
    question, answer = "Where are you? I can come", "Fine, leaving now"
    await ask(sam, question, "Sent to Robin")
    relayed = (await robin.wait_for_message("writes through the bot", timeout=WAIT)).text
    assert question in relayed
    await ask(robin, numbered(relayed, "💬 Message Sam through the bot"), "Write your message")
    await ask(robin, answer, "Sent to Sam")
    back = (await sam.wait_for_message("Robin answers through the bot", timeout=WAIT)).text
    assert answer in back

    for person, reader in ((sam, relayed), (robin, back)):  # no one's number or account shows
        assert not any(address in reader for address in person.addresses)
    kept = stack.database.read_bytes() + stack.database.with_name("buddycheck.db-wal").read_bytes()
    assert question.encode() not in kept and answer.encode() not in kept
    logged = [r.getMessage() for r in caplog.records]
    assert not any(question in line or answer in line for line in logged)


async def test_a_place_shared_from_signal_is_the_address_and_unlocks_as_a_map_link(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    """Robin shares where she is from Signal's attach menu instead of typing the address:
    the text with its map links (and the map picture) becomes the sealed address, and Sam,
    alerted, reads it as an OpenStreetMap link. The coordinates are nowhere else."""
    caplog.set_level(logging.DEBUG)
    robin, sam = stack.user("robin"), stack.user("sam")
    await onboard(robin, "Robin")
    await onboard(sam, "Sam")
    await pair_on_signal(robin, sam)
    await ask(robin, "/outcall", "car plate")
    await ask(robin, PLATE, "Or share your location instead")
    await robin.send_location(51.501364, -0.14189, "Hotel Rex", "12 Long Street")
    await robin.wait_for_message("Got your location", timeout=WAIT)
    await robin.wait_for_message("Anything else", timeout=WAIT)
    await ask(robin, "white van", "How long")
    await ask(robin, "1h", "Saved and sealed")
    assert not any("51.50" in m.text for m in robin.messages())
    await ask(robin, "SOS", "SOS sent")
    await sam.wait_for_message("Robin", timeout=WAIT)
    await ask(sam, "Unlock", "Send your PIN")
    await sam.send_text(PIN)
    details = (await sam.wait_for_message(PLATE, timeout=WAIT)).text
    assert "Address: Hotel Rex, 12 Long Street" in details
    assert (
        "Shared location: https://www.openstreetmap.org/?mlat=51.501364&mlon=-0.141890"
        "#map=18/51.501364/-0.141890"
    ) in details
    assert "google" not in details.lower()
    assert b"51.501364" not in stack.database.read_bytes()
    assert "51.501364" not in caplog.text and "0.14189" not in caplog.text


# -- cross-channel pairs -----------------------------------------------------------------


async def test_signal_worker_with_console_buddy(stack: Stack) -> None:
    robin = stack.user("robin")
    await onboard(robin, "Robin")
    await onboard_console(stack, "sam")
    code = invite_code(await ask(robin, "/invite", "buddy code"))
    await stack.console_says("sam", f"/accept {code}")
    await stack.console_wait("sam", "You are now Robin's buddy")
    await robin.wait_for_message("Sam is now your buddy", timeout=WAIT)
    await start_outcall(robin)

    mark = len(stack.console.transcript)
    await miss_check_in(stack, robin)
    await stack.console_wait("sam", "Robin missed their check-in", mark)
    await stack.console_says("sam", "21")
    await stack.console_wait("sam", "Send your PIN", mark)
    await stack.console_says("sam", PIN)
    await stack.console_wait("sam", re.escape(PLATE), mark)
    await stack.console_says("sam", "ON IT")
    await stack.console_says("sam", "SAFE")
    await stack.console_wait("sam", "Are you sure Robin is safe", mark)
    await stack.console_says("sam", "24")
    await robin.wait_for_message("Sam confirmed you are safe", timeout=WAIT)


async def test_console_worker_with_signal_buddy(stack: Stack) -> None:
    sam = stack.user("sam")
    await onboard(sam, "Sam")
    mark = await pair_console_worker(stack, sam)
    await stack.console_says("robin", f"/outcall {PLATE} | {ADDRESS} | 1h")
    await stack.console_wait("robin", "Saved and sealed", mark)

    stack.skip(3601)
    await stack.console_wait("robin", "has passed", mark)
    stack.skip(11)
    await sam.wait_for_message("Robin missed their check-in", timeout=WAIT)
    await ask(sam, "21", "Send your PIN")
    await ask(sam, PIN, PLATE)
    await ask(sam, "on it", "You are handling")
    await ask(sam, "safe", "Are you sure Robin is safe?")
    await ask(sam, "24", "confirmed Robin is safe")
    await stack.console_wait("robin", "Sam confirmed you are safe", mark)


# -- delivery failures -------------------------------------------------------------------


def leave_signal(api: SignalApiEmulator, person: SignalUser, how: str) -> None:
    """Make sends to `person` fail the ways signal-cli-rest-api reports someone not on Signal."""
    if how == "unregistered_user":
        api.unregister(person.uuid)
    elif how == "not_registered":
        api.fail_sends_to(person.uuid, not_registered(person.uuid))
    else:
        api.report_undelivered(person.uuid, "UNREGISTERED_FAILURE")


@pytest.mark.parametrize("how", ["unregistered_user", "not_registered", "201_unregistered"])
async def test_unregistered_buddy_worker_told_and_other_buddy_alerted(
    stack: Stack, how: str
) -> None:
    """The server says the buddy is not on Signal (a 400 saying so, or a 201 listing them as
    UNREGISTERED_FAILURE): permanent, so the worker is told and the console buddy alerted."""
    robin, sam = stack.user("robin"), stack.user("sam")
    await onboard(robin, "Robin")
    await onboard(sam, "Sam")
    await onboard_console(stack, "kit")
    await pair_on_signal(robin, sam)
    code = invite_code(await ask(robin, "/invite", "buddy code"))
    await stack.console_says("kit", f"/accept {code}")
    await start_outcall(robin)
    leave_signal(stack.api, sam, how)

    mark = len(stack.console.transcript)
    await miss_check_in(stack, robin)
    await stack.console_wait("kit", "Robin missed their check-in", mark)
    await robin.wait_for_message("couldn't reach Sam", timeout=WAIT)
    tried = [m for m in stack.api.sent if m.recipients == (sam.uuid,) and not m.delivered_to]
    assert len(tried) == 1  # permanent: not retried
    assert not any("missed" in m.text for m in sam.messages())


async def test_transient_400_alert_is_retried_and_reaches_the_buddy(stack: Stack) -> None:
    """signal-cli-rest-api's 400 "Failed to send message" (a network failure on the way to
    Signal) is retried: the buddy gets the alert and the worker hears of no failure."""
    robin, sam = stack.user("robin"), stack.user("sam")
    await onboard(robin, "Robin")
    await onboard(sam, "Sam")
    await pair_on_signal(robin, sam)
    await start_outcall(robin)
    stack.api.fail_sends_to(sam.uuid, NO_RECIPIENT_REACHED, count=2)

    await miss_check_in(stack, robin)
    await sam.wait_for_message("Robin missed their check-in", timeout=WAIT)

    statuses = [m.status for m in stack.api.sent if m.recipients == (sam.uuid,)]
    assert statuses[-3:] == [400, 400, 201]
    assert not any("couldn't reach" in m.text for m in robin.messages())


async def test_an_alert_that_keeps_failing_tells_the_worker_and_keeps_trying(
    stack: Stack,
) -> None:
    """signal-cli in json-rpc mode says only "Failed to send message" for a recipient who
    left Signal, the same words as a network failure. After a few failures in a row the
    worker hears their alert is not getting through (and, with nobody reachable, the next
    stage would run); the alert is still retried and arrives once the failures stop."""
    robin, sam = stack.user("robin"), stack.user("sam")
    await onboard(robin, "Robin")
    await onboard(sam, "Sam")
    await pair_on_signal(robin, sam)
    await start_outcall(robin)
    stack.api.fail_sends_to(sam.uuid, NO_RECIPIENT_REACHED, count=6)

    await miss_check_in(stack, robin)
    told = await robin.wait_for_message("not getting through to Sam", timeout=WAIT)
    assert "We keep trying" in told.text
    await sam.wait_for_message("Robin missed their check-in", timeout=WAIT)
    statuses = [m.status for m in stack.api.sent if m.recipients == (sam.uuid,)]
    assert statuses[-7:] == [400] * 6 + [201]
    assert sum("not getting through" in m.text for m in robin.messages()) == 1


@pytest.mark.parametrize("status", [500, 429, 503])
async def test_transient_send_failure_is_retried_then_delivered(stack: Stack, status: int) -> None:
    robin = stack.user("robin")
    await onboard(robin, "Robin")
    stack.api.fail_next_send(status=status, count=2)

    await ask(robin, "/help", "What you can send")

    statuses = [m.status for m in stack.api.sent if m.recipients == (robin.uuid,)]
    assert statuses[-3:] == [status, status, 201]


async def test_server_down_at_send_time_alert_is_retried(stack: Stack) -> None:
    """signal-cli-rest-api restarting (503s, websocket cut) when an SOS alert goes out."""
    sam = stack.user("sam")
    await onboard(sam, "Sam")
    await pair_console_worker(stack, sam)

    stack.api.set_down(True)
    await stack.console_says("robin", "SOS")
    await stack.api.wait_until(
        lambda: [m for m in stack.api.calls_to("POST", "/v2/send") if m.status == 503],
        timeout=WAIT,
    )
    stack.api.set_down(False)

    await sam.wait_for_message("Robin pressed SOS", timeout=WAIT)
    await stack.api.wait_connected(count=2, timeout=WAIT)


async def test_dropped_websocket_reconnects_and_receives(stack: Stack) -> None:
    robin = stack.user("robin")
    await onboard(robin, "Robin")

    await stack.api.drop_websocket()
    await stack.api.wait_connected(count=2, timeout=WAIT)

    await ask(robin, "/help", "What you can send")
    assert stack.signal.receive_restarts == 0  # signalbot's own retry handled this one


@pytest.mark.parametrize("code", [1000, 1001])
async def test_clean_close_the_adapter_restarts_receiving(
    stack: Stack, caplog: pytest.LogCaptureFixture, code: int
) -> None:
    """signalbot alone would never receive again (see tests/emulators); the adapter does."""
    robin = stack.user("robin")
    await onboard(robin, "Robin")

    await stack.api.close_websocket_cleanly(code)
    await stack.api.wait_connected(count=2, timeout=WAIT)

    await ask(robin, "/help", "What you can send")
    assert stack.signal.receive_restarts == 1
    assert stack.signal.receive_state() == "receiving" and stack.signal.receive_restarts == 1
    assert any("receiving stopped" in r.getMessage() for r in caplog.records)


# -- start-up problems, deletion, classification -----------------------------------------


async def start_alone(api: SignalApiEmulator) -> SignalChannel:
    options = SignalOptions(
        api.service, BOT_NUMBER, watch_interval=0.1, slow_start_after=0.3, restart_delay=0.2
    )
    channel = SignalChannel(dataclasses.replace(options, connection_mode=_http()))

    async def ignore(_event: object) -> None:
        return None

    await channel.start(ignore)
    return channel


def _http() -> Any:
    from signalbot import ConnectionMode

    return ConnectionMode.HTTP_ONLY


@pytest.mark.parametrize(
    ("version", "mode", "explained"),
    [("0.95", "json-rpc", "at least 0.101.0"), ("0.101", "normal", "set MODE=json-rpc")],
)
async def test_start_up_hang_is_explained_in_the_log(
    api: SignalApiEmulator,
    caplog: pytest.LogCaptureFixture,
    version: str,
    mode: str,
    explained: str,
) -> None:
    api.version, api.mode = version, mode
    channel = await start_alone(api)
    try:
        async with asyncio.timeout(WAIT):
            while not any(explained in r.getMessage() for r in caplog.records):
                await asyncio.sleep(0.05)
        assert channel.receive_state() == "starting"
        assert api.websocket_connects == 0
    finally:
        await channel.stop()


async def test_delete_of_a_persons_message_is_refused_and_sends_need_no_start(
    api: SignalApiEmulator,
) -> None:
    channel = await start_alone(api)
    try:
        await api.wait_connected(timeout=WAIT)
        assert await channel.delete("6f1d2b3c-4a5e-4f60-8a7b-9c0d1e2f3a4b", "1") is False
        with pytest.raises(DeliveryError) as raised:
            await channel.send(Outbound("signal", "not-an-address", "hi"))
        assert raised.value.permanent and raised.value.reason == "unknown_recipient"
    finally:
        await channel.stop()


async def test_stop_deletes_pending_details_at_once(api: SignalApiEmulator) -> None:
    channel = await start_alone(api)
    alice = api.user(name="Alice")
    await api.wait_connected(timeout=WAIT)
    await channel.send(Outbound("signal", alice.uuid, "details", delete_after_seconds=600))

    await channel.stop()

    deleted = api.calls_to("DELETE", f"/v1/remote-delete/{BOT_NUMBER}")
    assert [call.json["recipient"] for call in deleted] == [alice.uuid]


@pytest.mark.parametrize(
    ("status", "error", "reason", "permanent"),
    [
        (400, unregistered_user("6f1d2b3c-4a5e-4f60-8a7b-9c0d1e2f3a4b"), "unknown_recipient", True),
        (400, not_registered("+14155550123"), "unknown_recipient", True),
        (400, "Failed to send message: Unregistered user: +14155550123", "unknown_recipient", True),
        (400, UNTRUSTED_IDENTITIES, "untrusted_identity", True),
        (400, NO_RECIPIENT_REACHED, "http_400", False),
        (400, "Failed to send message: timeout (SocketTimeoutException)", "http_400", False),
        (400, "User +15550000001 is not registered.\n", "http_400", False),  # the bot's own
        (400, "Number not registered with JSON-RPC", "http_400", False),
        (400, "", "http_400", False),
        (404, "", "http_404", False),
        (401, "", "http_401", False),
        (500, "Internal Server Error", "server_error", False),
        (503, "", "server_error", False),
    ],
)
def test_rejections_are_classified_by_what_the_server_says(
    status: int, error: str, reason: str, permanent: bool
) -> None:
    classified = classify_rejection(status, error)
    assert (classified.reason, classified.permanent) == (reason, permanent)


def test_rate_limit_keeps_the_servers_wait() -> None:
    classified = classify_rejection(429, "Failed to send message due to rate limiting", 7.0)
    assert (classified.reason, classified.permanent, classified.retry_after) == (
        "rate_limited",
        False,
        7.0,
    )


@pytest.mark.parametrize(
    ("listed", "reason", "permanent"),
    [
        ("UNREGISTERED_FAILURE", "unknown_recipient", True),
        ("IDENTITY_FAILURE", "untrusted_identity", True),
        ("NETWORK_FAILURE", "recipient_failure", False),
        ("RATE_LIMIT_FAILURE", "rate_limited", False),
        ("PROOF_REQUIRED_FAILURE", "recipient_failure", False),
        ("INVALID_PRE_KEY_FAILURE", "recipient_failure", False),
        ("", "recipient_failure", False),
    ],
)
def test_recipients_listed_in_a_201_are_classified_by_type(
    listed: str, reason: str, permanent: bool
) -> None:
    classified = classify_recipient_failure(listed)
    assert (classified.reason, classified.permanent) == (reason, permanent)


def test_a_dropped_connection_is_transient() -> None:
    error = SendError("ClientConnectionError")
    error.__cause__ = aiohttp.ClientConnectionError("connection reset")
    classified = classify_send_error(error)
    assert (classified.reason, classified.permanent) == ("network", False)


async def test_the_server_error_text_is_kept_out_of_logs_and_messages(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    """The body of a rejection names the recipient: it decides, but is never logged."""
    robin = stack.user("robin")
    await onboard(robin, "Robin")
    stack.api.fail_sends_to(robin.uuid, not_registered(robin.uuid), count=1)

    with pytest.raises(DeliveryError) as raised:
        await stack.signal.send(Outbound("signal", robin.uuid, "hello"))

    assert raised.value.permanent
    assert robin.uuid not in str(raised.value)
    assert robin.uuid not in caplog.text


async def test_edited_message_is_not_reread_and_person_asked_to_resend(stack: Stack) -> None:
    robin = stack.user("robin")
    await onboard(robin, "Robin")
    sent_at = await robin.send_text("/help")
    await robin.wait_for_message("What you can send", timeout=WAIT)

    timestamp = stack.api.next_timestamp()
    edited = {"timestamp": timestamp, "message": "SOS", "expiresInSeconds": 0, "viewOnce": False}
    frame = robin._envelope(timestamp, {})
    del frame["envelope"]["dataMessage"]
    frame["envelope"]["editMessage"] = {"targetSentTimestamp": sent_at, "dataMessage": edited}
    assert await stack.api.push(frame)

    await robin.wait_for_message("send it again as a new message", timeout=WAIT)
    assert not any("SOS sent" in m.text for m in robin.messages())


async def test_messages_from_the_bots_own_account_and_groups_are_ignored(stack: Stack) -> None:
    own = stack.api.user(name="Bot's phone", number=BOT_NUMBER)
    group_member = stack.user("sam")
    group_id = stack.api.add_group("Buddies", [group_member.uuid])
    await own.send_text("/start")
    timestamp = stack.api.next_timestamp()
    group = {"groupId": group_id, "groupName": "Buddies", "revision": 1, "type": "DELIVER"}
    message = {"timestamp": timestamp, "message": "/start", "groupInfo": group}
    assert await stack.api.push(group_member._envelope(timestamp, message))
    robin = stack.user("robin")

    await ask(robin, "/start", "Choose your language")  # the bot listens, and answered only this

    assert [m.recipients for m in stack.api.sent] == [(robin.uuid,)]
