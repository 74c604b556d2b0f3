"""The warning list's story on Signal, numbered replies instead of buttons: Robin reports a
violent client, a moderator edits and publishes it, Kit (verified) is warned, and Kit's
/outcall with the plate spelled differently is flagged before it starts; her buddy's alert
says so. Then a responder's raid alert reaches the verified members, each in their language."""

from __future__ import annotations

import re

from checkins.admin import show_code
from storage.roles import MODERATOR, RESPONDER
from tests.channels import test_signal as harness
from tests.channels.test_signal import WAIT, Stack, ask, miss_check_in, onboard, pair_on_signal
from tests.emulators.signal_api import SignalUser

api, stack = harness.api, harness.stack


async def choose(person: SignalUser, screen: str, label: str, expect: str) -> str:
    """Reply with the number Signal shows for `label` on `screen`."""
    found = re.search(rf"(\d+) for {re.escape(label)}[,.]", screen)
    assert found is not None, screen
    return await ask(person, found[1], expect)


async def granted(stack: Stack, person: SignalUser, role: str, expect: str) -> None:
    code = show_code(stack.app.admin.server_invite(role, "demo").code)
    await ask(person, f"/accept {code}", expect)


async def verified(by: SignalUser, person: SignalUser) -> None:
    made = await ask(by, "/verify", "Verification code")
    code = re.search(r"R-\w{5}-\w{5}", made)
    assert code is not None, made
    await ask(person, f"/accept {code[0]}", "You are now a verified member")


async def test_the_warning_list_story_on_signal(stack: Stack) -> None:
    robin, kit, sam = stack.user("robin"), stack.user("kit"), stack.user("sam")
    mona, ria = stack.user("mona"), stack.user("ria")
    for person, alias in ((robin, "Robin"), (kit, "Kit"), (sam, "Sam"), (mona, "Mona")):
        await onboard(person, alias)
    await onboard(ria, "Ria")
    await pair_on_signal(kit, sam)
    await granted(stack, mona, MODERATOR, "You are now a moderator")
    await granted(stack, ria, RESPONDER, "You are now a responder")
    await verified(ria, kit)
    await verified(ria, robin)

    # Robin reports after a bad booking; every step is a numbered choice or typed.
    asked = await ask(robin, "/report", "What happened?")
    assert "tap" not in asked.lower()
    plate = await choose(robin, asked, "Violent", "car plate")
    phone = await ask(robin, "AB12 CDE", "phone number")
    hint = await choose(robin, phone, "Skip", "last 3 characters")
    vehicle = await choose(robin, hint, "Yes, show the last 3", "car and the client")
    await choose(robin, vehicle, "Skip", "What happened?")
    await ask(robin, "He hit me near the station and kept the money", "In which area")
    when = await ask(robin, "Riverside", "When did it happen")
    await choose(robin, when, "Today", "waits for a moderator")
    assert "AB12 CDE" not in [m.text for m in robin.messages() if m.text == "AB12 CDE"]
    del plate

    # The moderator edits the wording and publishes; Kit is warned.
    await mona.wait_for_message("A new report waits", timeout=WAIT)
    shown = await ask(mona, "/moderate", "Report #")
    assert "Car plate ending in CDE" in shown and "Robin" not in shown
    await choose(mona, shown, "Edit the details", "as they should be published")
    edited = await ask(mona, "He hit the worker and kept the money.", "Report #")
    await choose(mona, edited, "Publish", "is published")
    warned = await kit.wait_for_message("New warning from the community", timeout=WAIT)
    assert "He hit the worker" in warned.text and "station" not in warned.text

    # Next night: the same plate spelled differently is flagged before the outcall starts.
    flagged = await ask(kit, "/outcall ab-12 cde | 22 Dock Street | 1h", "matches a warning")
    assert "Cancel this booking" in flagged
    await choose(kit, flagged, "Go anyway (my buddies will be told)", "Saved and sealed")
    await miss_check_in(stack, kit)
    alert = await sam.wait_for_message("Kit missed their check-in", timeout=WAIT)
    assert "matched a warning on the community's list" in alert.text

    # A responder's raid alert goes out at once, in each verified member's language.
    await choose(kit, await ask(kit, "/language", "Español"), "Español", "español")
    raid = await ask(ria, "/raid", "What is happening")
    area = await choose(ria, raid, "Immigration", "Where?")
    when = await ask(ria, "Station square", "When?")
    await choose(ria, when, "Now", "sent to the verified members")
    english = await robin.wait_for_message("Raid alert (demo)", timeout=WAIT)
    spanish = await kit.wait_for_message("Alerta de redada (demo)", timeout=WAIT)
    assert "Station square" in english.text and "Station square" in spanish.text
    assert "Reply 1 for Know your rights." in english.text
    del area
