"""Everyone gets a clear answer in their own language.

The catalog tests are the guard that keeps translations complete: a sentence added to the
code without a Spanish translation fails here, naming it (run `make messages`, translate,
see docs/translating.md). The rest check that each person gets their own language: a
Spanish-speaking buddy of an English-speaking worker, /language, a new person whose
messenger speaks Spanish, the Spanish keywords, and the words the Signal adapter adds itself.
"""

from __future__ import annotations

import ast
import asyncio
import string
from functools import lru_cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po
from hypothesis import given
from hypothesis import strategies as st

from bot.channels.base import Inbound
from bot.keywords import keyword_action
from checkins.actions import Action, Verb
from checkins.context import Refusal
from checkins.i18n import (
    _,
    available_locales,
    language_name,
    ngettext,
    supported_locale,
    use_locale,
)
from tests.channels import telegram_harness
from tests.channels import test_signal as signal_harness
from tests.channels.telegram_harness import STEP, Harness
from tests.chat import Chat
from tests.conftest import World

ROOT = Path(__file__).resolve().parents[2]
LOCALE_DIR = ROOT / "checkins" / "locale"
TRANSLATED = ["es", "fr", "pt_BR", "ro", "ru", "th"]
PLATE, ADDRESS = "KX482B", "14 Hollow Lane, flat 3"

# The Signal and Telegram tests' harnesses, reused as they are.
api = signal_harness.api
stack = signal_harness.stack
telegram = telegram_harness.telegram


def load(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


@lru_cache(maxsize=1)
def sentences_in_code() -> frozenset[str]:
    """Every msgid in bot/, checkins/ and storage/, extracted as `make messages` does."""
    keywords = {"_": None, "N_": None, "ngettext": (1, 2)}
    found: set[str] = set()
    for folder in ("bot", "checkins", "storage"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / folder, [("**.py", "python")], keywords=keywords
        ):
            found.add(message if isinstance(message, str) else message[0])
    return frozenset(found)


def catalog(locale: str) -> Catalog:
    return load(LOCALE_DIR / locale / "LC_MESSAGES" / "buddycheck.po", locale)


def fields(text: str) -> set[str]:
    """The `{name}` placeholders of a sentence (a broken one like `{alias` fails here)."""
    return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name}


# -- the catalogs ----------------------------------------------------------------------------


def test_the_template_holds_every_sentence_in_the_code() -> None:
    template = {
        m.id if isinstance(m.id, str) else m.id[0]
        for m in load(LOCALE_DIR / "buddycheck.pot")
        if m.id
    }
    missing = sorted(sentences_in_code() - template)
    assert not missing, f"run `make messages`: the template lacks {missing}"


@pytest.mark.parametrize("locale", TRANSLATED)
def test_catalog_has_no_fuzzy_entries(locale: str) -> None:
    entries = catalog(locale)
    assert not entries.fuzzy
    fuzzy = [m.id for m in entries if m.id and m.fuzzy]
    assert not fuzzy, f"review these guessed translations, then drop the fuzzy mark: {fuzzy}"


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_sentence_in_the_code_has_a_translation(locale: str) -> None:
    entries = catalog(locale)
    untranslated = []
    for sentence in sorted(sentences_in_code()):
        entry = entries.get(sentence)
        forms = entry.string if entry else ""
        if not all(forms if isinstance(forms, tuple) else (forms,)):
            untranslated.append(sentence)
    assert not untranslated, (
        f"run `make messages` and translate these in checkins/locale/{locale} "
        f"(docs/translating.md): {untranslated}"
    )


@pytest.mark.parametrize("locale", TRANSLATED)
def test_translations_keep_every_placeholder(locale: str) -> None:
    entries = catalog(locale)
    assert entries.num_plurals == get_plural(locale).num_plurals  # Babel's rule for it
    wrong = []
    for entry in entries:
        if not entry.id:
            continue
        sources = entry.id if isinstance(entry.id, tuple) else (entry.id,)
        targets = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        if entry.pluralizable and len(targets) != entries.num_plurals:
            wrong.append(sources[0])
        for index, target in enumerate(targets):
            if target and fields(target) != fields(sources[min(index, len(sources) - 1)]):
                wrong.append(sources[0])
    assert not wrong, f"placeholders differ from the English: {wrong}"


def test_every_language_is_offered_by_its_own_name() -> None:
    assert set(available_locales()) == {"en", *TRANSLATED}
    names = [language_name(code) for code in ("en", "es", "fr", "pt_BR", "ro", "ru", "th")]
    assert names == [
        "English",
        "Español",
        "Français",
        "Português (Brasil)",
        "Română",
        "Русский",
        "ไทย",
    ]
    assert supported_locale("es-MX") == supported_locale("ES") == "es"
    assert supported_locale("pt-br") == supported_locale("pt") == "pt_BR"
    assert supported_locale("de") is None


