"""The core loop's guided forms: registering, a new PIN after a wipe, the outcall, and the
PINs that check in and unlock. Each is declared once here, with what it does with the
answers; `Conversation.start_form` runs them like every other form (`bot/forms.py`).

```mermaid
stateDiagram-v2
    [*] --> language: /start (new)
    language --> place: several places
    language --> alias: one place
    place --> alias
    alias --> pin
    pin --> again
    again --> [*]: registered
    again --> pin: mismatch
    [*] --> plate: /outcall
    [*] --> plate: location shared
    plate --> due: everything in one message
    plate --> address
    address --> notes
    notes --> due: answer or Skip
    due --> [*]: sealed
    due --> due: time refused
    [*] --> unlock_pin: Unlock
    unlock_pin --> unlock_pin: wrong PIN, tries left
    unlock_pin --> [*]
    [*] --> checkin_pin: I'm safe (check-in PIN on)
    checkin_pin --> checkin_pin: wrong PIN, tries left
    checkin_pin --> [*]
```
Every field also has Stop, and every field after the first has Back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import TYPE_CHECKING

from bot.channels.base import Outbound
from bot.forms import Field, Form, Values
from checkins import report_texts, texts
from checkins.actions import Control, Verb, answer_token
from checkins.context import Refusal, WrongPinRetry
from checkins.i18n import (
    _,
    available_locales,
    current_locale,
    language_name,
    supported_locale,
    switch_locale,
)
from checkins.locations import Location, find_location
from checkins.messages import Button, Identity
from checkins.parsing import parse_outcall_form
from checkins.places import places, read_place, serves_several
from checkins.service import TimeRefusal, check_alias, check_pin, looks_like_full_name

if TYPE_CHECKING:
    from bot.conversation import Conversation


Screen = Callable[[Identity, str], Awaitable[list[str]]]
"""The published warnings a plate matches, for this worker (none if they may not read them)."""


class ReportMatch(Refusal):
    """The outcall's plate matched a warning: the worker chooses to cancel or go anyway."""


class GoChoice(StrEnum):
    CANCEL = "cancel"
    GO = "go"


async def _no_screening(who: Identity, plate: str) -> list[str]:
    return []


# The new PIN once more, when registering or choosing new keys: a typo would lock the keys.
_PIN_AGAIN = Field("again", lambda values: _("Send the same PIN again."), pin=True, same_as="pin")


