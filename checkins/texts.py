"""The domain's wording: every message the service and the engine send, in one place.

Call these inside `use_locale(recipient.locale)`. Sentences are short and plain: the reader
may be frightened, tired, or reading a second language on a cracked phone at 2 a.m.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_time, format_timedelta

from checkins.actions import Action, Verb
from checkins.i18n import _, current_locale, ngettext
from checkins.messages import Button, Kind, Message
from checkins.sealing import Details


def clock(moment: datetime, timezone: str) -> str:
    """A time of day in the reader's zone and language, e.g. `23:30` or `11:30 PM`."""
    return format_time(moment, "short", tzinfo=ZoneInfo(timezone), locale=current_locale())


def span(delta: timedelta) -> str:
    """A rounded length of time in words, e.g. `90 minutes`."""
    return format_timedelta(delta, threshold=2, locale=current_locale())


@dataclass(frozen=True)
class Reader:
    """What wording needs to know about its reader besides the language: their timezone."""

    timezone: str

    def at(self, moment: datetime) -> str:
        return clock(moment, self.timezone)


Builder = Callable[[Reader], Message]


def worker_buttons(ref: str) -> tuple[tuple[Button, ...], ...]:
    return (
        (
            Button(_("I'm safe ✅"), Action(Verb.SAFE, ref).token()),
            Button(_("+30 min"), Action(Verb.EXTEND, ref, 30).token()),
        ),
        (Button(_("SOS 🆘"), Action(Verb.SOS, ref).token()),),
    )


def alert_buttons(ref: str, worker_alias: str) -> tuple[tuple[Button, ...], ...]:
    return (
        (
            Button(_("Unlock details 🔓"), Action(Verb.UNLOCK, ref).token()),
            Button(_("I'm on it 🙋"), Action(Verb.ON_IT, ref).token()),
        ),
        (
            Button(
                _("{alias} is safe 💚").format(alias=worker_alias),
                Action(Verb.CONFIRM_SAFE, ref).token(),
            ),
        ),
    )


def registered(alias: str) -> Message:
    return Message(
        _(
            "Welcome, {alias}. Your PIN is set.\n"
            "Remember it: you need it to open a buddy's details in an emergency, "
            "and nobody can recover it for you.\n\n"
            "Next: invite a buddy you trust with /invite."
        ).format(alias=alias)
    )


def invite_created(code: str, expires: str, link: str | None) -> Message:
    text = _(
        "Your buddy code: {code}\n"
        "Give it only to someone you trust. They send it to this bot "
        "(/accept {code}) to become your buddy.\n"
        "It works once and expires at {time}."
    ).format(code=code, time=expires)
    if link:
        text += "\n" + _("Or send them this link: {link}").format(link=link)
    return Message(text)


def buddy_added_for_worker(buddy_alias: str) -> Message:
    return Message(
        _(
            "{alias} is now your buddy. If you miss a check-in, they will be alerted.\n"
            "Before a booking, send /outcall."
        ).format(alias=buddy_alias)
    )


def buddy_added_for_buddy(worker_alias: str) -> Message:
    return Message(
        _(
            "You are now {alias}'s buddy. If {alias} misses a check-in, "
            "you will get an alert here. Please keep notifications on for this chat."
        ).format(alias=worker_alias)
    )


def pairing_ended(other_alias: str) -> Message:
    return Message(
        _("You and {alias} are no longer buddies. Alerts between you have stopped.").format(
            alias=other_alias
        )
    )


def outcall_started(ref: str, due: str, left: str, buddy_aliases: list[str]) -> Message:
    return Message(
        _(
            "🔒 Saved and sealed. Only your buddies ({names}) can open the details, "
            "and only if you miss your check-in.\n"
            "Check in by {time} (in {left}).\n"
            "Tap I'm safe when you're out."
        ).format(names=", ".join(buddy_aliases), time=due, left=left),
        worker_buttons(ref),
    )


def reminder_before_due(ref: str, due: str) -> Message:
    return Message(
        _(
            "⏰ Your check-in is due at {time}.\n"
            "Tap I'm safe when you're out, or +30 min if you need longer."
        ).format(time=due),
        worker_buttons(ref),
        kind=Kind.REMINDER,
    )


def reminder_overdue(ref: str, due: str, next_alert: str | None) -> Message:
    text = _("⏰ Your check-in time ({time}) has passed. Are you OK? Tap I'm safe.").format(
        time=due
    )
    if next_alert:
        text += "\n" + _(
            "If we don't hear from you, your buddies will be alerted at {time}."
        ).format(time=next_alert)
    return Message(text, worker_buttons(ref), kind=Kind.REMINDER)


