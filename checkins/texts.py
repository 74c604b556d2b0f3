"""The domain's wording: every message the service and the engine send, in one place.

Call these inside `use_locale(recipient.locale)`. Sentences are short and plain: the reader
may be frightened, tired, or reading a second language on a cracked phone at 2 a.m.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import (
    format_skeleton,
    format_time,
    format_timedelta,
    get_datetime_format,
    get_timezone_name,
)

from checkins.actions import (
    Action,
    AdminOp,
    Control,
    Menu,
    OrgText,
    PlaceStep,
    Timing,
    Toggle,
    Verb,
    admin_token,
    menu_token,
)
from checkins.i18n import _, current_locale, ngettext
from checkins.ladder import Ladder, LegalModel, Notify
from checkins.locations import map_link
from checkins.messages import Button, Kind, Message
from checkins.policy import Jurisdiction
from checkins.sealing import Details


def clock(moment: datetime, timezone: str) -> str:
    """A time of day in the reader's zone and language, e.g. `23:30` or `11:30 PM`."""
    return format_time(moment, "short", tzinfo=ZoneInfo(timezone), locale=current_locale())


def day_and_time(moment: datetime, timezone: str) -> str:
    """A day and a time in the reader's zone and language, e.g. `Tue, Nov 24, 8:34 PM` or
    `mar, 24 de noviembre, 20:34`: for what may be tomorrow (a code's expiry), where a time
    alone would leave the reader guessing which day."""
    zone, locale = ZoneInfo(timezone), current_locale()
    day = format_skeleton("MMMMEd", moment, tzinfo=zone, locale=locale)
    time = format_time(moment, "short", tzinfo=zone, locale=locale)
    pattern = str(get_datetime_format("medium", locale=locale))
    return pattern.replace("{1}", day).replace("{0}", time)


def span(delta: timedelta) -> str:
    """A rounded length of time in words, e.g. `90 minutes`."""
    return format_timedelta(delta, threshold=2, locale=current_locale())


def zone_name(timezone: str) -> str:
    """A timezone as people say it, in the reader's language: `New Zealand Time`."""
    return get_timezone_name(ZoneInfo(timezone), locale=current_locale())


@dataclass(frozen=True)
class Reader:
    """What wording needs to know about its reader besides the language: their timezone, and
    the timezone of the outcall a message is about (`place_zone`), when it is another one.
    `at` is a time; `on` a day and time."""

    timezone: str
    place_zone: str | None = None

    def at(self, moment: datetime) -> str:
        """A time in the reader's zone; a time of an outcall in another zone is the worker's
        time with its zone, then the reader's own, so nobody misreads how late it is."""
        if self.place_zone is None or self.place_zone == self.timezone:
            return clock(moment, self.timezone)
        return _("{time} {zone} ({own} for you)").format(
            time=clock(moment, self.place_zone),
            zone=zone_name(self.place_zone),
            own=clock(moment, self.timezone),
        )

    def on(self, moment: datetime) -> str:
        """A day and time in the reader's zone (when a code expires)."""
        return day_and_time(moment, self.timezone)


def place_name(place: Jurisdiction) -> str:
    """A place's name in the reader's language, else in the place's, else its id."""
    names = place.names
    return (
        names.get(current_locale())
        or names.get(current_locale().split("_")[0])
        or names.get(place.locale)
        or place.id
    )

    def on(self, moment: datetime) -> str:
        return day_and_time(moment, self.timezone)


Builder = Callable[[Reader], Message]


def worker_buttons(ref: str) -> tuple[tuple[Button, ...], ...]:
    return (
        (
            Button(_("I'm safe ✅"), Action(Verb.SAFE, ref).token()),
            Button(_("+30 min"), Action(Verb.EXTEND, ref, 30).token()),
        ),
        (Button(_("SOS 🆘"), Action(Verb.SOS, ref).token()),),
    )


def alert_buttons(
    ref: str, worker_alias: str, *, unlock: bool = True
) -> tuple[tuple[Button, ...], ...]:
    """I'm on it and confirm safe; Unlock only for someone who may hold a sealed copy."""
    first: tuple[Button, ...] = (Button(_("I'm on it 🙋"), Action(Verb.ON_IT, ref).token()),)
    if unlock:
        first = (Button(_("Unlock details 🔓"), Action(Verb.UNLOCK, ref).token()), *first)
    return (
        first,
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
        "It works once and expires on {when}."
    ).format(code=code, when=expires)
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


def no_buddy_for_outcall() -> str:
    """Said before any detail is asked or sealed: with nobody to seal to, nobody is alerted."""
    return _(
        "You don't have a buddy yet, so nobody could be alerted. "
        "Send /invite and give the code to someone you trust."
    )


def outcall_started(
    ref: str, due: str, left: str, buddy_aliases: list[str], *, responders: bool = False
) -> Message:
    if responders:
        who = _(
            "Only your buddies ({names}) and the organisation's responders on duty "
            "can open the details, and only if you miss your check-in."
        )
    else:
        who = _(
            "Only your buddies ({names}) can open the details, and only if you miss your check-in."
        )
    return Message(
        _("🔒 Saved and sealed.")
        + " "
        + who.format(names=", ".join(buddy_aliases))
        + "\n"
        + _(
            "Check in by {time} (in {left}).\nWhen you're out, send SAFE or choose I'm safe below."
        ).format(time=due, left=left),
        worker_buttons(ref),
    )


def reminder_before_due(ref: str, due: str) -> Message:
    return Message(
        _(
            "⏰ Your check-in is due at {time}.\n"
            "When you're out, send SAFE. If you need longer, send +30."
        ).format(time=due),
        worker_buttons(ref),
        kind=Kind.REMINDER,
    )


def reminder_overdue(ref: str, due: str, next_alert: str | None) -> Message:
    text = _("⏰ Your check-in time ({time}) has passed. Are you OK? Send SAFE.").format(time=due)
    if next_alert:
        text += "\n" + _(
            "If we don't hear from you, your buddies will be alerted at {time}."
        ).format(time=next_alert)
    return Message(text, worker_buttons(ref), kind=Kind.REMINDER)