class CoreForms:
    """The core forms, bound to the conversation whose services they call."""

    def __init__(self, conversation: Conversation) -> None:
        self.conversation = conversation
        # The warning list's screening of an outcall's plate (`bot.report_forms`).
        self.screen: Screen = _no_screening
        self.onboarding = self._onboarding_form()
        self.new_pin = self._new_pin_form()
        self.outcall = self._outcall_form()
        self.checkin_pin = self._checkin_pin_form()
        self.unlock_pin = self._unlock_pin_form()

    def _onboarding_form(self) -> Form:
        """The language first (proposed from the messenger's), then the place where the
        deployment serves several, then the nickname and the PIN."""
        policy = self.conversation.service.policy
        place = Field(
            "place",
            lambda values: _ask_place(),
            lambda text, values: read_place(policy, text),
            buttons=lambda values: texts.place_buttons(places(policy), answer_token),
        )
        return Form(
            "onboarding",
            (
                Field("language", _ask_language, _chosen_language, buttons=_language_buttons),
                *((place,) if serves_several(policy) else ()),
                Field(
                    "alias",
                    _welcome,
                    lambda text, values: check_alias(text),
                    again=lambda values: _("Choose a nickname. Not your real name."),
                ),
                Field("pin", _choose_pin, checked_new_pin, pin=True),
                _PIN_AGAIN,
            ),
            self._register,
        )

    def _new_pin_form(self) -> Form:
        return Form(
            "new_pin",
            (
                Field("pin", _choose_new_keys, checked_new_pin, pin=True),
                _PIN_AGAIN,
            ),
            self._rekey,
        )

    def _outcall_form(self) -> Form:
        return Form(
            "outcall",
            (
                Field("plate", _ask_plate, whole_outcall, secret=True),
                Field("address", _ask_address, secret=True),
                Field("notes", _ask_notes, optional=True, secret=True),
                Field("due", _ask_due, buttons=_due_buttons, secret=True),
                Field("go", _ask_go, _read_go, buttons=_go_buttons, retry_only=True),
            ),
            self._seal,
            retry={TimeRefusal: "due", ReportMatch: "go"},
            deleted=lambda: _("I deleted your messages with the details from this chat."),
            replaced=lambda: _("The outcall you were typing was not saved."),
            expired=lambda: _(
                "You didn't finish the outcall, so nothing was saved and nobody "
                "will be alerted. Send /outcall to start again."
            ),
        )

    def _checkin_pin_form(self) -> Form:
        """The PIN or the duress PIN: the worker's chat must look the same either way."""
        return Form(
            "checkin_pin",
            (
                Field(
                    "pin",
                    lambda values: _("Send your PIN to check in."),
                    pin=True,
                    buttons=lambda values: ((Button(_("I can't give my PIN"), Control.NO_PIN),),),
                ),
            ),
            self._safe_with_pin,
            retry={WrongPinRetry: "pin"},
            deleted=lambda: _("I deleted the message with your PIN from this chat."),
            # Not "nothing was saved": the outcall was saved and is still running.
            stopped=lambda: _(
                "Stopped. You are not checked in: your outcall is still running. "
                "Check in when you are out."
            ),
            safety=Verb.SAFE,
        )

    def _unlock_pin_form(self) -> Form:
        return Form(
            "unlock_pin",
            (Field("pin", lambda values: _("Send your PIN to unlock the details."), pin=True),),
            self._unlock,
            retry={WrongPinRetry: "pin"},
            deleted=None,
            safety=Verb.UNLOCK,
        )

    # -- what the forms do with the answers ------------------------------------------------

    async def _seal(self, who: Identity, values: Values) -> None:
        """Seal and start; first, for a verified worker, the plate is screened against the
        warning list, and on a match they choose to cancel or go (their buddies told)."""
        go = values.get("go", "")
        if go == GoChoice.CANCEL:
            raise Refusal(report_texts.booking_cancelled())
        if not go:
            matches = await self.screen(who, values["plate"])
            if matches:
                raise ReportMatch(report_texts.outcall_warning(matches))
        await self.conversation.run(
            self.conversation.service.start_outcall,
            who,
            values["plate"],
            values["address"],
            values["notes"],
            values["due"],
            go == GoChoice.GO,
            values.get("location", ""),
        )

    async def _register(self, who: Identity, values: Values) -> None:
        await self.conversation.run(
            self.conversation.service.register,
            who,
            values["alias"],
            values["pin"],
            values["language"],
            values.get("place"),  # one place only: the default one
        )
        if values.get("code"):
            await self.conversation.accept_code(who, values["code"])

    async def _rekey(self, who: Identity, values: Values) -> None:
        await self.conversation.run(self.conversation.security.reset_pin, who, values["pin"])

    async def _safe_with_pin(self, who: Identity, values: Values) -> None:
        await self.conversation.run(
            self.conversation.service.check_in, who, values["ref"] or None, values["pin"]
        )

    async def _unlock(self, who: Identity, values: Values) -> None:
        unlocked = await self.conversation.run(
            self.conversation.service.unlock, who, values["ref"], values["pin"]
        )
        channel = self.conversation.channels[who.channel]
        # Decrypted details go straight to the person: never through the outbox, never stored.
        await channel.send(
            Outbound(
                who.channel,
                who.address,
                unlocked.text,
                delete_after_seconds=unlocked.visible_seconds,
            )
        )


def _ask_language(values: Values) -> str:
    # The conversation speaks the messenger's language here, when it gave one.
    return _("I will write to you in {language}. Is that right? Choose your language:").format(
        language=language_name(current_locale())
    )


def _language_buttons(values: Values) -> tuple[tuple[Button, ...], ...]:
    """Every language in its own name, the proposed one first: one tap confirms it."""
    proposed = current_locale()
    ordered = [proposed, *(code for code in available_locales() if code != proposed)]
    return tuple((Button(language_name(code), answer_token(code)),) for code in ordered)


def _chosen_language(text: str, values: Values) -> str:
    """A language tapped, typed by code (es, pt-BR) or by its own name (Español); from
    here on every question is in it."""
    typed = text.strip().casefold()
    named = {language_name(code).casefold(): code for code in available_locales()}
    locale = named.get(typed) or supported_locale(typed)
    if locale is None:
        raise Refusal(
            _("I can't speak that language yet. I can speak: {languages}.").format(
                languages=", ".join(language_name(code) for code in available_locales())
            )
        )
    switch_locale(locale)
    return locale


