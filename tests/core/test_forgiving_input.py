"""Forgiving input: an outcall typed as the lines of one message on a cracked phone, a shared
location instead of the address, and the small refusals that used to punish a mistake."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import nacl.utils
import pytest
from nacl.public import PrivateKey, SealedBox
from nacl.secret import SecretBox

from bot.channels.base import Inbound
from checkins.messages import Identity
from checkins.sealing import Details, Sealer
from tests.chat import Chat
from tests.conftest import PIN

# Where Robin is, as Signal Android shares a place: its name and address, then the links.
LATITUDE, LONGITUDE = "51.501364", "-0.141890"
SHARED_PLACE = (
    "Hotel Rex\n"
    "12 Long Street\n"
    "\n"
    f"OpenStreetMap: https://www.openstreetmap.org/?mlat={LATITUDE}&mlon={LONGITUDE}&zoom=16\n"
    "\n"
    f"Google Maps: https://maps.google.com/maps?q={LATITUDE}%2C{LONGITUDE}"
)
MAP_LINK = (
    f"https://www.openstreetmap.org/?mlat={LATITUDE}&mlon={LONGITUDE}#map=18/{LATITUDE}/{LONGITUDE}"
)


async def robin_with_buddy_sam(chat: Chat) -> None:
    for person in ("robin", "sam"):
        await chat.register(person)
    await chat.pair("robin", "sam")


async def sam_unlocks_after_robin_misses(chat: Chat) -> str:
    """Robin doesn't check in; Sam, alerted, unlocks: the details as Sam reads them."""
    chat.clock.advance(hours=3)
    chat.app.engine.tick()
    await chat.app.dispatcher.drain()
    assert "Send your PIN" in await chat.send("sam", "UNLOCK")
    return await chat.send("sam", PIN)


# -- 2.6: one message, one part a line ---------------------------------------------------


async def test_an_outcall_typed_as_lines_on_a_cracked_phone_is_read_part_by_part(
    chat: Chat,
) -> None:
    """Blank lines, trailing spaces, the plate in lower case, the time before the notes:
    each part still lands where it belongs."""
    await robin_with_buddy_sam(chat)
    typed = (
        "/outcall\n  kx482b  \n\n14 Hollow Lane, flat 3   \n\n1h  \nwhite van, says he is Dan \n"
    )
    assert "sealed" in await chat.send("robin", typed)
    details = await sam_unlocks_after_robin_misses(chat)
    assert "Car plate: KX482B" in details
    assert "Address: 14 Hollow Lane, flat 3\n" in details
    assert "Notes: white van, says he is Dan" in details


async def test_a_message_without_a_time_line_keeps_every_line_and_asks_only_for_the_time(
    chat: Chat,
) -> None:
    await robin_with_buddy_sam(chat)
    reply = await chat.send("robin", "/outcall\nKX482B\n14 Hollow Lane\nwhite van")
    assert "How long until you check in" in reply
    assert "Anything else" not in reply and "car plate" not in reply
    assert "sealed" in await chat.send("robin", "45m")
    assert "Notes: white van" in await sam_unlocks_after_robin_misses(chat)


async def test_the_plate_question_says_and_takes_the_whole_outcall_in_one_message(
    chat: Chat,
) -> None:
    await robin_with_buddy_sam(chat)
    question = await chat.send("robin", "/outcall")
    assert "Or send it all in one message, each on its own line" in question
    assert "sealed" in await chat.send("robin", "kx482b\n14 Hollow Lane\n2h\nblue car")
    details = await sam_unlocks_after_robin_misses(chat)
    assert "Car plate: KX482B" in details and "Notes: blue car" in details


# -- 2.8: a shared location is the address -----------------------------------------------


async def test_a_shared_place_is_the_address_sealed_and_unlocked_as_a_map_link(
    chat: Chat, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await robin_with_buddy_sam(chat)
    await chat.send("robin", "/outcall")
    await chat.send("robin", "KX482B")
    reply = await chat.send("robin", SHARED_PLACE)
    assert "Got your location" in reply and "Anything else" in reply
    assert LATITUDE not in reply  # never repeated back into the chat or the outbox
    await chat.pick("robin", "Skip")
    assert "sealed" in await chat.send("robin", "1h")
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("b.db"))
    for secret in (LATITUDE, LONGITUDE, "51.5013"):
        assert secret.encode() not in stored, f"{secret} is readable in the database files"
        assert secret not in caplog.text, f"{secret} is in the logs"
    details = await sam_unlocks_after_robin_misses(chat)
    assert "Address: Hotel Rex, 12 Long Street" in details
    assert f"Shared location: {MAP_LINK}" in details
    assert "google" not in details.lower()


