"""The admin menu end to end on Signal: a role code from the server, numbered replies instead of
buttons, a step changed and the know-your-rights text written, then read by a member."""

from __future__ import annotations

import re

from checkins.admin import show_code
from storage.roles import ADMIN
from tests.channels import test_signal as harness
from tests.channels.test_signal import Stack, ask, onboard
from tests.emulators.signal_api import SignalUser

# The Signal harness's fixtures: the emulator and the running App on top of it.
api, stack = harness.api, harness.stack


async def choose(person: SignalUser, screen: str, label: str, expect: str) -> str:
    """Reply with the number Signal shows for `label` on `screen`."""
    found = re.search(rf"(\d+) for {re.escape(label)}[,.]", screen)
    assert found is not None, screen
    return await ask(person, found[1], expect)


async def test_an_admin_on_signal_edits_the_ladder_and_writes_the_rights_text(
    stack: Stack,
) -> None:
    ash, robin = stack.user("ash"), stack.user("robin")
    await onboard(ash, "Ash")
    await onboard(robin, "Robin")
    await ask(robin, "/admin", "only for your organisation's admins")

    code = show_code(stack.app.admin.server_invite(ADMIN, "demo").code)
    await ask(ash, f"/accept {code}", "You are now an admin (demo)")

    rules = await ask(ash, "/admin", "Rules for demo")
    assert "2. 10 s late: alert their buddies" in rules
    step = await choose(ash, rules, "Step 2", "What do you want to change?")
    await choose(ash, step, "Change the time", "How late")
    await ask(ash, "later", "Nothing was changed")
    saved = await ask(ash, "2m", "Saved")
    assert "2. 2 min late: alert their buddies" in saved

    languages = await choose(ash, saved, "Know-your-rights text", "Which language")
    await choose(ash, languages, "en", "several messages")
    part = await ask(ash, "You can say no to a search. *Stay calm.*", "Got it")
    await choose(ash, part, "Save", "Know-your-rights text: en")

    shown = await ask(robin, "/rights", "say no to a search")
    assert shown == "You can say no to a search. *Stay calm.*"
