"""Command words: every command has a word in every shipped language, for messengers with
no command menu (Signal, the console); no word means two things in one language, none is a
safety keyword, and a word never steals the answer to an open question."""

from __future__ import annotations

import pytest

from bot.channels.base import Inbound
from bot.conversation import safety_action
from bot.keywords import COMMAND_WORDS, command_by_word, fold, keyword_action
from checkins.actions import Verb
from checkins.i18n import available_locales
from checkins.messages import Identity
from tests.chat import Chat
from tests.conftest import PIN

# Commands whose words are the safety keywords (SAFE, SOS, UNLOCK, ON IT), or that are
# deliberately unlisted (/forgetme deletes an account: it is typed out in full).
KEYWORD_COMMANDS = {"safe", "sos", "unlock", "onit", "forgetme"}


def test_every_shipped_language_has_a_word_for_the_same_commands() -> None:
    assert set(COMMAND_WORDS) == set(available_locales())
    english = set(COMMAND_WORDS["en"])
    for locale, words in COMMAND_WORDS.items():
        assert set(words) == english, locale


@pytest.mark.parametrize("locale", sorted(COMMAND_WORDS))
def test_no_word_means_two_things_in_one_language(locale: str) -> None:
    """A language's words and English's (both are read) name one command each, are single
    words, and none is a keyword that would raise or end an alert."""
    seen: dict[str, str] = {}
    for table in (COMMAND_WORDS[locale], COMMAND_WORDS["en"]):
        for command, word in table.items():
            folded = fold(word)
            assert " " not in word, word
            assert seen.setdefault(folded, command) == command, (locale, word)
            assert keyword_action(word) is None, (locale, word)
            assert command_by_word(word, locale) == (command, "") or seen[folded] != command


def test_words_are_read_without_case_or_accents() -> None:
    assert command_by_word("ÉTAT", "fr") == ("status", "")
    assert command_by_word("Situação", "pt_BR") == ("status", "")
    assert command_by_word("aceptar abcd-efgh", "es") == ("accept", "abcd-efgh")
    assert command_by_word("สถานะ", "th") == ("status", "")
    assert command_by_word("estado", "fr") is None  # another language's word is not read
    assert command_by_word("salida KX482B | 1 Main St | 1h", "es") == (
        "outcall",
        "KX482B | 1 Main St | 1h",
    )
    assert command_by_word("cancel the booking", "en") is None  # a sentence, not /cancel


async def test_a_spanish_speaker_types_salida_and_the_outcall_begins(chat: Chat) -> None:
    await chat.register("robin")
    await chat.register("sam")
    await chat.pair("robin", "sam")  # an outcall needs a buddy
    await chat.send("robin", "/language es")
    help_text = await chat.send("robin", "ayuda")
    assert "/outcall (salida) — " in help_text and "/status (estado) — " in help_text
    assert "matrícula" in await chat.send("robin", "Salida")
    await chat.send("robin", "/cancel")
    assert "No hay ninguna salida en marcha" in await chat.send("robin", "ESTADO")


async def test_a_nickname_that_is_a_command_word_is_taken_as_the_nickname(chat: Chat) -> None:
    await chat.start("robin")
    assert "Hi Status" in await chat.send("robin", "Status")
    for line in (PIN, PIN):
        await chat.send("robin", line)
    robin = chat.app.service.member(Identity("console", "robin"))
    assert robin is not None and robin.alias == "Status"


def test_a_safety_commands_word_runs_on_the_safety_threads_like_the_command(chat: Chat) -> None:
    """/cancel is retried through database trouble; so is its word, in any language."""
    commands = chat.app.conversation.commands
    for typed in ("/cancel", "cancelar", "ANULEAZA", "отмена"):
        assert safety_action(Inbound("console", "robin", text=typed), None, commands) is Verb.CANCEL
    assert safety_action(Inbound("console", "robin", text="estado"), None, commands) is None
