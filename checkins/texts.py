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

from checkins.actions import (
    Action,
    AdminOp,
    Menu,
    Timing,
    Toggle,
    Verb,
    admin_token,
    menu_token,
)
from checkins.i18n import _, current_locale, ngettext
from checkins.ladder import Ladder, LegalModel, Notify
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
        + _("Check in by {time} (in {left}).\nTap I'm safe when you're out.").format(
            time=due, left=left
        ),
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


def alert(
    ref: str,
    worker_alias: str,
    due: str,
    sos: bool,
    repeat: bool,
    duress: bool = False,
    unlock: bool = True,
) -> Message:
    """An alert to someone in the worker's chain; Unlock only for a holder of a sealed copy."""
    if duress:
        head = _("🆘 {alias} checked in with their danger PIN. Someone may be forcing them.")
    elif sos:
        head = _("🆘 {alias} pressed SOS. They may be in danger right now.")
    elif repeat:
        head = _("🚨 Still no check-in from {alias}. Nobody has confirmed they are safe.")
    else:
        head = _("🚨 {alias} missed their check-in (due {time}).")
    body = _take_it(unlock)
    if not duress:  # contacting someone under duress could put them in danger
        body = _("Try to reach them now.") + "\n" + body
    message = Message(
        head.format(alias=worker_alias, time=due) + "\n" + body,
        alert_buttons(ref, worker_alias, unlock=unlock),
        kind=Kind.ALERT,
    )
    return with_duress_warning(message, worker_alias) if duress else message


def with_duress_warning(message: Message, worker_alias: str) -> Message:
    """Any alert about a duress outcall: contacting the worker could put them in danger.

    The warning comes first and overrides any "try to reach them" in the message below it.
    """
    warning = _(
        "⚠️ {alias} may be with someone dangerous. Do NOT message or call {alias}, "
        "not even to check: that person may see it. Use the details and work with the others."
    ).format(alias=worker_alias)
    return Message(warning + "\n" + message.text, message.buttons, kind=message.kind)


