"""Guided forms: questions asked one at a time, with the same controls in every form.

Onboarding, the outcall, the check-in and unlock PINs, settings' PIN changes and the admin
menu's questions are each one `Form`: a list of `Field`s and what to do with the answers.
The conversation runs every form the same way (`Conversation.start_form`): it asks the first
field without an answer; Back asks the one before again, Skip passes an optional one, Stop
ends the form, a bad answer is re-asked with what was wrong, and a form left too long is
forgotten. What is typed lives only in memory (`Pending`), never in the database.

PTB's `ConversationHandler` makes the same point: the states and their answers are one
declaration, not `if` chains in each handler.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from checkins.actions import Control, Verb
from checkins.context import Refusal
from checkins.i18n import _
from checkins.messages import Button, Identity

Rows = tuple[tuple[Button, ...], ...]
Values = dict[str, str]
Parser = Callable[[str, Values], str]
"""Turns a typed answer into the value kept, given the answers so far; a `Refusal` says
what was wrong, and the same question is asked again."""


def as_typed(text: str, values: Values) -> str:
    """The answer as it was typed."""
    return text


def no_buttons(values: Values) -> Rows:
    return ()


@dataclass(frozen=True)
class Field:
    """One question.

    `buttons` are extra rows above the form's controls (a button that answers the question
    carries `actions.answer_token(value)`). `secret` answers (outcall details) have their
    messages deleted from the chat when the form ends, however it ends; `pin` answers too,
    and they are typed on the PIN keypad and never rate-limited. `same_as` names an earlier
    answer this one must repeat (a new PIN, twice); on a mismatch both are asked again.
    A `many` field takes several messages until a button with `Control.DONE` is tapped.
    `again` is a shorter question for asking again, when `prompt` is long. A `retry_only`
    field is asked only when `finish` refuses with a retry naming it (the outcall's "go
    anyway?" after its plate matched a warning).
    """

    key: str
    prompt: Callable[[Values], str]
    parse: Parser = as_typed
    buttons: Callable[[Values], Rows] = no_buttons
    optional: bool = False
    secret: bool = False
    pin: bool = False
    same_as: str | None = None
    many: bool = False
    again: Callable[[Values], str] | None = None
    retry_only: bool = False

    @property
    def deletes_answer(self) -> bool:
        """Whether the message answering this is deleted from the chat when the form ends."""
        return self.secret or self.pin


Finish = Callable[[Identity, Values], Awaitable[None]]


def _stopped() -> str:
    return _("Stopped. Nothing was saved.")


def _pins_deleted() -> str:
    return _("I deleted the messages with your PIN from this chat.")


@dataclass(frozen=True)
class Form:
    """A guided form: its fields, and `finish` with every answer (and the values it was
    started with, such as an alert's ref).

    A `Refusal` from `finish` whose class is in `retry` asks that field again (a wrong PIN
    with tries left, an unreadable time); any other ends the form, and the person is told.
    `deleted` is said once the form's secret messages are deleted (None: delete quietly);
    `replaced` and `expired` are said when another form replaces this one, or when it is
    left longer than `STEP_TTL`, for forms whose loss matters (an unsaved outcall).
    A PIN typed into a form with `safety` is that safety action (its own threads, retried).
    """

    name: str
    fields: tuple[Field, ...]
    finish: Finish
    retry: Mapping[type[Refusal], str] = field(default_factory=dict)
    deleted: Callable[[], str] | None = _pins_deleted
    stopped: Callable[[], str] = _stopped
    replaced: Callable[[], str] | None = None
    expired: Callable[[], str] | None = None
    safety: Verb | None = None

    def index(self, key: str) -> int:
        return next(i for i, f in enumerate(self.fields) if f.key == key)

    def retry_field(self, refusal: Refusal) -> int | None:
        """Which field to ask again after `finish` refused, if any."""
        for kind, key in self.retry.items():
            if isinstance(refusal, kind):
                return self.index(key)
        return None


@dataclass
class Pending:
    """A form someone is in the middle of: memory only, gone after `STEP_TTL`."""

    form: Form
    values: Values = field(default_factory=dict)
    at: int = 0
    started: float = field(default_factory=time.monotonic)
    # The person's messages that carried details or a PIN, deleted when this ends.
    refs: list[str] = field(default_factory=list)

    @property
    def current(self) -> Field:
        """The question being asked."""
        return self.form.fields[self.at]

    def next_missing(self, start: int) -> int | None:
        """The first field from `start` on without an answer (None: all answered)."""
        for index in range(start, len(self.form.fields)):
            question = self.form.fields[index]
            if question.key not in self.values and not question.retry_only:
                return index
        return None

    def buttons(self) -> Rows:
        """The question's own rows, then Skip (optional), then Back (after the first) and Stop."""
        question = self.current
        rows = list(question.buttons(self.values))
        if question.optional:
            rows.append((Button(_("Skip"), Control.SKIP),))
        stop = Button(_("Stop"), Control.STOP)
        rows.append((Button(_("Back"), Control.BACK), stop) if self.at else (stop,))
        return tuple(rows)