@pytest.mark.parametrize(
    ("locale", "counts"),
    [
        ("ru", {1: "{n} минуту.", 2: "{n} минуты.", 5: "{n} минут.", 21: "{n} минуту."}),
        ("th", {1: "{n} นาที", 5: "{n} นาที"}),
    ],
)
def test_plural_forms_follow_each_languages_rules(locale: str, counts: dict[int, str]) -> None:
    singular, plural = (
        "This message will be deleted in {n} minute.",
        "This message will be deleted in {n} minutes.",
    )
    with use_locale(locale):
        for n, ending in counts.items():
            assert ngettext(singular, plural, n).format(n=n).endswith(ending.format(n=n))


def test_plural_forms_follow_the_count_in_spanish() -> None:
    singular, plural = (
        "This message will be deleted in {n} minute.",
        "This message will be deleted in {n} minutes.",
    )
    with use_locale("es"):
        assert ngettext(singular, plural, 1).format(n=1) == "Este mensaje se borrará en 1 minuto."
        assert ngettext(singular, plural, 5).format(n=5) == "Este mensaje se borrará en 5 minutos."


# -- each person in their own language ----------------------------------------------------


def test_spanish_buddy_gets_the_alert_in_spanish_while_the_worker_reads_english(
    world: World,
) -> None:
    world.service.set_locale(world.buddy, "es")
    assert "te escribo en español" in world.last(world.buddy)
    world.service.start_outcall(world.worker, PLATE, ADDRESS, "", "30m")
    world.clock.advance(minutes=40)
    world.engine.tick()
    world.engine.tick()

    assert "Robin no avisó a tiempo" in world.last(world.buddy)
    assert "Robin missed their check-in" in world.last(world.buddy2)
    assert all("avis" not in message for message in world.messages(world.worker))
    assert "has passed" in world.last(world.worker)


def test_an_unknown_language_is_refused_naming_the_ones_we_have(world: World) -> None:
    with pytest.raises(Refusal, match="I can speak: English, Español"):
        world.service.set_locale(world.buddy, "xx")
    assert world.service.member(world.buddy).locale == "en"  # type: ignore[union-attr]


async def test_language_command_offers_languages_by_name_and_answers_in_the_new_one(
    chat: Chat,
) -> None:
    await chat.register("robin")
    menu = await chat.send("robin", "/language")
    assert "Which language" in menu and "English" in menu and "Español" in menu
    chosen = await chat.send("robin", "2")
    assert chosen == "Hecho. Desde ahora te escribo en español."
    assert "Lo que puedes mandar" in await chat.send("robin", "/help")
    assert "Done. I will write to you in English" in await chat.send("robin", "/idioma EN")
    assert "I can speak: English, Español" in await chat.send("robin", "/language klingon")


async def test_a_new_person_whose_messenger_speaks_spanish_is_welcomed_in_spanish(
    chat: Chat,
) -> None:
    handle = chat.app.conversation.handle
    await handle(Inbound("console", "ana", text="/start", language="es-AR"))
    for line in ("Español", "Norte", "Ana", signal_harness.PIN, signal_harness.PIN):
        await handle(Inbound("console", "ana", text=line, language="es-AR"))
    await chat.app.dispatcher.drain()
    said = "\n".join(text for to, text in chat.console.transcript if to == "ana")
    assert "Te doy la bienvenida a buddycheck" in said
    assert "Tu PIN está listo" in said
    assert "Lo que puedes mandar" in await chat.send("ana", "/help")


@pytest.mark.parametrize(
    ("typed", "verb"),
    [
        ("SEGURA", Verb.SAFE),
        ("seguro.", Verb.SAFE),
        ("Estoy bien", Verb.SAFE),
        ("¡Socorro!", Verb.SOS),
        ("auxilio", Verb.SOS),
        ("Me encargo", Verb.ON_IT),
        ("+30", Verb.EXTEND),
    ],
)
def test_spanish_keywords_work_like_the_english_ones(typed: str, verb: Verb) -> None:
    action = keyword_action(typed)
    assert isinstance(action, Action) and action.verb is verb


async def test_ayuda_shows_the_help_and_never_raises_an_alarm(chat: Chat) -> None:
    """AYUDA also means "help": it gets the command list (which names SOS), not an SOS."""
    assert keyword_action("AYUDA") is None
    await chat.register("robin")
    await chat.send("robin", "/language es")
    answer = await chat.send("robin", "ayuda")
    assert "SOS o SOCORRO" in answer and "SOS enviado" not in answer