def acknowledged_by_you(ref: str, worker_alias: str, deadline: str, unlock: bool) -> Message:
    return Message(
        _(
            "🙋 Thank you. You are handling {alias}'s alert; the others have been told.\n"
            "When you know {alias} is safe, tap {alias} is safe.\n"
            "If it isn't settled by {time}, the next people will be alerted."
        ).format(alias=worker_alias, time=deadline),
        alert_buttons(ref, worker_alias, unlock=unlock),
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


def buddy_not_getting_through(buddy_alias: str) -> Message:
    return Message(
        _(
            "⚠️ Your alert is not getting through to {alias} right now. We keep trying. "
            "If you are safe, check in now. See /buddies."
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


# -- the organisation: responders, admins, the emergency contact ---------------------------


def _take_it(unlock: bool) -> str:
    text = _("Tap I'm on it if you take it, so the others know.")
    if unlock:
        text = _("Tap Unlock details to see where they went (you need your PIN).") + "\n" + text
    return text


def responder_alert(
    ref: str, worker_alias: str, due: str, sos: bool, unlock: bool, duress: bool = False
) -> Message:
    """An on-duty responder's alert; under duress it never asks them to contact the worker."""
    if duress:
        head = _("🆘 {alias} checked in with their danger PIN. Someone may be forcing them.")
        body = _("You are getting this as an on-duty responder.")
    else:
        if sos:
            head = _("🆘 {alias} pressed SOS. They may be in danger right now.")
        else:
            head = _(
                "🚨 {alias} missed their check-in (due {time}) and their buddies haven't answered."
            )
        body = _("You are getting this as an on-duty responder. Try to reach {alias} now.")
    return Message(
        head.format(alias=worker_alias, time=due)
        + "\n"
        + body.format(alias=worker_alias)
        + "\n"
        + _take_it(unlock),
        alert_buttons(ref, worker_alias, unlock=unlock),
        kind=Kind.ALERT,
    )


def last_resort_alert(ref: str, worker_alias: str, due: str, unlock: bool) -> Message:
    return Message(
        _(
            "🚨 Nobody has settled {alias}'s alert (check-in was due {time}). "
            "Their buddies and the on-duty responders were alerted.\n"
            "You are getting this as an admin, because everyone else has been tried. "
            "Please make sure someone reaches {alias} now."
        ).format(alias=worker_alias, time=due)
        + "\n"
        + _take_it(unlock),
        alert_buttons(ref, worker_alias, unlock=unlock),
        kind=Kind.ALERT,
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
            "Tap Off duty when you can't respond."
        )
    else:
        text = _("You are off duty. You get no responder alerts. Tap On duty when you can respond.")
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


def drill_alert(ref: str, worker_alias: str, as_responder: bool, due: str) -> Message:
    """A practice alert that shows, clearly framed, what the real one would look like."""
    if as_responder:
        role = _("In a real alert you would get a message like this as an on-duty responder.")
        real = responder_alert("", worker_alias, due, sos=False, unlock=True)
    else:
        role = _("In a real alert you would get a message like this as their buddy.")
        real = alert("", worker_alias, due, sos=False, repeat=False)
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
        + _("Tap Got it so {alias} knows alerts reach you.").format(alias=worker_alias),
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
    return _("Not now: a real alert about you is running. Tap I'm safe if you are safe.")


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
            "It works once and expires at {time}."
        ).format(role=role_name(role), place=place, code=code, time=expires)
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
    jurisdiction: str, place: str, ladder: Ladder, rights: list[str], notice: str | None
) -> Message:
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
        _('After someone taps "I\'m on it": wait {span} before the next step').format(
            span=length(ladder.ack_timeout)
        ),
        _("Most extra time a worker can add: {span}").format(span=length(ladder.max_extension)),
        _("Sealed details kept at most: {span}").format(span=length(ladder.retention)),
        _("Responders get a sealed copy of the details: {answer}").format(answer=sealed),
        _("Know-your-rights text: {languages}").format(
            languages=", ".join(rights) if rights else _("not written yet")
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
            Button(_("Know-your-rights text"), admin_token(AdminOp.RIGHTS, j)),
            Button(_("People and roles"), admin_token(AdminOp.PEOPLE, j)),
        ),
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
                "Done. I'll ask for your PIN when you tap I'm safe.\n"
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
            "Didn't ask for this? Tap Stop the reset."
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
        "When you're safe, tap I'm safe and they'll be asked to confirm."
    )


def checkin_paused_until(time: str) -> str:
    return _(
        "Too many wrong PINs: checking in with your PIN is paused until {time}. "
        "Your outcall is still running. If you are safe, tap I can't give my PIN "
        "and your buddies will check on you."
    ).format(time=time)


def wrong_checkin_pin(left: int, lockout: str) -> str:
    if left <= 0:
        return _(
            "Wrong PIN. You are not checked in. Checking in with your PIN is paused for "
            "{span}. If you are safe, tap I can't give my PIN and your buddies will check "
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


def confirm_request(ref: str, worker_alias: str, *, after_sos: bool = False) -> Message:
    if after_sos:
        text = _(
            "🚨 {alias} sent an SOS and now says they're safe, but we can't be sure it was "
            "them. Please check on {alias} now.\n"
            "When you know they are safe, tap {alias} is safe."
        )
    else:
        text = _(
            "🚨 {alias} tapped I'm safe but couldn't give their PIN, so we can't be sure it "
            "was them. Please check on {alias} now.\n"
            "When you know they are safe, tap {alias} is safe. "
            "Tap Unlock details to see where they went (you need your PIN)."
        )
    return Message(
        text.format(alias=worker_alias),
        alert_buttons(ref, worker_alias),
        kind=Kind.ALERT,
    )


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