def alert(
    ref: str,
    worker_alias: str,
    due: str,
    sos: bool,
    repeat: bool,
    duress: bool = False,
    unlock: bool = True,
    *,
    steps: str | None,
) -> Message:
    """An alert to someone in the worker's chain: what happened, what to do (`steps`, the
    response protocol; None under duress), and Unlock only for a holder of a sealed copy."""
    if duress:
        head = _("🆘 {alias} checked in with their danger PIN. Someone may be forcing them.")
    elif sos:
        head = _("🆘 {alias} pressed SOS. They may be in danger right now.")
    elif repeat:
        head = _("🚨 Still no check-in from {alias}. Nobody has confirmed they are safe.")
    else:
        head = _("🚨 {alias} missed their check-in (due {time}).")
    body = _take_it(unlock)
    if steps and not duress:  # contacting someone under duress could put them in danger
        body = what_to_do(steps) + "\n" + body
    message = Message(
        head.format(alias=worker_alias, time=due) + "\n" + body,
        alert_buttons(ref, worker_alias, unlock=unlock),
        kind=Kind.ALERT,
    )
    return with_duress_warning(message, worker_alias) if duress else message


def what_to_do(steps: str) -> str:
    """The response protocol as it appears in an alert: a heading, then one bullet per
    line. Never numbers: on Signal and the console a reply of "2" picks a menu choice, and
    a checklist's "2." beside the alert's numbered replies would invite the wrong one. A
    protocol an admin numbered is shown with bullets too."""
    lines = (_LIST_MARK.sub("", line).strip() for line in steps.splitlines())
    return _("What to do:") + "".join(f"\n• {line}" for line in lines if line)


# A list number or bullet an admin may have begun a protocol line with: "1.", "2)", "-", "•".
_LIST_MARK = re.compile(r"^\s*(?:\d{1,2}[.)]|[-*•])\s+")


def default_protocol(worker_alias: str, legal_model: LegalModel, unlock: bool) -> str:
    """The checklist alerts show until the organisation writes its own (`/admin` → Response
    protocol). Written for peers. Only where sex work is decriminalised does it mention the
    emergency number: elsewhere police may be the danger, so it never points to them."""
    steps = [_("Call or message {alias} now, the way you usually reach them.")]
    if unlock:
        steps.append(
            _(
                "No answer? Unlock the details and agree with the others who goes to check. "
                "Never go alone."
            )
        )
    else:
        steps.append(_("No answer? Agree with the others who checks on them. Never go alone."))
    steps.append(_("Keep what you learn private: share it only with the people helping."))
    if legal_model is LegalModel.DECRIMINALISED:
        steps.append(
            _("If you think they are in danger right now, you can call the emergency number.")
        )
    return "\n".join(step.format(alias=worker_alias) for step in steps)


def with_duress_warning(message: Message, worker_alias: str) -> Message:
    """Any alert about a duress outcall: contacting the worker could put them in danger.

    The warning comes first and overrides any "try to reach them" in the message below it.
    """
    warning = _(
        "⚠️ {alias} may be with someone dangerous. Do NOT message or call {alias}, "
        "not even to check: that person may see it. Use the details and work with the others."
    ).format(alias=worker_alias)
    return Message(warning + "\n" + message.text, message.buttons, kind=message.kind)


def acknowledged_by_you(
    ref: str, worker_alias: str, deadline: str, unlock: bool, *, relay: bool = False
) -> Message:
    """To the person who took the alert; `relay` offers messaging the worker through the bot
    (never under duress)."""
    buttons = alert_buttons(ref, worker_alias, unlock=unlock)
    if relay:
        buttons = (relay_buttons(ref, worker_alias)[0], *buttons)
    return Message(
        _(
            "🙋 Thank you. You are handling {alias}'s alert; the others have been told.\n"
            "When you know {alias} is safe, choose {alias} is safe below.\n"
            "If it isn't settled by {time}, the next people will be alerted."
        ).format(alias=worker_alias, time=deadline),
        buttons,
        kind=Kind.ALERT,
    )


# -- messages through the bot between an alert's handler and its worker --------------------


def relay_buttons(ref: str, other_alias: str) -> tuple[tuple[Button, ...], ...]:
    label = _("💬 Message {alias} through the bot").format(alias=other_alias)
    return ((Button(label, menu_token(Menu.RELAY, ref)),),)


def relay_prompt(reader_alias: str) -> str:
    return _(
        "Write your message to {alias} and send it. The bot passes it on: {alias} sees "
        "your nickname, never your number or account. The bot keeps no copy."
    ).format(alias=reader_alias)


def relayed(sender_alias: str, text: str, *, to_worker: bool) -> Message:
    """A relayed message as its reader sees it: who wrote it, then exactly what they wrote."""
    if to_worker:
        head = _("💬 {alias}, who is handling your alert, writes through the bot:")
    else:
        head = _("💬 {alias} answers through the bot:")
    return Message(head.format(alias=sender_alias) + "\n" + text, kind=Kind.ALERT)


def relay_sent(reader_alias: str) -> str:
    return _("✉️ Sent to {alias}. Their answer will come here.").format(alias=reader_alias)


def relay_not_delivered(reader_alias: str) -> str:
    return _(
        "Your message could not be delivered to {alias} right now, and the bot kept no copy. "
        "Please send it again in a minute."
    ).format(alias=reader_alias)


def relay_closed() -> str:
    return _("This alert has ended, so messages through the bot have stopped. Nothing was sent.")


def relay_refused_under_duress(worker_alias: str) -> str:
    return _(
        "{alias} may be with someone dangerous: do NOT message them, not even through the "
        "bot. Nothing was sent."
    ).format(alias=worker_alias)


def relay_only_handler(worker_alias: str) -> str:
    return _(
        "Only the person handling {alias}'s alert can message them through the bot. "
        "Nothing was sent."
    ).format(alias=worker_alias)


def relay_empty() -> str:
    return _("That message has no text I can pass on. Write your message, or choose Stop.")


def relay_too_long(most: int) -> str:
    return _(
        "That message is too long to pass on: the most is {n} characters. Please shorten it."
    ).format(n=most)


def relay_stopped() -> str:
    return _("Stopped. Nothing was sent.")


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
        "confirmed_by_you": _("💚 You confirmed {alias} is safe. Everyone alerted has been told."),
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


