"""/rights shows the organisation's know-your-rights text, in the member's language if written,
else in the place's, else says plainly that it hasn't been written yet."""

from __future__ import annotations

import re

import pytest

from checkins.admin import AdminService, show_code
from checkins.context import Context, Refusal
from checkins.messages import Identity
from checkins.rules import RIGHTS_MAX_CHARS
from storage.roles import ADMIN
from tests.chat import Chat
from tests.conftest import PIN, World

ENGLISH = "You don't have to answer police questions. Ask: am I free to go?"
SPANISH = "No tienes que contestar preguntas de la policía. Pregunta: ¿puedo irme?"
NOT_WRITTEN = "hasn't written a know-your-rights text"


@pytest.fixture
def admin(world: World) -> AdminService:
    """Kit administers north, whose language is English."""
    service = AdminService(
        Context(world.db, world.service.sealer, world.service.policy, world.clock)
    )
    service.accept_role(world.buddy2, service.server_invite(ADMIN, "north").code)
    return service


def spanish_speaker(world: World) -> Identity:
    who = Identity("console", "lola")
    world.service.register(who, "Lola", PIN, locale="es")
    return who


def test_rights_are_shown_in_the_members_own_language(world: World, admin: AdminService) -> None:
    admin.set_rights(world.buddy2, "north", "en", ENGLISH)
    admin.set_rights(world.buddy2, "north", "es", SPANISH)
    lola = spanish_speaker(world)
    admin.show_rights(lola)
    assert world.last(lola) == SPANISH
    admin.show_rights(world.worker)
    assert world.last(world.worker) == ENGLISH


def test_rights_fall_back_to_the_places_language(world: World, admin: AdminService) -> None:
    admin.set_rights(world.buddy2, "north", "en", ENGLISH)
    lola = spanish_speaker(world)
    admin.show_rights(lola)
    assert world.last(lola) == ENGLISH


def test_rights_not_written_yet_are_said_plainly(world: World, admin: AdminService) -> None:
    admin.show_rights(world.worker)
    assert NOT_WRITTEN in world.last(world.worker)
    admin.set_rights(world.buddy2, "north", "es", SPANISH)
    admin.show_rights(world.worker)  # English reader, only Spanish written, place is English
    assert NOT_WRITTEN in world.last(world.worker)


def test_a_long_text_with_markup_is_shown_exactly_as_written(
    world: World, admin: AdminService
) -> None:
    text = "<b>Don't</b> sign *anything*.\n_Call us:_ [here](http://x)\n"
    text = (text * RIGHTS_MAX_CHARS)[: RIGHTS_MAX_CHARS - 1] + "!"
    admin.set_rights(world.buddy2, "north", "en", text)
    admin.show_rights(world.worker)
    assert world.last(world.worker) == text


def test_a_text_over_the_limit_is_refused_and_the_old_one_kept(
    world: World, admin: AdminService
) -> None:
    admin.set_rights(world.buddy2, "north", "en", ENGLISH)
    with pytest.raises(Refusal, match=f"the most is {RIGHTS_MAX_CHARS}"):
        admin.set_rights(world.buddy2, "north", "en", "x" * (RIGHTS_MAX_CHARS + 1))
    admin.show_rights(world.worker)
    assert world.last(world.worker) == ENGLISH


def test_removing_a_language_falls_back_again(world: World, admin: AdminService) -> None:
    admin.set_rights(world.buddy2, "north", "en", ENGLISH)
    admin.set_rights(world.buddy2, "north", "es", SPANISH)
    admin.set_rights(world.buddy2, "north", "es", None)
    lola = spanish_speaker(world)
    admin.show_rights(lola)
    assert world.last(lola) == ENGLISH


@pytest.fixture
async def chat(chat: Chat) -> Chat:
    """Ash and Robin have joined."""
    for person in ("ash", "robin"):
        await chat.register(person)
    return chat


def numbered(screen: str, label: str) -> str:
    """The number the console shows for the choice labelled `label`."""
    found = re.search(rf"(\d+)\. {re.escape(label)}", screen)
    assert found is not None, screen
    return found[1]


async def test_an_admin_writes_the_rights_text_in_parts_and_a_member_reads_it(
    chat: Chat,
) -> None:
    code = show_code(chat.app.admin.server_invite(ADMIN, "north").code)
    assert "You are now an admin (North)" in await chat.send("ash", f"/accept {code}")
    assert "This is only for your organisation's admins" in await chat.send("robin", "/admin")
    assert NOT_WRITTEN in await chat.send("robin", "/rights")
    rules = await chat.send("ash", "/admin")
    languages = await chat.send("ash", numbered(rules, "Know-your-rights text"))
    prompt = await chat.send("ash", numbered(languages, "en"))
    assert "send it in several messages" in prompt
    assert "Got it" in await chat.send("ash", "Police can't search you without a warrant.")
    saved = await chat.send("ash", "*Ask for a lawyer.*")
    assert "Saved" in await chat.send("ash", numbered(saved, "Save"))
    assert await chat.send("robin", "/rights") == (
        "Police can't search you without a warrant.\n*Ask for a lawyer.*"
    )


async def test_an_admin_changes_a_step_from_the_menu_and_a_bad_time_is_explained(
    chat: Chat,
) -> None:
    code = show_code(chat.app.admin.server_invite(ADMIN, "north").code)
    await chat.send("ash", f"/accept {code}")
    rules = await chat.send("ash", "/admin")
    step = await chat.send("ash", numbered(rules, "Step 2"))
    assert "Step 2: 10 min late: alert their buddies" in step
    await chat.send("ash", numbered(step, "Change the time"))
    assert "Nothing was changed" in await chat.send("ash", "whenever")
    refused = await chat.send("ash", "47h")  # after the details are destroyed: refused
    assert "step 3 (47 h late: alert their buddies) comes too late" in refused
    assert "Make the step earlier, or keep the details longer" in refused
    assert "2. 20 min late: alert their buddies" in await chat.send("ash", "20m")
    rules = await chat.send("ash", "/admin")
    choices = await chat.send("ash", numbered(rules, "Add a step"))
    assert "emergency" not in choices  # north is criminalised: not even offered
    await chat.send("ash", numbered(choices, "alert the on-duty responders"))
    assert "4. 1 h late: alert the on-duty responders" in await chat.send("ash", "1h")
