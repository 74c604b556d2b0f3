"""Every user-facing sentence goes through `_()`, translated into the recipient's language.

The language is carried in a context variable, set around the code that renders a message
for one person (`with use_locale(member.locale): ...`). Catalogs are the `.po` files under
`checkins/locale/`, compiled in memory by Babel on first use, so there is no build step and
no compiled artefact in the repository.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from importlib.resources import files

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

DOMAIN = "buddycheck"
SOURCE_LOCALE = "en"
_locale: ContextVar[str] = ContextVar("buddycheck_locale", default=SOURCE_LOCALE)


def _(message: str) -> str:
    """Translate `message` into the current locale."""
    return _catalog(_locale.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """Translate a message whose form depends on the count `n`."""
    return _catalog(_locale.get()).ngettext(singular, plural, n)


def N_(message: str) -> str:  # noqa: N802 - the conventional gettext marker name
    """Mark a string for extraction without translating it yet (translated at render time)."""
    return message


def current_locale() -> str:
    return _locale.get()


@contextmanager
def use_locale(locale: str) -> Iterator[None]:
    """Render everything inside the block in `locale` (falls back to English)."""
    token = _locale.set(locale)
    try:
        yield
    finally:
        _locale.reset(token)


def switch_locale(locale: str) -> None:
    """Render the rest of the current `use_locale` block in `locale`: someone who has just
    chosen their language gets the very next question in it."""
    _locale.set(locale)


def available_locales() -> list[str]:
    """The source language plus every language with a catalog."""
    root = files("checkins") / "locale"
    found = {entry.name for entry in root.iterdir() if entry.is_dir()} if root.is_dir() else set()
    return sorted(found | {SOURCE_LOCALE})


def language_name(locale: str) -> str:
    """The language's name in itself ("English", "Español"), so anyone can find their own."""
    try:
        name: str = Locale.parse(locale).get_display_name(locale) or locale
    except (ValueError, UnknownLocaleError):
        return locale
    return name[:1].upper() + name[1:]


def supported_locale(code: str | None) -> str | None:
    """The catalog for a messenger's language code ("es", "es-MX", "PT_br"), if we have one."""
    language, _sep, region = (code or "").strip().replace("-", "_").partition("_")
    language = language.lower()
    available = available_locales()
    for candidate in (f"{language}_{region.upper()}" if region else language, language):
        if candidate and candidate in available:
            return candidate
    # Another region's catalog of the same language beats English ("pt" → "pt_BR").
    return next((code for code in available if code.split("_")[0] == language), None)


@lru_cache(maxsize=32)
def _catalog(locale: str) -> gettext.NullTranslations:
    po_file = files("checkins") / "locale" / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if locale == SOURCE_LOCALE or not po_file.is_file():
        return gettext.NullTranslations()
    with po_file.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)