async def test_spanish_keyword_checks_a_worker_in(chat: Chat) -> None:
    for person in ("robin", "sam"):
        await chat.register(person)
    await chat.send("robin", "/language es")
    code = (await chat.send("robin", "/invite")).split("código: ")[1][:9]
    await chat.send("sam", f"/accept {code}")
    await chat.send("robin", f"/outcall {PLATE} | {ADDRESS} | 1h")
    assert "Me alegra que estés bien" in await chat.send("robin", "¡Estoy bien!")


# -- words the adapters add themselves --------------------------------------------------------


async def test_signal_numbered_menu_hint_is_in_the_members_language(
    stack: signal_harness.Stack,
) -> None:
    robin = stack.user("robin")
    await signal_harness.onboard(robin, "Robin")
    offered = await signal_harness.ask(robin, "/language", "Which language")
    assert "Reply 1 for English, 2 for Español, 3 for Français," in offered

    await signal_harness.ask(robin, "2", "te escribo en español")
    again = await signal_harness.ask(robin, "/language", "qué idioma")
    assert "Responde 1 para English, 2 para Español, 3 para Français," in again


def test_adapter_text_renders_in_the_locale_it_is_asked_for() -> None:
    with use_locale("es"):
        assert _("Reply {choices}.") == "Responde {choices}."
    assert _("Reply {choices}.") == "Reply {choices}."


async def test_telegram_newcomer_with_a_spanish_phone_is_onboarded_in_spanish(
    telegram: Harness,
) -> None:
    ana = telegram.api.user(2001, "Ana", language_code="es-419")
    proposal = await telegram.say(ana, "/start", "Te escribiré en Español")
    await telegram.press(ana, "Español", "Te doy la bienvenida", proposal)
    prompt = await telegram.say(ana, "Ana", "elige un PIN")
    query = await ana.press("k:ok", prompt)  # OK on an empty keypad: a pop-up explains
    async with asyncio.timeout(STEP):
        while query not in telegram.api.callback_answers:
            await asyncio.sleep(0.05)
    assert telegram.api.callback_answers[query]["text"] == "Primero toca los números de tu PIN."


async def test_telegram_notices_follow_the_language_the_member_chose(telegram: Harness) -> None:
    """Her phone is in English, she chose Spanish: the adapter's own notices are Spanish too."""
    alice = telegram.api.user(2002, "Alice", language_code="en")
    await telegram.onboard(alice, "Alice")
    await telegram.say(alice, "/language es", "te escribo en español")
    message = alice.compose("/status")
    message["edit_date"] = message["date"] + 5
    newest = alice.last_message()
    await telegram.api.push_update({"edited_message": message})
    await alice.wait_for_message(
        "No hago caso a los mensajes editados", after=newest.message_id if newest else 0
    )


# Where text goes to a person or an operator; a sentence written there as a plain string
# literal would never reach the catalogs.
SINKS = frozenset(
    {"Message", "Refusal", "ConfigError", "ClickException", "UsageError", "echo", "say"}
    | {"tell_directly", "Button", "Outbound"}
)


def literal_sentences(node: ast.AST) -> list[str]:
    """The plain (not `_()`-wrapped) sentences in a call's text: string constants and the
    literal parts of f-strings with at least three words (a `key=` is not a word)."""
    parts = [node] if isinstance(node, ast.Constant) else []
    parts += [value for value in ast.walk(node) if isinstance(value, ast.JoinedStr)]
    found = []
    for part in parts:
        if isinstance(part, ast.Constant) and isinstance(part.value, str):
            text = part.value
        elif isinstance(part, ast.JoinedStr):
            text = " ".join(v.value for v in part.values if isinstance(v, ast.Constant))
        else:
            continue
        words = [w for w in text.split() if w.isalpha() and len(w) > 1]
        if len(words) >= 3:
            found.append(text)
    return found