def _ask_place() -> str:
    return _(
        "Where do you work? Each place has its own rules about who is told if you miss a "
        "check-in. You can change it later with /place."
    )


def _welcome(values: Values) -> str:
    return _(
        "Welcome to buddycheck.\n"
        "Before a booking, you tell me the client's car plate and the address. "
        "If you don't check in on time, your buddies are alerted. "
        "Only they can read the details, and only then.\n\n"
        "First, choose a nickname. Not your real name."
    )


def _choose_pin(values: Values) -> str:
    alias = values["alias"]
    prompt = _(
        "Hi {alias}. Now choose a PIN of 6 to 12 digits. You'll need it to open a "
        "buddy's details in an emergency. Don't use your phone's PIN."
    ).format(alias=alias)
    if not looks_like_full_name(alias):
        return prompt
    warning = _(
        '⚠️ "{alias}" looks like a first and last name. Your buddies and the organisation '
        "see your nickname. If it is your real name, choose Back and pick another."
    ).format(alias=alias)
    return warning + "\n\n" + prompt


def _choose_new_keys(values: Values) -> str:
    return _(
        "Choose a new PIN of 6 to 12 digits. You'll get new keys: details sealed to "
        "your old keys can't be opened any more."
    )


def checked_new_pin(text: str, values: Values) -> str:
    """A new PIN (or duress PIN) must be one a thief can't guess first (`check_pin`); the
    parser of every field that sets one."""
    check_pin(text)
    return text


def _ask_plate(values: Values) -> str:
    return _(
        "What is the client's car plate? (Send ? if you don't know.)\n\n"
        "Or send it all in one message, each on its own line: the plate, the address, "
        "how long until you check in (like 1h), and anything else."
    )


def _ask_address(values: Values) -> str:
    return _(
        "What is the address? Add the flat or room if you know it. Or share your location instead."
    )


def located(place: Location) -> str:
    """Said when a shared location becomes the outcall's address."""
    text = _(
        "Got your location. It is sealed with the other details: only your buddies can "
        "open it, and only if you don't check in."
    )
    if place.live:
        text += " " + _(
            "I keep only where you are now, not where you go next. To let a buddy follow "
            "you, share your live location with them directly."
        )
    return text


def place_values(place: Location, typed: str = "") -> Values:
    """A shared location as the outcall's address: its words (or the address `typed`
    before, when it came with none) and the point."""
    return {"address": place.label or typed, "location": place.coordinates}


def outcall_values(text: str) -> Values:
    """What one message gives of an outcall (`parse_outcall_form`): the parts it has, an
    address that is a map link as a location, and the notes settled once the time is there
    (so only what is missing is asked)."""
    form = parse_outcall_form(text)
    values: Values = {}
    if form.plate:
        values["plate"] = form.plate
    if form.address:
        place = find_location(form.address)
        values.update(place_values(place) if place else {"address": form.address})
    if form.notes:
        values["notes"] = form.notes
    if form.due is not None:
        values["due"] = form.due
        values.setdefault("notes", "")
    return values


def whole_outcall(text: str, values: Values) -> str:
    """The plate, or the whole outcall typed in one message (several lines, or parts with
    `|`): the other parts become the form's answers too, and only what is missing is asked
    next. The one parser that fills more than its own field, because the plate question
    says it may be answered this way."""
    given = outcall_values(text)
    values.update((key, value) for key, value in given.items() if key != "plate")
    return given.get("plate", text)


def _ask_notes(values: Values) -> str:
    return _(
        "Anything else your buddies should know? (client's name, phone, what the car "
        "looks like). Or choose Skip."
    )


def _ask_due(values: Values) -> str:
    return _("How long until you check in? Choose one, or send a time like 90m or 23:30.")


def _due_buttons(values: Values) -> tuple[tuple[Button, ...], ...]:
    return (
        (
            Button(_("30 min"), answer_token("30m")),
            Button(_("1 hour"), answer_token("1h")),
            Button(_("2 hours"), answer_token("2h")),
        ),
    )


def _ask_go(values: Values) -> str:
    return report_texts.outcall_choice()


def _read_go(text: str, values: Values) -> str:
    if text not in set(GoChoice):
        raise Refusal(_("Please choose one of the options below."))
    return text


def _go_buttons(values: Values) -> tuple[tuple[Button, ...], ...]:
    return (
        (Button(report_texts.cancel_booking(), answer_token(GoChoice.CANCEL)),),
        (Button(report_texts.go_anyway(), answer_token(GoChoice.GO)),),
    )
