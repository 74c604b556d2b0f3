"""Folding plates and phone numbers to one form, so the same plate typed differently matches.

The warning list stores a plate or a phone number only as a pepper-keyed hash of its folded
form (`Sealer.keyed_hash`), so the folding must be exactly the same when a report is stored,
when a plate is screened at /outcall and when a member sends /check. The rules:

* Plates: letters are upper-cased; everything that is not a letter or a digit (spaces,
  dashes, dots) is dropped; the look-alikes O and 0 fold to 0, and I and 1 fold to 1.
  "ab-12 cde", "AB12CDE" and "AB 12 CDE" are one plate; so are "KO1" and "K0I".
* Phone numbers: every non-digit is dropped and only the last 9 digits count, so
  "+44 7700 900123", "0044 7700-900123" and "07700 900123" are one number.

A hint for display, if the reporter agrees, is the last 3 characters as typed (upper-cased,
without spaces or dashes): enough to recognise a match, too little to find a person.
"""

from __future__ import annotations

import re

from checkins.context import Refusal
from checkins.i18n import _

_LOOK_ALIKES = str.maketrans({"O": "0", "I": "1"})
PHONE_DIGITS = 9
HINT_CHARS = 3
MIN_PLATE, MAX_PLATE = 2, 12
MIN_PHONE, MAX_PHONE = 6, 16


def fold_plate(text: str) -> str:
    """The plate's folded form; refused if it cannot be a plate."""
    kept = "".join(ch for ch in text.upper() if ch.isascii() and ch.isalnum())
    if not MIN_PLATE <= len(kept) <= MAX_PLATE:
        raise Refusal(
            _(
                "That doesn't look like a car plate. Send the letters and numbers, "
                "like GH51 TRW, or skip this question."
            )
        )
    return kept.translate(_LOOK_ALIKES)


def fold_phone(text: str) -> str:
    """The phone number's folded form (its last 9 digits); refused if it cannot be one."""
    if re.search(r"[^\d\s()+.\-]", text):
        raise Refusal(
            _("That doesn't look like a phone number. Send only the digits, or skip this question.")
        )
    digits = re.sub(r"\D", "", text)
    if not MIN_PHONE <= len(digits) <= MAX_PHONE:
        raise Refusal(
            _("That doesn't look like a phone number. Send only the digits, or skip this question.")
        )
    return digits[-PHONE_DIGITS:]


def hint(text: str) -> str:
    """The last characters as typed, for display: `ab-12 cde` → `CDE`."""
    kept = "".join(ch for ch in text.upper() if ch.isascii() and ch.isalnum())
    return kept[-HINT_CHARS:]


def plate_key(folded: str) -> str:
    """What is hashed for a plate (kept apart from phone numbers and invite codes)."""
    return f"plate:{folded}"


def phone_key(folded: str) -> str:
    """What is hashed for a phone number."""
    return f"phone:{folded}"