def alert(ref: str, worker_alias: str, due: str, sos: bool, repeat: bool) -> Message:
    if sos:
        head = _("🆘 {alias} pressed SOS. They may be in danger right now.")
    elif repeat:
        head = _("🚨 Still no check-in from {alias}. Nobody has confirmed they are safe.")
    else:
        head = _("🚨 {alias} missed their check-in (due {time}).")
    body = _(
        "Try to reach them now.\n"
        "Tap Unlock details to see where they went (you need your PIN).\n"
        "Tap I'm on it if you are handling it, so others know."
    )
    return Message(
        head.format(alias=worker_alias, time=due) + "\n" + body,
        alert_buttons(ref, worker_alias),
        kind=Kind.ALERT,
    )


def acknowledged_by_you(ref: str, worker_alias: str, deadline: str) -> Message:
    return Message(
        _(
            "🙋 Thank you. You are handling {alias}'s alert; the others have been told.\n"
            "When you know {alias} is safe, tap {alias} is safe.\n"
            "If it isn't settled by {time}, the next people will be alerted."
        ).format(alias=worker_alias, time=deadline),
        alert_buttons(ref, worker_alias),
        kind=Kind.ALERT,
    )


def acknowledged_by_other(handler_alias: str, worker_alias: str) -> Message:
    return Message(
        _(
            "{handler} is handling {alias}'s alert. Please stay reachable in case they need help."
        ).format(handler=handler_alias, alias=worker_alias),
        kind=Kind.ALERT,
    )


def checked_in(late: bool) -> Message:
    text = _("✅ Glad you're safe. The details are destroyed.")
    if late:
        text += "\n" + _("Everyone who was alerted has been told you're safe.")
    return Message(text)


def ended_for_alerted(worker_alias: str, how: str, by_alias: str | None) -> Message:
    texts = {
        "checked_in": _("✅ {alias} checked in: they are safe. Thank you."),
        "confirmed": _("💚 {by} confirmed {alias} is safe. Thank you."),
        "expired": _("{alias}'s alert was closed without an answer after the retention limit."),
    }
    text = texts[how].format(alias=worker_alias, by=by_alias or "")
    return Message(text + "\n" + _("The details have been destroyed."), kind=Kind.ALERT)


def confirmed_safe_for_worker(by_alias: str) -> Message:
    return Message(
        _("💚 {by} confirmed you are safe. The details are destroyed.").format(by=by_alias)
    )


def expired_for_worker() -> Message:
    return Message(
        _("Your outcall was closed after the retention limit. The details are destroyed.")
    )


def cancelled() -> Message:
    return Message(_("Cancelled. The details are destroyed."))


def extended(ref: str, due: str) -> Message:
    return Message(_("⏱ Done. Check in by {time}.").format(time=due), worker_buttons(ref))


def stand_down(worker_alias: str, due: str) -> Message:
    return Message(
        _(
            "✅ {alias} checked in and asked for more time (now due {time}). "
            "You can stand down. You'll be alerted again if they miss it."
        ).format(alias=worker_alias, time=due),
        kind=Kind.ALERT,
    )


def sos_sent(has_buddies: bool) -> Message:
    if has_buddies:
        return Message(_("🆘 SOS sent. Your buddies are being alerted now."), kind=Kind.ALERT)
    return Message(
        _("🆘 SOS received, but you have no buddies to alert. Invite one with /invite."),
        kind=Kind.ALERT,
    )


def buddy_unreachable(buddy_alias: str) -> Message:
    return Message(
        _(
            "⚠️ We couldn't reach {alias}. They may have blocked the bot. "
            "They won't get your alerts until they message the bot again. See /buddies."
        ).format(alias=buddy_alias),
        kind=Kind.REMINDER,
    )


def unlocked(worker_alias: str, details: Details, visible: timedelta) -> str:
    minutes = max(1, int(visible.total_seconds() // 60))
    lines = [
        _("🔓 {alias}'s details:").format(alias=worker_alias),
        _("Car plate: {plate}").format(plate=details.plate),
        _("Address: {address}").format(address=details.address),
    ]
    if details.notes:
        lines.append(_("Notes: {notes}").format(notes=details.notes))
    lines.append(
        ngettext(
            "This message will be deleted in {n} minute.",
            "This message will be deleted in {n} minutes.",
            minutes,
        ).format(n=minutes)
    )
    return "\n".join(lines)