def test_no_sentence_reaches_a_person_without_gettext() -> None:
    unextracted = []
    for path in sorted([*ROOT.glob("bot/**/*.py"), *ROOT.glob("checkins/**/*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if called not in SINKS:
                continue
            texts = node.args[:1] + [k.value for k in node.keywords if k.arg in ("text", "label")]
            for text in texts:
                for sentence in literal_sentences(text):
                    unextracted.append(f"{path.relative_to(ROOT)}:{node.lineno}: {sentence!r}")
    assert not unextracted, "sentences that skip gettext:\n" + "\n".join(unextracted)


@pytest.mark.parametrize("locale", ["en", *TRANSLATED])
@given(shout=st.booleans(), bang=st.sampled_from(["", "!", " !", "."]))
def test_button_labels_typed_back_work_in_every_language(
    locale: str, shout: bool, bang: str
) -> None:
    """On Signal people type the button they would tap: each shipped language's label for
    I'm safe, I'm on it and Unlock details is that action, however it is capitalised."""
    labels = {
        "I'm safe ✅": Verb.SAFE,
        "I'm on it 🙋": Verb.ON_IT,
        "Unlock details 🔓": Verb.UNLOCK,
    }
    for english, verb in labels.items():
        with use_locale(locale):
            label = _(english)
        typed = (label.upper() if shout else label) + bang
        action = keyword_action(typed)
        assert action is not None and action.verb is verb, (locale, typed)


# -- the scripted story in every shipped language, on both messengers ------------------------

# Each language's own SOS word, as a frightened person would type it.
SOS_WORD = {
    "en": "SOS",
    "es": "socorro",
    "fr": "au secours",
    "pt_BR": "me ajuda",
    "ro": "salvați-mă",
    "ru": "помогите",
    "th": "ช่วยด้วย",
}


WELCOME = (
    "Welcome to buddycheck.\n"
    "Before a booking, you tell me the client's car plate and the address. "
    "If you don't check in on time, your buddies are alerted. "
    "Only they can read the details, and only then.\n\n"
    "First, choose a nickname. Not your real name."
)


def said(locale: str, message: str, **values: str) -> str:
    """`message` as a person reading `locale` gets it."""
    with use_locale(locale):
        return _(message).format(**values)


def story_lines(locale: str, alias: str) -> dict[str, str]:
    """What the worker of the story reads at each step, in their language."""
    return {
        "language": said(
            locale,
            "I will write to you in {language}. Is that right? Choose your language:",
            language=language_name(locale),
        ),
        "nickname": said(locale, WELCOME).split("\n")[-1],
        "again": said(locale, "Send the same PIN again."),
        "sealed": said(locale, "🔒 Saved and sealed."),
        "sos": said(locale, "🆘 SOS sent. Your buddies are being alerted now."),
    }


def test_the_story_covers_every_shipped_language() -> None:
    assert set(SOS_WORD) == set(available_locales())


async def test_the_story_in_every_language_on_signal(stack: signal_harness.Stack) -> None:
    """Seven workers, one per language, each: /start, their language from the list, nickname,
    PIN twice, a buddy, a one-message outcall, SOS in their own word; every step read in their
    language, and the buddy alerted in theirs."""
    sam = stack.user("sam")
    await signal_harness.onboard(sam, "Sam")
    for number, locale in enumerate(available_locales()):
        alias = f"Ana{number}"
        worker = stack.user(f"w{number}")
        lines = story_lines(locale, alias)
        await signal_harness.ask(worker, "/start", "I will write to you in English.")
        await signal_harness.ask(worker, language_name(locale), lines["nickname"])
        await signal_harness.ask(worker, alias, "PIN")
        await signal_harness.ask(worker, signal_harness.PIN, lines["again"])
        await signal_harness.ask(worker, signal_harness.PIN, alias)
        code = signal_harness.invite_code(await signal_harness.ask(worker, "/invite", "-"))
        await signal_harness.ask(sam, f"/accept {code}", alias)
        await worker.wait_for_message("Sam", timeout=signal_harness.WAIT)
        outcall = f"/outcall {PLATE} | {ADDRESS} | 1h"
        await signal_harness.ask(worker, outcall, lines["sealed"])
        await signal_harness.ask(worker, SOS_WORD[locale], lines["sos"])
        await sam.wait_for_message(f"{alias} pressed SOS", timeout=signal_harness.WAIT)


async def test_the_story_in_every_language_on_telegram(telegram: Harness) -> None:
    """The same story on Telegram: the language is proposed from the phone's language and
    confirmed with one tap on its button."""
    sam = telegram.api.user(2100, "Sam", language_code="en")
    await telegram.onboard(sam, "Sam")
    for number, locale in enumerate(available_locales()):
        alias = f"Ana{number}"
        phone_language = locale.replace("_", "-").lower()
        worker = telegram.api.user(2101 + number, alias, language_code=phone_language)
        lines = story_lines(locale, alias)
        proposal = await telegram.say(worker, "/start", lines["language"])
        assert proposal.buttons()[0]["text"] == language_name(locale)
        await telegram.press(worker, language_name(locale), lines["nickname"], proposal)
        prompt = await telegram.say(worker, alias, "PIN")
        await telegram.keypad(worker, prompt)
        again = await worker.wait_for_message(lines["again"], after=prompt.message_id, timeout=STEP)
        await telegram.keypad(worker, again)
        await worker.wait_for_message(alias, after=again.message_id, timeout=STEP)
        invite = await telegram.say(worker, "/invite", "-")
        code = telegram_harness.CODE.search(invite.text)
        assert code is not None, invite.text
        await telegram.say(sam, f"/accept {code[0]}", alias)
        await telegram.say(worker, f"/outcall {PLATE} | {ADDRESS} | 1h", lines["sealed"])
        await telegram.say(worker, SOS_WORD[locale], lines["sos"])
        await sam.wait_for_message(f"{alias} pressed SOS", timeout=STEP)