def protected_while_running() -> str:
    """Refusal: with the check-in PIN on, whoever holds the phone must not weaken the alerts."""
    return _(
        "Your check-in PIN is on and an outcall is running, so this can't be changed now. "
        "Check in with your PIN first, then try again."
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


def sos_sent(buddies: int, others: int) -> Message:
    """Who an SOS actually alerted: `buddies` of the worker's, and `others` (the
    organisation's responders or admins). Never "your buddies" when there are none."""
    if buddies and others:
        text = _(
            "🆘 SOS sent. Your buddies and the organisation's responders are being alerted now."
        )
    elif buddies:
        text = _("🆘 SOS sent. Your buddies are being alerted now.")
    elif others:
        text = _(
            "🆘 SOS sent. You have no buddies, so only the organisation's responders are being "
            "alerted now. Invite a buddy with /invite."
        )
    else:
        text = _(
            "🆘 SOS received, but nobody could be alerted: you have no buddies and no "
            "responder is on duty. If you are in danger, get help from someone near you now. "
            "Invite a buddy with /invite."
        )
    return Message(text, kind=Kind.ALERT)


def buddy_unreachable(buddy_alias: str) -> Message:
    return Message(
        _(
            "⚠️ We couldn't reach {alias}. They may have blocked the bot. "
            "They won't get your alerts until they message the bot again. See /buddies."
        ).format(alias=buddy_alias),
        kind=Kind.REMINDER,
    )


def buddy_not_getting_through(buddy_alias: str) -> Message:
    return Message(
        _(
            "⚠️ Your alert is not getting through to {alias} right now. We keep trying. "
            "If you are safe, check in now. See /buddies."
        ).format(alias=buddy_alias),
        kind=Kind.REMINDER,
    )


def known(value: str) -> bool:
    """Whether a detail says something: the plate question invites `?` for "don't know"."""
    return bool(value.strip(" ?-"))


def unlocked(worker_alias: str, details: Details, visible: timedelta) -> str:
    minutes = max(1, int(visible.total_seconds() // 60))
    lines = [
        _("🔓 {alias}'s details:").format(alias=worker_alias),
        _("Car plate: {plate}").format(plate=details.plate)
        if known(details.plate)
        else _("Car plate: not known (they didn't know it)"),
    ]
    if details.address or not details.location:
        lines.append(_("Address: {address}").format(address=details.address))
    if details.location:
        lines.append(_("Shared location: {link}").format(link=map_link(details.location)))
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


# -- the organisation: responders, admins, the emergency contact ---------------------------


def _take_it(unlock: bool) -> str:
    text = _("If you take it, send ON IT, so the others know.")
    if unlock:
        text = _("To see where they went, send UNLOCK (you need your PIN).") + "\n" + text
    return text


def responder_alert(
    ref: str,
    worker_alias: str,
    due: str,
    sos: bool,
    unlock: bool,
    duress: bool = False,
    *,
    steps: str | None,
) -> Message:
    """An on-duty responder's alert; under duress it never asks them to contact the worker."""
    if duress:
        head = _("🆘 {alias} checked in with their danger PIN. Someone may be forcing them.")
    elif sos:
        head = _("🆘 {alias} pressed SOS. They may be in danger right now.")
    else:
        head = _(
            "🚨 {alias} missed their check-in (due {time}) and their buddies haven't answered."
        )
    lines = [head.format(alias=worker_alias, time=due)]
    lines.append(_("You are getting this as an on-duty responder."))
    if steps and not duress:
        lines.append(what_to_do(steps))
    lines.append(_take_it(unlock))
    return Message(
        "\n".join(lines), alert_buttons(ref, worker_alias, unlock=unlock), kind=Kind.ALERT
    )


def last_resort_alert(
    ref: str, worker_alias: str, due: str, unlock: bool, *, steps: str | None
) -> Message:
    lines = [
        _(
            "🚨 Nobody has settled {alias}'s alert (check-in was due {time}). "
            "Their buddies and the on-duty responders were alerted.\n"
            "You are getting this as an admin, because everyone else has been tried. "
            "Please make sure someone reaches {alias} now."
        ).format(alias=worker_alias, time=due)
    ]
    if steps:
        lines.append(what_to_do(steps))
    lines.append(_take_it(unlock))
    return Message(
        "\n".join(lines), alert_buttons(ref, worker_alias, unlock=unlock), kind=Kind.ALERT
    )


def already_handled(handler_alias: str, worker_alias: str) -> str:
    return _(
        "{handler} is already handling {alias}'s alert. "
        "Please stay reachable in case they need help."
    ).format(handler=handler_alias, alias=worker_alias)


def emergency_alert(
    worker_alias: str, due: str, alerted: int, handler_alias: str | None, sos: bool
) -> Message:
    if sos:
        head = _("buddycheck emergency alert: {alias} (a nickname) pressed SOS.")
    else:
        head = _(
            "buddycheck emergency alert: {alias} (a nickname) missed a safety check-in due {time}."
        )
    lines = [
        head.format(alias=worker_alias, time=due),
        ngettext(
            "{n} person (buddies, responders) was alerted. Nobody has confirmed they are safe.",
            "{n} people (buddies, responders) were alerted. Nobody has confirmed they are safe.",
            alerted,
        ).format(n=alerted),
    ]
    if handler_alias:
        lines.append(_("{handler} said they were handling it.").format(handler=handler_alias))
    else:
        lines.append(_("Nobody has said they are handling it."))
    lines.append(
        _(
            "This service cannot see where they went: only their buddies can open those details. "
            "You will get another message when the alert ends."
        )
    )
    return Message("\n".join(lines), kind=Kind.EMERGENCY)


def emergency_stand_down(worker_alias: str, how: str) -> Message:
    """`how`: "safe" (ended well), "extended" (checked in for more time), "expired"."""
    if how == "safe":
        text = _("buddycheck: stand down. {alias} is safe; the alert has ended. No action needed.")
    elif how == "extended":
        text = _(
            "buddycheck: stand down. {alias} has checked in and asked for more time. "
            "If they miss the new time, you will get a new alert."
        )
    else:
        text = _(
            "buddycheck: {alias}'s alert was closed after the retention limit without an answer. "
            "No more updates will come from this service."
        )
    return Message(text.format(alias=worker_alias), kind=Kind.EMERGENCY)


def emergency_contact_unreachable(jurisdiction: str) -> Message:
    return Message(
        _(
            "The emergency contact for {place} could not be reached: it refused the alert. "
            "You got the alert instead. Please ask your server operator to check "
            "emergency_contact for {place} in the configuration."
        ).format(place=jurisdiction),
        kind=Kind.ALERT,
    )


def duty_buttons() -> tuple[tuple[Button, ...], ...]:
    return (
        (
            Button(_("On duty ✅"), menu_token(Menu.DUTY, Toggle.ON)),
            Button(_("Off duty 💤"), menu_token(Menu.DUTY, Toggle.OFF)),
        ),
    )


def duty_status(on: bool) -> Message:
    if on:
        text = _(
            "You are on duty. When a worker's buddies don't answer, you get the alert. "
            "Choose Off duty below when you can't respond."
        )
    else:
        text = _(
            "You are off duty. You get no responder alerts. "
            "Choose On duty below when you can respond."
        )
    return Message(text, duty_buttons())


def duty_changed(on: bool) -> Message:
    if on:
        return Message(_("✅ You are on duty now. Keep notifications on for this chat."))
    return Message(_("💤 You are off duty now. You won't get responder alerts."))


def not_a_responder() -> str:
    return _(
        "Only the organisation's responders can go on duty. "
        "If you should be one, ask an admin of your organisation for an invite."
    )


def emergency_notice(after: str, contact_kind: str, opted_in: bool) -> str:
    """`contact_kind` is "webhook" or a messenger name; the contact's address is never shown."""
    if contact_kind == "webhook":
        whom = _("the organisation's emergency service")
    else:
        whom = _("the organisation's emergency contact on {messenger}").format(
            messenger=contact_kind.title()
        )
    text = _(
        "Emergency contact: if you miss a check-in and nobody settles it within {after} "
        "of your check-in time, the bot also tells {whom}.\n"
        "They get: your nickname, the check-in time you missed, how many buddies and "
        "responders were alerted, and who is handling it.\n"
        "They never get your plate, address or notes: the bot can't read them. "
        "Drills never go to them."
    ).format(after=after, whom=whom)
    state = _("It is ON for you now.") if opted_in else _("It is OFF for you now.")
    return text + "\n" + state


def emergency_buttons() -> tuple[tuple[Button, ...], ...]:
    return (
        (
            Button(_("Turn on"), menu_token(Menu.EMERGENCY, Toggle.ON)),
            Button(_("Turn off"), menu_token(Menu.EMERGENCY, Toggle.OFF)),
        ),
    )


def emergency_unavailable() -> str:
    return _(
        "There is no emergency contact where you are, so nothing was changed. "
        "If you miss a check-in, your buddies and responders are alerted."
    )


def emergency_opt_in_changed(on: bool) -> Message:
    if on:
        return Message(
            _(
                "✅ Turned on. If a missed check-in isn't settled in time, the emergency "
                "contact is told too. Send /emergency to turn it off."
            )
        )
    return Message(
        _(
            "Turned off. Only your buddies and responders will be alerted. "
            "Send /emergency to change it."
        )
    )


def drill_alert(
    ref: str, worker_alias: str, as_responder: bool, due: str, *, unlock: bool, steps: str
) -> Message:
    """A practice alert that shows, clearly framed, what the real one would look like: its
    response protocol, and Unlock only for someone who would hold a sealed copy."""
    if as_responder:
        role = _("In a real alert you would get a message like this as an on-duty responder.")
        real = responder_alert("", worker_alias, due, sos=False, unlock=unlock, steps=steps)
    else:
        role = _("In a real alert you would get a message like this as their buddy.")
        real = alert("", worker_alias, due, sos=False, repeat=False, unlock=unlock, steps=steps)
    labels = " · ".join(f"[{button.label}]" for row in real.buttons for button in row)
    preview = "\n".join(f"┆ {line}" for line in (*real.text.splitlines(), labels))
    return Message(
        _("🧪 DRILL — this is practice, nobody is in danger.")
        + "\n"
        + _("{alias} is testing their safety alerts.").format(alias=worker_alias)
        + " "
        + role
        + "\n"
        + preview
        + "\n"
        + _("Choose Got it below so {alias} knows alerts reach you.").format(alias=worker_alias),
        ((Button(_("Got it 👍"), menu_token(Menu.DRILL, ref)),),),
        kind=Kind.REMINDER,
    )


def drill_started(names: list[str], report_at: str) -> Message:
    return Message(
        _(
            "🧪 Drill started. A practice alert marked DRILL went to: {names}. "
            "Nobody is told you are in danger.\n"
            "At {time} you'll get a report of who got it."
        ).format(names=", ".join(names), time=report_at)
    )


def drill_thanks(worker_alias: str) -> Message:
    return Message(
        _("👍 Thanks. {alias} will see that you got it. Nothing else to do.").format(
            alias=worker_alias
        )
    )


def drill_over() -> str:
    return _("This drill is over. Nothing more to do here.")


def drill_nobody() -> str:
    return _(
        "There is nobody to practise with yet: you have no buddies and no responder is on duty. "
        "Send /invite and give the code to someone you trust."
    )


def drill_already_running() -> str:
    return _("A drill is already running. You'll get its report soon.")


def drill_refused_during_alert() -> str:
    return _("Not now: a real alert about you is running. Send SAFE if you are safe.")


def drill_report(got: list[str], silent: list[str], unreachable: list[str]) -> Message:
    lines = [_("🧪 Drill report (practice only):")]
    if got:
        lines.append(_("✅ Got it: {names}").format(names=", ".join(got)))
    if silent:
        lines.append(_("⏳ No answer: {names}").format(names=", ".join(silent)))
    if unreachable:
        lines.append(
            _("⚠️ Could not be reached: {names}. Ask them to open the bot and send /start.").format(
                names=", ".join(unreachable)
            )
        )
    if not silent and not unreachable:
        lines.append(_("Everyone got it. Your alerts work."))
    else:
        lines.append(_("Talk to them so they keep notifications on for this bot."))
    return Message("\n".join(lines))


def contact_unreachable(alias: str, as_responder: bool) -> Message:
    """For a worker about their buddy, or for an admin about a responder."""
    if as_responder:
        text = _(
            "⚠️ We can't reach the responder {alias}: they may have blocked the bot or left "
            "the messenger. They won't get alerts. Ask them to open the bot and send /start."
        )
    else:
        text = _(
            "⚠️ We can't reach your buddy {alias}: they may have blocked the bot or left the "
            "messenger. They won't get your alerts. Ask them to open the bot and send /start."
        )
    return Message(text.format(alias=alias), kind=Kind.REMINDER)


# -- organisation admin: roles, rules, know-your-rights ----------------------------------


def length(delta: timedelta) -> str:
    """An exact length of time for a rules screen: `10 min`, `1 h 30 min`.

    Unlike `span`, never rounded: an admin must see the value they set.
    """
    hours, rest = divmod(int(delta.total_seconds()), 3600)
    minutes, seconds = divmod(rest, 60)
    parts = []
    if hours:
        parts.append(_("{n} h").format(n=hours))
    if minutes:
        parts.append(_("{n} min").format(n=minutes))
    if seconds or not parts:
        parts.append(_("{n} s").format(n=seconds))
    return " ".join(parts)


@dataclass(frozen=True)
class RoleLine:
    """One role as a roles screen lists it."""

    id: int
    alias: str
    role: str
    place: str


def everywhere() -> str:
    return _("all places")


def role_name(role: str) -> str:
    names = {
        "admin": _("admin"),
        "moderator": _("moderator"),
        "verified": _("verified member"),
    }
    return names.get(role, _("responder"))


def _role_meaning(role: str) -> str:
    if role == "admin":
        return _("Admins change the alert steps and invite people. Send /admin to start.")
    if role == "moderator":
        return _(
            "Moderators read new reports and raid alerts, and publish or reject them. "
            "Send /moderate to start."
        )
    if role == "verified":
        return _(
            "You can now read the community's warning list: /warnings shows it, /check "
            "compares a plate or phone number, and a plate you give at /outcall is compared too."
        )
    return _(
        "Responders are alerted when a worker's buddies don't answer. "
        "Please keep notifications on for this chat."
    )


def admins_only() -> str:
    return _("This is only for your organisation's admins. Send /help to see what you can do.")


def stale_button() -> str:
    return _("This has changed since. Send /admin to see the rules as they are now.")


def role_code_created(role: str, place: str, code: str, expires: str) -> Message:
    return Message(
        _(
            "Code for a new {role} ({place}): {code}\n"
            "Give it only to the person who should have this role. They send "
            "/accept {code} to this bot.\n"
            "It works once and expires on {when}."
        ).format(role=role_name(role), place=place, code=code, when=expires)
    )


def role_granted(role: str, place: str) -> Message:
    texts = {
        "admin": _("You are now an admin ({place})."),
        "moderator": _("You are now a moderator ({place})."),
        "verified": _("You are now a verified member ({place})."),
    }
    text = texts.get(role, _("You are now a responder ({place})."))
    return Message(text.format(place=place) + "\n" + _role_meaning(role))


def role_removed(role: str, place: str) -> Message:
    texts = {
        "admin": _("You are no longer an admin ({place})."),
        "moderator": _("You are no longer a moderator ({place})."),
        "verified": _("You are no longer a verified member ({place})."),
    }
    text = texts.get(role, _("You are no longer a responder ({place})."))
    return Message(text.format(place=place))


def roles_screen(jurisdiction: str, place: str, held: list[RoleLine]) -> Message:
    lines = [_("People with a role in {place}:").format(place=place)]
    lines += [
        _("• {alias}: {role} ({place})").format(
            alias=line.alias, role=role_name(line.role), place=line.place
        )
        for line in held
    ]
    buttons: list[tuple[Button, ...]] = [
        (
            Button(
                _("Remove {alias} as {role}").format(alias=line.alias, role=role_name(line.role)),
                admin_token(AdminOp.REVOKE, line.id),
            ),
        )
        for line in held
    ]
    buttons += [
        (
            Button(_("Invite an admin"), admin_token(AdminOp.INVITE, jurisdiction, "admin")),
            Button(_("Invite a responder"), admin_token(AdminOp.INVITE, jurisdiction, "responder")),
        ),
        (Button(_("Invite a moderator"), admin_token(AdminOp.INVITE, jurisdiction, "moderator")),),
        (Button(_("Back to the rules"), admin_token(AdminOp.RULES, jurisdiction)),),
    ]
    return Message("\n".join(lines), tuple(buttons))


def pick_place(places: list[tuple[str, str]]) -> Message:
    return Message(
        _("Which place do you want to look at?"),
        tuple((Button(name, admin_token(AdminOp.RULES, key)),) for key, name in places),
    )


def legal_model_line(model: LegalModel) -> str:
    if model is LegalModel.DECRIMINALISED:
        return _(
            "Sex work is decriminalised here. An emergency step (police, ambulance) is "
            "allowed, only for workers who agreed to it."
        )
    names = {
        LegalModel.CRIMINALISED: _("Sex work is criminalised here."),
        LegalModel.PARTIALLY_CRIMINALISED: _("Sex work is partly criminalised here."),
        LegalModel.LEGALISED: _("Sex work is legal here only under state rules."),
    }
    return names[model] + " " + _("Alerts never go to police.")


def who_is_told(notify: Notify) -> str:
    names = {
        Notify.WORKER: _("remind the worker"),
        Notify.BUDDIES: _("alert their buddies"),
        Notify.RESPONDERS: _("alert the on-duty responders"),
        Notify.EMERGENCY: _("alert the emergency contact (only workers who agreed)"),
    }
    return names[notify]


def step_line(after: timedelta, notify: Notify) -> str:
    """`10 min late: alert their buddies`."""
    if after <= timedelta(0):
        when = _("At the check-in time")
    else:
        when = _("{span} late").format(span=length(after))
    return f"{when}: {who_is_told(notify)}"


def rules_screen(
    jurisdiction: str,
    place: str,
    ladder: Ladder,
    rights: list[str],
    protocol: list[str],
    notice: str | None,
) -> Message:
    """An admin's view of a place; `rights` and `protocol` are the languages written."""
    lines = [notice] if notice else []
    lines += [
        _("Rules for {place}").format(place=place),
        legal_model_line(ladder.legal_model),
        "",
        _("If a worker misses their check-in:"),
    ]
    lines += [
        f"{number}. {step_line(stage.after, stage.notify)}"
        for number, stage in enumerate(ladder.stages, 1)
    ]
    sealed = _("yes") if ladder.seal_to_responders else _("no")
    toggle = (
        _("Responder copy: turn off") if ladder.seal_to_responders else _("Responder copy: turn on")
    )
    lines += [
        "",
        _("Reminder: {span} before the check-in time").format(span=length(ladder.reminder_before)),
        _('After someone says "I\'m on it": wait {span} before the next step').format(
            span=length(ladder.ack_timeout)
        ),
        _("Most extra time a worker can add: {span}").format(span=length(ladder.max_extension)),
        _("Sealed details kept at most: {span}").format(span=length(ladder.retention)),
        _("Responders get a sealed copy of the details: {answer}").format(answer=sealed),
        _("Know-your-rights text: {languages}").format(
            languages=", ".join(rights) if rights else _("not written yet")
        ),
        _("Response protocol in alerts: {languages}").format(
            languages=", ".join(protocol) if protocol else _("the default one")
        ),
    ]
    j = jurisdiction
    steps = [
        Button(_("Step {n}").format(n=number), admin_token(AdminOp.STAGE, j, number - 1))
        for number in range(1, len(ladder.stages) + 1)
    ]
    buttons = [tuple(steps[i : i + 4]) for i in range(0, len(steps), 4)]
    buttons += [
        (Button(_("Add a step"), admin_token(AdminOp.ADD_STAGE, j)),),
        (
            Button(_("Reminder time"), admin_token(AdminOp.DURATION, j, Timing.REMINDER)),
            Button(_("Wait after I'm on it"), admin_token(AdminOp.DURATION, j, Timing.ACK_TIMEOUT)),
        ),
        (
            Button(_("Most extra time"), admin_token(AdminOp.DURATION, j, Timing.MAX_EXTENSION)),
            Button(_("Details kept"), admin_token(AdminOp.DURATION, j, Timing.RETENTION)),
        ),
        (Button(toggle, admin_token(AdminOp.SEALING, j)),),
        (
            Button(_("Know-your-rights text"), admin_token(AdminOp.TEXT, j, OrgText.RIGHTS)),
            Button(_("Response protocol"), admin_token(AdminOp.TEXT, j, OrgText.PROTOCOL)),
        ),
        (Button(_("People and roles"), admin_token(AdminOp.PEOPLE, j)),),
        (Button(_("Reset to the file's rules"), admin_token(AdminOp.RESET, j)),),
    ]
    return Message("\n".join(lines), tuple(buttons))


def stage_screen(jurisdiction: str, index: int, after: timedelta, notify: Notify) -> Message:
    j = jurisdiction
    return Message(
        _("Step {n}: {step}").format(n=index + 1, step=step_line(after, notify))
        + "\n"
        + _("What do you want to change?"),
        (
            (
                Button(_("Change the time"), admin_token(AdminOp.STAGE_AFTER, j, index)),
                Button(_("Change who is told"), admin_token(AdminOp.STAGE_WHO, j, index)),
            ),
            (Button(_("Remove this step"), admin_token(AdminOp.REMOVE_STAGE, j, index)),),
            (Button(_("Back to the rules"), admin_token(AdminOp.RULES, j)),),
        ),
    )


def rules_saved() -> str:
    return _("✅ Saved. New check-ins use these rules; check-ins already running keep theirs.")


def text_saved(kind: OrgText) -> str:
    """An organisation text takes effect at once, unlike a ladder (running outcalls keep theirs)."""
    if kind is OrgText.PROTOCOL:
        return _("✅ Saved. Every alert sent from now on shows this protocol.")
    return _("✅ Saved. Members see it with /rights from now on.")


def rules_reset() -> str:
    return (
        _("✅ Back to the rules from the configuration file.")
        + " "
        + _("Check-ins already running keep their rules.")
    )


def rules_refused(reason: str) -> str:
    return _("Not saved: {reason}").format(reason=reason) + "\n" + _("Nothing was changed.")


def rights(text: str | None) -> Message:
    """The organisation's own text, shown exactly as written."""
    if text is None:
        return Message(
            _(
                "Your organisation hasn't written a know-your-rights text for your place yet. "
                "Ask them about it."
            )
        )
    return Message(text)


# -- a member's own security: check-in PIN, duress PIN, PIN change, forget me --------------


def checkin_pin_set(on: bool) -> Message:
    if on:
        return Message(
            _(
                "Done. I'll ask for your PIN when you check in (SAFE or I'm safe).\n"
                "You can also set a duress PIN in /settings: it looks like a normal check-in "
                "but secretly alerts your buddies."
            )
        )
    return Message(_("Done. I'm safe works without your PIN again."))


def duress_pin_set(checkin_pin_on: bool) -> Message:
    text = _(
        "Duress PIN saved. If someone forces you to check in, send it instead of your PIN. "
        "It will look normal, but your buddies get an SOS and are told not to contact you."
    )
    if not checkin_pin_on:
        text += "\n" + _("It only works when asking for the PIN at I'm safe is on (/settings).")
    return Message(text)


def pin_changed() -> Message:
    # Never mentions a duress PIN: whoever watches the screen must not learn one exists.
    return Message(_("Your PIN is changed. Everything you could open before still works."))


def new_pin_set() -> Message:
    return Message(_("Your new PIN is set, with new keys."))


def reset_started(ready_at: str) -> Message:
    return Message(
        _(
            "Your PIN reset has started. For your safety it takes effect at {time}: "
            "until then your old PIN still works, and your buddies have been told.\n"
            "Then I'll ask you for a new PIN. Details sealed to your old keys can't be "
            "opened after that.\n"
            "Didn't ask for this? Choose Stop the reset below."
        ).format(time=ready_at),
        ((Button(_("Stop the reset"), "set:reset_stop"),),),
    )


def reset_stopped() -> Message:
    return Message(_("The PIN reset is stopped. Your PIN and keys stay as they were."))


def reset_pending_refusal(ready_at: str) -> str:
    return _(
        "A PIN reset is waiting to take effect at {time}. Until then you can't delete your "
        "account or turn the check-in PIN off. To stop the reset, open /settings."
    ).format(time=ready_at)


def reset_ready() -> Message:
    return Message(
        _(
            "Your PIN reset has taken effect: your old keys are destroyed. "
            "Send any message and I'll ask you for a new PIN."
        )
    )


def reset_notice(alias: str, ready_at: str) -> Message:
    """To a buddy, or to a worker who relies on this member as a buddy."""
    return Message(
        _(
            "⚠️ {alias} asked to reset their PIN. If it was really them, nothing to do. "
            "If you're not sure, contact {alias} another way: someone else may have their "
            "phone. The reset takes effect at {time}; until then {alias} can stop it."
        ).format(alias=alias, time=ready_at),
        kind=Kind.ALERT,
    )


def reset_stopped_notice(alias: str) -> Message:
    return Message(_("{alias} stopped their PIN reset. Nothing has changed.").format(alias=alias))


def buddy_key_changed(alias: str) -> Message:
    """To a worker: details they seal from now on go to this buddy's new key."""
    return Message(
        _(
            "⚠️ {alias}'s PIN and keys were reset. From now on, details you seal also go to "
            "{alias}'s new keys. If you don't think {alias} did this, remove them in /buddies "
            "and contact them another way."
        ).format(alias=alias),
        kind=Kind.ALERT,
    )


def sos_stays_open(told: bool) -> Message:
    if told:
        return Message(
            _(
                "Your SOS stays open until one of your buddies confirms you're safe. "
                "I've told them you say you're safe. They may contact you."
            ),
            kind=Kind.ALERT,
        )
    return Message(
        _("Your SOS stays open until someone who was alerted confirms you're safe."),
        kind=Kind.ALERT,
    )


def sos_cannot_be_extended() -> str:
    return _(
        "Your SOS is open, so I can't add time. Your buddies have been alerted. "
        "When you're safe, send SAFE and they'll be asked to confirm."
    )


def checkin_paused_until(time: str) -> str:
    return _(
        "Too many wrong PINs: checking in with your PIN is paused until {time}. "
        "Your outcall is still running. If you are safe, send SAFE, then choose "
        "I can't give my PIN, and your buddies will check on you."
    ).format(time=time)


def wrong_checkin_pin(left: int, lockout: str) -> str:
    if left <= 0:
        return _(
            "Wrong PIN. You are not checked in. Checking in with your PIN is paused for "
            "{span}. If you are safe, choose I can't give my PIN below and your buddies will check "
            "on you."
        ).format(span=lockout)
    return ngettext(
        "Wrong PIN. You are not checked in yet. {n} try left.",
        "Wrong PIN. You are not checked in yet. {n} tries left.",
        left,
    ).format(n=left)


def checkin_pin_guessed(worker_alias: str) -> Message:
    return Message(
        _(
            "⚠️ Someone typed {alias}'s check-in PIN wrong too many times. {alias} is not "
            "checked in, and their outcall is still watched as normal. You may want to "
            "check on {alias}."
        ).format(alias=worker_alias),
        kind=Kind.ALERT,
    )


def buddies_asked(told: bool) -> Message:
    if told:
        return Message(
            _(
                "I couldn't check your PIN, so your outcall is not ended. "
                "I've asked your buddies to confirm you're safe. They may contact you."
            ),
            kind=Kind.ALERT,
        )
    return Message(
        _("I couldn't check your PIN, so your outcall is not ended. Send /help for options."),
        kind=Kind.ALERT,
    )


def confirm_request(
    ref: str, worker_alias: str, *, after_sos: bool = False, unlock: bool = True
) -> Message:
    """Ask a buddy to confirm the worker is safe; Unlock only for a holder of a sealed copy
    (an SOS without an outcall has none, nor does a buddy who joined after it started)."""
    if after_sos:
        text = _(
            "🚨 {alias} sent an SOS and now says they're safe, but we can't be sure it was "
            "them. Please check on {alias} now.\n"
            "When you know they are safe, choose {alias} is safe below."
        )
    else:
        text = _(
            "🚨 {alias} said they are safe but couldn't give their PIN, so we can't be sure it "
            "was them. Please check on {alias} now.\n"
            "When you know they are safe, choose {alias} is safe below."
        )
    text = text.format(alias=worker_alias)
    if unlock:
        text += "\n" + _("To see where they went, send UNLOCK (you need your PIN).")
    return Message(text, alert_buttons(ref, worker_alias, unlock=unlock), kind=Kind.ALERT)


def alert_closed_by_leaver() -> Message:
    return Message(
        _(
            "An alert you received was closed: that person deleted their account. "
            "The details are destroyed."
        ),
        kind=Kind.ALERT,
    )


def pairing_ended_by_leaver() -> Message:
    return Message(
        _(
            "Someone you were paired with deleted their account. "
            "Alerts between you have stopped. See /buddies for who is left."
        )
    )


def forgotten() -> str:
    return _(
        "Your account is deleted: your nickname, keys, buddies and outcalls are gone. "
        "Send /start if you ever want to come back."
    )


# -- second taps, /status while alerted, and what is possible now -----------------------


def confirm_safe_question(ref: str, worker_alias: str, duress: bool) -> Message:
    """The second tap before "is safe": it closes the alert for everyone, for good. After a
    duress PIN nobody may contact the worker, so that question asks for certainty instead."""
    if duress:
        text = _(
            "Are you sure {alias} is safe? This ends the alert for everyone and destroys "
            "{alias}'s details. Say yes only if you know it for certain. Do NOT message or "
            "call {alias} to check.\nIf not, do nothing: the alert stays open."
        )
        label = _("Yes — I know for certain {alias} is safe")
    else:
        text = _(
            "Are you sure {alias} is safe? This ends the alert for everyone and destroys "
            "{alias}'s details. Say yes only if you spoke to {alias} yourself.\n"
            "If not, do nothing: the alert stays open."
        )
        label = _("Yes — I spoke to {alias}, they are safe")
    yes = Button(label.format(alias=worker_alias), Action(Verb.SAFE_CONFIRMED, ref).token())
    return Message(text.format(alias=worker_alias), ((yes,),), kind=Kind.ALERT)


def remove_buddy_question(link_id: int, other_alias: str) -> Message:
    """The second tap before ending a pairing: alerts between the two stop at once. Keeping
    comes first, so the same number sent twice (a shaking hand) keeps the buddy."""
    return Message(
        _("Remove {alias}? Alerts between you stop at once.").format(alias=other_alias),
        (
            (
                Button(_("No, keep {alias}").format(alias=other_alias), Control.STOP),
                Button(
                    _("Yes, remove {alias}").format(alias=other_alias),
                    Action(Verb.REMOVE_CONFIRMED, str(link_id)).token(),
                ),
            ),
        ),
    )


# -- places ----------------------------------------------------------------------------


def sos_from_a_stranger() -> str:
    """SOS from someone not registered: say plainly that nobody was told, before anything."""
    return _(
        "🆘 Nobody was alerted: you are not registered here yet, so there is nobody I can "
        "tell. If you are in danger now, get help from someone near you.\n"
        "To have buddies who are alerted next time, register below."
    )


def place_buttons(
    places: list[Jurisdiction], token: Callable[[str], str]
) -> tuple[tuple[Button, ...], ...]:
    """One button per place, named in the reader's language; `token(place_id)` is its action."""
    return tuple((Button(place_name(place), token(place.id)),) for place in places)


def pick_my_place(current: Jurisdiction, places: list[Jurisdiction]) -> Message:
    """`/place`: where the member is now, and the places they can move to."""
    others = [place for place in places if place.id != current.id]
    return Message(
        _(
            "You are in {place}. Its rules decide who is told if you miss a check-in, "
            "and its clock is used for your times. Where are you working now?"
        ).format(place=place_name(current)),
        place_buttons(others, lambda key: menu_token(Menu.PLACE, PlaceStep.SEE, key)),
    )


@dataclass(frozen=True)
class Move:
    """What moving from one place to another changes for one member, shown before it
    happens: the other clock, the other ladder, the emergency contact, what stays behind."""

    old: Jurisdiction
    new: Jurisdiction
    new_has_emergency: bool
    old_has_emergency: bool
    opted_in: bool
    running: bool
    roles_stay: bool

    @property
    def loses_opt_in(self) -> bool:
        return self.opted_in and not self.new_has_emergency


def move_preview(move: Move, now: datetime) -> Message:
    """Every change a move makes, in plain lines, with Yes and No."""
    old, new = place_name(move.old), place_name(move.new)
    lines = [_("Move from {old} to {new}? This changes:").format(old=old, new=new)]
    if move.old.timezone != move.new.timezone:
        lines.append(
            _("• Your times are shown and read in {zone}. It is {time} there now.").format(
                zone=zone_name(move.new.timezone), time=clock(now, move.new.timezone)
            )
        )
    lines.append(_("• If you miss a check-in in {new}:").format(new=new))
    lines += [f"   {step_line(s.after, s.notify)}" for s in move.new.ladder.stages]
    if move.new_has_emergency and not move.old_has_emergency:
        lines.append(
            _(
                "• In {new} the last step can be an emergency contact, if you turn it on "
                "with /emergency. In {old} it never is."
            ).format(new=new, old=old)
        )
    elif move.old_has_emergency and not move.new_has_emergency:
        lines.append(
            _("• In {new} there is no emergency contact: it is never told.").format(new=new)
        )
    if move.loses_opt_in:
        lines.append(_("• Your emergency contact setting will be turned off."))
    if move.running:
        lines.append(
            _("• Your running outcall keeps the rules of {old} until it ends.").format(old=old)
        )
    if move.roles_stay:
        lines.append(
            _(
                "• Your responder or admin role stays in {old}. An admin of {new} can give "
                "you one there."
            ).format(old=old, new=new)
        )
    return Message(
        "\n".join(lines),
        (
            (Button(_("Yes, move me to {new}").format(new=new), _place_go(move.new.id)),),
            (Button(_("No, stay in {old}").format(old=old), menu_token(Menu.PLACE, "stay")),),
        ),
    )


def alert_status(
    ref: str, due: str, sos: bool, buddies: list[str], others: int, handler: str | None
) -> Message:
    """/status while the worker's own outcall is alerting: who knows, and whether someone
    has taken it. Nothing sealed: names of buddies, a count of anyone else."""
    if sos:
        head = _("🆘 Your SOS is running.")
    else:
        head = _("🚨 Your alert is running (check-in time {time}).").format(time=due)
    lines = [head]
    if buddies:
        lines.append(_("Alerted: {names}.").format(names=", ".join(buddies)))
    if others:
        lines.append(
            ngettext(
                "Alerted: {n} person from your organisation.",
                "Alerted: {n} people from your organisation.",
                others,
            ).format(n=others)
        )
    if not buddies and not others:
        lines.append(_("Nobody could be alerted yet."))
    if handler:
        lines.append(_("{handler} is on it.").format(handler=handler))
    else:
        lines.append(_("Nobody has said they are on it yet."))
    return Message("\n".join(lines), worker_buttons(ref))


def not_understood(head: str, suggestion: str | None, options: list[str]) -> str:
    """Input that is nothing we know: what was wrong (`head`), a near-miss, and what works
    now, instead of the whole command list."""
    lines = [head]
    if suggestion:
        lines.append(_("Did you mean {word}?").format(word=suggestion))
    lines.append(_("What you can send now:"))
    lines += [f"• {option}" for option in options]
    return "\n".join(lines)


def option(word: str, meaning: str) -> str:
    """One line of what is possible now: the word to send and what it does."""
    return _("{word} — {meaning}").format(word=word, meaning=meaning)


def _place_go(place_id: str) -> str:
    return menu_token(Menu.PLACE, PlaceStep.GO, place_id)


def moved(move: Move) -> Message:
    lines = [
        _("Done. You are now in {new}. Your times are in {zone}.").format(
            new=place_name(move.new), zone=zone_name(move.new.timezone)
        )
    ]
    if move.loses_opt_in:
        lines.append(
            _("Your emergency contact setting was turned off: {new} has none.").format(
                new=place_name(move.new)
            )
        )
    return Message("\n".join(lines))


def stayed(place: Jurisdiction) -> Message:
    return Message(_("Nothing changed. You are still in {place}.").format(place=place_name(place)))


def already_there(place: Jurisdiction) -> str:
    return _("You are already in {place}. Nothing changed.").format(place=place_name(place))


def only_one_place() -> str:
    return _("This organisation works in one place only, so there is nowhere to move.")


def unknown_place(places: list[Jurisdiction]) -> str:
    return _("There is no such place. Choose one of: {places}.").format(
        places=", ".join(place_name(place) for place in places)
    )