async def test_a_location_shared_first_starts_the_outcall_and_only_the_rest_is_asked(
    chat: Chat,
) -> None:
    await robin_with_buddy_sam(chat)
    reply = await chat.send("robin", f"https://maps.google.com/maps?q={LATITUDE}%2C{LONGITUDE}")
    assert "Got your location" in reply and "car plate" in reply
    assert "Anything else" in await chat.send("robin", "KX482B")  # no address asked
    await chat.pick("robin", "Skip")
    assert "sealed" in await chat.send("robin", "1h")
    details = await sam_unlocks_after_robin_misses(chat)
    assert f"Shared location: {MAP_LINK}" in details and "Address:" not in details


async def test_a_location_shared_after_the_typed_address_keeps_both(chat: Chat) -> None:
    await robin_with_buddy_sam(chat)
    await chat.send("robin", "/outcall")
    await chat.send("robin", "KX482B")
    await chat.send("robin", "14 Hollow Lane, flat 3")
    reply = await chat.send("robin", f"geo:{LATITUDE},{LONGITUDE}")
    assert "Got your location" in reply and "Anything else" in reply  # asked again
    await chat.pick("robin", "Skip")
    assert "sealed" in await chat.send("robin", "1h")
    details = await sam_unlocks_after_robin_misses(chat)
    assert "Address: 14 Hollow Lane, flat 3\n" in details
    assert f"Shared location: {MAP_LINK}" in details


async def test_a_map_link_as_the_address_line_of_one_message_is_a_location(chat: Chat) -> None:
    await robin_with_buddy_sam(chat)
    link = f"https://www.openstreetmap.org/#map=17/{LATITUDE}/{LONGITUDE}"
    assert "sealed" in await chat.send("robin", f"/outcall\nKX482B\n{link}\n1h")
    assert f"Shared location: {MAP_LINK}" in await sam_unlocks_after_robin_misses(chat)


# -- 2.10: small refusals that punished a mistake ----------------------------------------


async def test_someone_who_was_half_way_through_registering_is_asked_again_not_told_to_start(
    chat: Chat,
) -> None:
    """After a restart the half-done registration is gone (memory only): "hello?" begins it
    again, and the keypad's lost question says so (Telegram's side is in
    tests/channels/test_forgiving_telegram.py)."""
    assert "Choose your language" in await chat.send("lee", "hello?")


async def test_unlock_during_a_lockout_is_refused_at_once_saying_when(chat: Chat) -> None:
    await robin_with_buddy_sam(chat)
    await chat.send("robin", "/outcall KX482B | 14 Hollow Lane | 30m")
    chat.clock.advance(minutes=41)
    chat.app.engine.tick()
    await chat.send("sam", "UNLOCK")
    for _try in range(5):
        await chat.send("sam", "902137")
    reply = await chat.send("sam", "UNLOCK")
    assert "Unlocking is paused until" in reply
    assert "Send your PIN" not in reply  # no PIN asked for that could not have worked


async def test_an_old_check_in_button_says_what_it_is_and_the_running_outcall_goes_on(
    chat: Chat,
) -> None:
    await robin_with_buddy_sam(chat)
    robin = Identity("console", "robin")
    await chat.send("robin", "/outcall KX482B | 14 Hollow Lane | 1h")
    earlier = chat.app.service.current_outcall(robin)
    assert earlier is not None
    await chat.send("robin", "SAFE")
    await chat.send("robin", "/outcall KX999 | 2 New Road | 1h")
    mark = len(chat.console.transcript)
    await chat.app.conversation.handle(Inbound("console", "robin", action=f"safe:{earlier.ref}"))
    await chat.app.dispatcher.drain()
    told = "\n".join(text for to, text in chat.console.transcript[mark:] if to == "robin")
    assert "That button is not for the outcall you have running now, so I did nothing" in told
    assert "has ended" not in told
    assert "Your outcall is running" in await chat.send("robin", "/status")


def test_details_sealed_before_locations_existed_still_open() -> None:
    """An outcall sealed by the version before this one (no "location" in its envelope) is
    still open during an upgrade: its buddies must be able to read it."""
    secret = PrivateKey.generate()
    before = json.dumps({"plate": "KX482B", "address": "14 Hollow Lane", "notes": ""}).encode()
    data_key = nacl.utils.random(SecretBox.KEY_SIZE)
    envelope = bytes(SecretBox(data_key).encrypt(before + b"\n" + b" " * 64))
    sealed = bytes(SealedBox(secret.public_key).encrypt(data_key))
    assert Sealer.open(envelope, sealed, secret) == Details("KX482B", "14 Hollow Lane", "", "")
