"""No reply repeats what a person typed: a refusal says what kind of thing was expected.

A reply is a message at rest: it sits in the outbox (plaintext until `sent_messages`
retention), in the SQLite WAL or the PostgreSQL tables and their dumps, and in the messenger's
chat. A note typed where the time belongs, or an address typed into an admin's question, must
not be copied into any of them. Canary strings go through every slot that can refuse, through
the real conversation; then everything the bot sent, the outbox rows, and the raw database
files (SQLite file, `-wal` and `-shm` copied while open; or every PostgreSQL column) are
searched for them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text

from bot.ratelimit import CommandLimiter, Window
from checkins.admin import show_code
from storage.roles import ADMIN
from tests.chat import Chat, make_chat
from tests.conftest import PIN
from tests.core.test_privacy import encodings, table_contents

# Each slot gets its own canary, so a failure names the path that echoed.
NOTE_AS_TIME = "canary-note-in-the-time-slot"
GUIDED_TIME = "canary 41 Elm Row flat 2"
STOPPED_PLATE, STOPPED_ADDRESS = "CANARYPLATESTOPPED", "canary 9 Stopped Close"
LONG_PLATE = "CANARYLONGPLATE" + "x" * 400
UNKNOWN_COMMAND = "canarycommandzq"
LANGUAGE = "canarylanguagezq"
BUDDY_CODE = "CANARYCODEZQ"
START_CODE = "CANARYSTARTZQ"
FREE_TEXT = "canary free text 7 Mill Lane"
TOO_LONG = "canary-too-long " + "y" * 2100
SETTINGS_PIN, SETTINGS_NEW_PIN = "canarysettingspin", "canarynewpinzq"
UNLOCK_PIN = "canaryunlockpinzq"
PHONE_ALIAS, LONG_ALIAS = "canary 07700 900123", "canaryaliasfarfartoolongtobeanickname"
ONBOARDING_PIN, MISMATCHED_PIN = "canaryonboardpin", "canarymismatchzq"
STEP_TIME, NEW_STEP_TIME = "canary 3 Step Street", "canary 5 New Step Road"
ACK_TIMEOUT = "canary ack timeout Quay"
LANGUAGE_CODE = "canarylangcodezq"
RIGHTS_TOO_LONG = "canary-rights " + "r" * 1800  # sent after 1500 characters
CANARIES = (
    NOTE_AS_TIME,
    GUIDED_TIME,
    STOPPED_PLATE,
    STOPPED_ADDRESS,
    LONG_PLATE[:40],
    UNKNOWN_COMMAND,
    LANGUAGE,
    BUDDY_CODE,
    START_CODE,
    FREE_TEXT,
    TOO_LONG[:40],
    SETTINGS_PIN,
    SETTINGS_NEW_PIN,
    UNLOCK_PIN,
    PHONE_ALIAS,
    LONG_ALIAS,
    ONBOARDING_PIN,
    MISMATCHED_PIN,
    STEP_TIME,
    NEW_STEP_TIME,
    ACK_TIMEOUT,
    LANGUAGE_CODE,
    RIGHTS_TOO_LONG[:40],
)


async def refused(chat: Chat, person: str, line: str, expect: str) -> None:
    """`person` types `line` and gets the refusal `expect` (so the path really was taken)."""
    reply = await chat.send(person, line)
    assert expect in reply, f"{person} typed into the wrong path: {reply!r}"


async def pick(chat: Chat, person: str, label: str, expect: str) -> None:
    reply = await chat.pick(person, label)
    assert expect in reply, reply


async def feed_every_refusal(chat: Chat, snapshot: Callable[[str], None]) -> None:
    """Every refusal a person can meet, each fed its canary, as people really type them."""
    # Faster than anyone types: lift the per-person command limit (tested in test_rate_limits).
    chat.app.conversation.limiter = CommandLimiter((Window(1000, 60.0),))
    for person in ("robin", "sam", "ash"):
        await chat.register(person)
    await chat.pair("robin", "sam")
    snapshot("registered")

    # The outcall form: a note where the time belongs (kept as a note, the time asked for),
    # a bad typed time, a part too long.
    await refused(
        chat,
        "robin",
        f"/outcall {STOPPED_PLATE} | {STOPPED_ADDRESS} | {NOTE_AS_TIME}",
        "How long until you check in",
    )
    await refused(chat, "robin", GUIDED_TIME, "couldn't read")
    await refused(chat, "robin", "/cancel", "Stopped")
    await refused(chat, "robin", f"/outcall {LONG_PLATE} | 1 Main St | 1h", "too long")
    snapshot("outcall form refused")

    # Commands and free text.
    await refused(chat, "robin", f"/{UNKNOWN_COMMAND}", "don't know")
    await refused(chat, "robin", f"/language {LANGUAGE}", "can't speak that language")
    await refused(chat, "robin", f"/accept {BUDDY_CODE}", "doesn't work")
    await refused(chat, "robin", f"/start {START_CODE}", "doesn't work")
    await refused(chat, "robin", FREE_TEXT, "didn't understand")
    await refused(chat, "robin", TOO_LONG, "too long")

    # PINs: a settings change, and unlocking an alert.
    await chat.send("robin", "/settings")
    await pick(chat, "robin", "Change my PIN", "current PIN")
    await refused(chat, "robin", SETTINGS_PIN, "new PIN")
    await refused(chat, "robin", SETTINGS_NEW_PIN, "numbers only")
    await refused(chat, "robin", "739264", "again")
    await refused(chat, "robin", "739264", "Wrong PIN")
    await refused(chat, "robin", "/outcall KX482B | 14 Hollow Lane | 1h", "sealed")
    await refused(chat, "robin", "SOS", "SOS sent")
    await refused(chat, "sam", "UNLOCK", "Send your PIN")
    await refused(chat, "sam", UNLOCK_PIN, "Wrong PIN")
    snapshot("pins refused")

    # Onboarding: a phone number and an over-long nickname, a PIN with letters, a mismatch.
    await refused(chat, "lee", "/start", "Choose your language")
    await refused(chat, "lee", "English", "Where do you work")
    await refused(chat, "lee", "north", "choose a nickname")
    await refused(chat, "lee", PHONE_ALIAS, "phone number")
    await refused(chat, "lee", LONG_ALIAS, "nickname of 1 to")
    await refused(chat, "lee", "Lee", "choose a PIN")
    await refused(chat, "lee", ONBOARDING_PIN, "numbers only")
    await refused(chat, "lee", PIN, "same PIN")
    await refused(chat, "lee", MISMATCHED_PIN, "didn't match")

    # An admin's answers: step times, a duration, a language code, an over-long rights text.
    code = show_code(chat.app.admin.server_invite(ADMIN, "north").code)
    await refused(chat, "ash", f"/accept {code}", "You are now an admin")
    await refused(chat, "ash", "/admin", "Rules for North")
    await pick(chat, "ash", "Step 2", "What do you want to change")
    await pick(chat, "ash", "Change the time", "How late")
    await refused(chat, "ash", STEP_TIME, "Nothing was changed")
    await refused(chat, "ash", "/admin", "Rules for North")
    await pick(chat, "ash", "Add a step", "Who should this step alert")
    await pick(chat, "ash", "alert the on-duty responders", "How late")
    await refused(chat, "ash", NEW_STEP_TIME, "Nothing was changed")
    await refused(chat, "ash", "/admin", "Rules for North")
    await pick(chat, "ash", "Wait after I'm on it", "how long should we wait")
    await refused(chat, "ash", ACK_TIMEOUT, "Nothing was changed")
    await refused(chat, "ash", "/admin", "Rules for North")
    await pick(chat, "ash", "Know-your-rights text", "Which language")
    await pick(chat, "ash", "Another language", "Send its code")
    await refused(chat, "ash", LANGUAGE_CODE, "not a language code")
    await refused(chat, "ash", "/admin", "Rules for North")
    await pick(chat, "ash", "Know-your-rights text", "Which language")
    await pick(chat, "ash", "en", "know-your-rights text")
    await refused(chat, "ash", "Know your rights. " * 80, "Got it")
    await refused(chat, "ash", RIGHTS_TOO_LONG, "the most is")
    snapshot("every refusal")


def assert_no_canary(where: str, blob: bytes) -> None:
    for canary in CANARIES:
        for encoded in encodings(canary):
            assert encoded not in blob, f"{canary!r} was echoed into {where}"
        assert canary.lower().encode() not in blob.lower(), f"{canary!r} was echoed into {where}"


def bot_replies(chat: Chat) -> bytes:
    """Everything the bot sent anyone over the console."""
    return "\n".join(reply for _to, reply in chat.console.transcript).encode()


def outbox_texts(chat: Chat) -> bytes:
    with chat.app.db.transaction() as session:
        return "\n".join(session.scalars(text("SELECT text FROM outbox"))).encode()


async def test_no_refusal_repeats_what_was_typed_in_the_sqlite_files(tmp_path: Path) -> None:
    chat = await make_chat(tmp_path)
    copies: dict[str, bytes] = {}

    def snapshot(stage: str) -> None:
        """The file, its WAL and shared memory as they are now, the process still running."""
        files = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("b.db")}
        assert files.get("b.db-wal") and "b.db-shm" in files, "copy the WAL while it is live"
        copies[stage] = b"".join(files[name] for name in sorted(files))

    try:
        await feed_every_refusal(chat, snapshot)
        assert_no_canary("the outbox", outbox_texts(chat))
    finally:
        chat.app.db.dispose()
    assert_no_canary("the replies", bot_replies(chat))
    assert b"Robin" in copies["registered"]  # aliases are plain text: the scan can see
    for stage, blob in copies.items():
        assert_no_canary(f"the SQLite files ({stage})", blob)


async def test_no_refusal_repeats_what_was_typed_in_postgresql(
    tmp_path: Path, postgres_url: str
) -> None:
    chat = await make_chat(tmp_path, postgres_url)
    dumps: dict[str, bytes] = {}
    try:
        await feed_every_refusal(
            chat, lambda stage: dumps.update({stage: table_contents(chat.app)})
        )
    finally:
        chat.app.db.dispose()
    assert_no_canary("the replies", bot_replies(chat))
    assert b"Robin" in dumps["registered"]  # the dump really reads the tables
    for stage, blob in dumps.items():
        assert_no_canary(f"PostgreSQL ({stage})", blob)
