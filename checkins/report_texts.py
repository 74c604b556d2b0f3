"""The wording of the warning list and raid alerts (`checkins.reports`), kept apart from
`checkins.texts` so the feature reads as one piece. Whole sentences with named placeholders;
never "tap" (Signal and the console number their choices instead)."""

from __future__ import annotations

from dataclasses import dataclass

from checkins.actions import Happened, ListOp, RaidKind, ReportKind, list_token
from checkins.i18n import _
from checkins.messages import Button, Kind, Message


@dataclass(frozen=True)
class ReportLines:
    """What a report shows, already in plain words (hints, never a whole plate)."""

    kind: str | None
    plate_hint: str | None
    phone_hint: str | None
    has_plate: bool
    has_phone: bool
    vehicle: str | None
    description: str | None
    area: str | None
    happened: str | None


def report_kind(kind: str | None) -> str:
    names = {
        ReportKind.VIOLENT: _("Violent"),
        ReportKind.ASSAULT: _("Sexual assault"),
        ReportKind.ROBBED: _("Robbed or didn't pay"),
        ReportKind.CONDOM: _("Removed the condom"),
        ReportKind.THREAT: _("Threatened or stalked"),
        ReportKind.POLICE: _("Police posing as a client"),
        ReportKind.OTHER: _("Other"),
    }
    return names.get(ReportKind(kind), _("Other")) if kind in set(ReportKind) else _("Other")


def raid_kind(kind: str | None) -> str:
    names = {
        RaidKind.RAID: _("Raid"),
        RaidKind.STREET: _("Street checks"),
        RaidKind.IMMIGRATION: _("Immigration"),
        RaidKind.OTHER: _("Other police activity"),
    }
    return names[RaidKind(kind)] if kind in set(RaidKind) else names[RaidKind.OTHER]


def happened(value: str | None) -> str:
    names = {
        Happened.NOW: _("now"),
        Happened.TODAY: _("today"),
        Happened.WEEK: _("this week"),
        Happened.EARLIER: _("earlier"),
    }
    return names[Happened(value)] if value in set(Happened) else _("not said")


def happened_button(value: Happened) -> str:
    """The same choices as buttons, capitalised."""
    names = {
        Happened.NOW: _("Now"),
        Happened.TODAY: _("Today"),
        Happened.WEEK: _("This week"),
        Happened.EARLIER: _("Earlier"),
    }
    return names[value]


def report_lines(report: ReportLines) -> str:
    """The body of a report as members and moderators read it."""
    lines = [_("What happened: {kind}").format(kind=report_kind(report.kind))]
    if report.plate_hint:
        lines.append(_("Car plate ending in {hint}").format(hint=report.plate_hint))
    elif report.has_plate:
        lines.append(_("Car plate: given (use /check to compare)"))
    if report.phone_hint:
        lines.append(_("Phone number ending in {hint}").format(hint=report.phone_hint))
    elif report.has_phone:
        lines.append(_("Phone number: given (use /check to compare)"))
    if report.vehicle:
        lines.append(_("Car and client: {text}").format(text=report.vehicle))
    if report.description:
        lines.append(_("Details: {text}").format(text=report.description))
    if report.area:
        lines.append(_("Area: {area}").format(area=report.area))
    lines.append(_("When: {when}").format(when=happened(report.happened)))
    return "\n".join(lines)


# -- the report form -----------------------------------------------------------------------


def ask_kind() -> str:
    return _(
        "Report a bad client. Every question can be skipped. Your name is never shown: "
        "only the moderators can send you a question, and only until they decide.\n\n"
        "What happened?"
    )


def ask_plate() -> str:
    return _(
        "What was the client's car plate? Type it again even if you gave it for an "
        "outcall: I never reuse it. Or skip."
    )


def ask_phone() -> str:
    return _("What phone number did the client use? Or skip.")


def ask_hint() -> str:
    return _(
        "May members see the last 3 characters of the plate and phone number? It helps "
        "them recognise the client. Without it, they can still compare with /check."
    )


def ask_vehicle() -> str:
    return _("What do the car and the client look like? A few words, or skip.")


def ask_description() -> str:
    return _(
        "What happened? Write only what helps others stay safe, nothing that shows who "
        "you are. Or skip."
    )


def ask_area() -> str:
    return _("In which area? Words like a neighbourhood, never an address. Or skip.")


def ask_when() -> str:
    return _("When did it happen?")


def show_hint_yes() -> str:
    return _("Yes, show the last 3")


def show_hint_no() -> str:
    return _("No, hide them")


def too_long(most: int) -> str:
    return _("That is too long: {most} characters at most. Please shorten it.").format(most=most)


def looks_like_address() -> str:
    return _("Please give an area in words, not a street address or a house number.")


def report_empty() -> str:
    return _(
        "A report needs at least a plate, a phone number, or a few words about the client. "
        "Nothing was saved. Send /report to start again."
    )


def report_received() -> str:
    return _(
        "Thank you. Your report waits for a moderator. It will be shown without your name; "
        "once it is published or rejected, nothing links it to you any more."
    )


def too_many_waiting() -> str:
    return _(
        "You already have several reports waiting for a moderator. Please wait until "
        "they are looked at, then send this one."
    )


def report_waiting_for_moderation() -> Message:
    return Message(
        _("A new report waits for moderation. Send /moderate to see it."),
        ((Button(_("See it now"), list_token(ListOp.NEXT)),),),
    )


# -- moderation ------------------------------------------------------------------------------


def moderators_only() -> str:
    return _(
        "This is only for the moderators of your organisation's warning list. "
        "Send /help to see what you can do."
    )


def nothing_to_moderate() -> str:
    return _("Nothing is waiting for moderation. Thank you.")


def report_to_moderate(
    number: int, lines: str, question: str | None, answer: str | None
) -> Message:
    text = _("Report #{number}, waiting for moderation:").format(number=number) + "\n" + lines
    if question:
        text += "\n" + _("Your question: {text}").format(text=question)
        text += "\n" + _("Answer: {text}").format(text=answer or _("none yet"))
    buttons: list[tuple[Button, ...]] = [
        (
            Button(_("Publish"), list_token(ListOp.PUBLISH, number)),
            Button(_("Reject"), list_token(ListOp.REJECT, number)),
        ),
        (Button(_("Edit the details"), list_token(ListOp.EDIT, number)),),
    ]
    if not question:
        buttons.append((Button(_("Ask the reporter a question"), list_token(ListOp.ASK, number)),))
    return Message(text, tuple(buttons))


def raid_to_moderate(number: int, lines: str) -> Message:
    return Message(
        _("Raid alert #{number}, waiting for moderation:").format(number=number) + "\n" + lines,
        (
            (
                Button(_("Publish now"), list_token(ListOp.RAID_PUBLISH, number)),
                Button(_("Reject"), list_token(ListOp.RAID_REJECT, number)),
            ),
        ),
        kind=Kind.RAID,
    )


def ask_new_details() -> str:
    return _(
        "Send the details as they should be published. Remove anything that could show "
        "who the reporter is."
    )


def ask_question() -> str:
    return _(
        "Send your one question for the reporter. They will not see who you are, and you "
        "will not see who they are."
    )


def question_sent() -> str:
    return _("Your question was sent. Their answer will show with the report in /moderate.")


def question_for_reporter(number: int, question: str) -> Message:
    return Message(
        _("A moderator has a question about your report #{number}: {question}").format(
            number=number, question=question
        ),
        ((Button(_("Answer"), list_token(ListOp.ANSWER, number)),),),
    )


def ask_answer() -> str:
    return _("Send your answer for the moderator.")


def answer_sent() -> str:
    return _("Thank you. Your answer was given to the moderator.")


def answer_arrived(number: int) -> Message:
    return Message(
        _("The reporter answered your question about report #{number}.").format(number=number),
        ((Button(_("See it now"), list_token(ListOp.NEXT)),),),
    )


def already_decided() -> str:
    return _("This was already decided by a moderator. Send /moderate to see what waits.")


def published(number: int) -> Message:
    return Message(
        _("Report #{number} is published. Its link to the reporter is deleted.").format(
            number=number
        ),
        (
            (Button(_("Withdraw it"), list_token(ListOp.WITHDRAW, number)),),
            (Button(_("Next"), list_token(ListOp.NEXT)),),
        ),
    )


def rejected(number: int) -> Message:
    return Message(
        _("Report #{number} is rejected and deleted.").format(number=number),
        ((Button(_("Next"), list_token(ListOp.NEXT)),),),
    )


def withdrawn(number: int) -> str:
    return _("Report #{number} is withdrawn: nobody will see it again.").format(number=number)


def report_outcome(published_it: bool) -> str:
    if published_it:
        return _("Your report was published. Thank you for keeping others safe.")
    return _("A moderator decided not to publish your report. Thank you for sending it.")


# -- what verified members see ---------------------------------------------------------------


def verified_only() -> str:
    return _(
        "The warning list is only for verified members. Ask someone from your "
        "organisation for a verification code, then send /accept and the code."
    )


def new_report(place: str, lines: str) -> Message:
    return Message(
        _("⚠️ New warning from the community ({place}):").format(place=place) + "\n" + lines,
        ((Button(_("Stop these messages"), list_token(ListOp.MUTE)),),),
        kind=Kind.REPORT,
    )


def pushes_changed(on: bool) -> Message:
    if on:
        text = _("You'll get a message about each new warning again.")
        button = Button(_("Stop these messages"), list_token(ListOp.MUTE))
    else:
        text = _("You won't get messages about new warnings. /warnings shows them any time.")
        button = Button(_("Turn them back on"), list_token(ListOp.UNMUTE))
    return Message(text, ((button,),))


def warnings_screen(place: str, shown: list[str]) -> str:
    if not shown:
        text = _("There are no warnings for {place} right now.").format(place=place)
    else:
        text = _("Warnings for {place}, newest first:").format(place=place)
        text += "\n\n" + "\n\n".join(shown)
    return text


def warnings_buttons(muted: bool) -> tuple[tuple[Button, ...], ...]:
    if muted:
        return ((Button(_("Turn on messages about new warnings"), list_token(ListOp.UNMUTE)),),)
    return ((Button(_("Stop messages about new warnings"), list_token(ListOp.MUTE)),),)


def check_how() -> str:
    return _("Send /check with the plate or phone number, like this: /check GH51 TRW")


def check_clear() -> str:
    return _(
        "No published warning matches this. That does not mean the client is safe: trust "
        "your feelings and tell your buddies. Nothing about this check was kept."
    )


def check_match(shown: list[str]) -> str:
    text = _("⚠️ This matches a warning from the community. Please think twice.")
    return text + "\n\n" + "\n\n".join(shown) + "\n\n" + _("Nothing about this check was kept.")


def outcall_warning(shown: list[str]) -> str:
    return _("⚠️ This car plate matches a warning from the community:") + "\n\n" + "\n\n".join(shown)


def outcall_choice() -> str:
    return _(
        "Do you want to cancel this booking, or go anyway? If you go, your buddies will be told."
    )


def cancel_booking() -> str:
    return _("Cancel this booking")


def go_anyway() -> str:
    return _("Go anyway (my buddies will be told)")


def booking_cancelled() -> str:
    return _("Booking cancelled. Nothing was saved. Take care.")


def report_match_note() -> str:
    return _(
        "⚠️ Their client's car plate matched a warning on the community's list, and they "
        "chose to go anyway."
    )


# -- raid alerts ----------------------------------------------------------------------------


def ask_raid_kind() -> str:
    return _(
        "Warn others about police or immigration activity. Every question can be skipped.\n\n"
        "What is happening?"
    )


def ask_raid_area() -> str:
    return _("Where? An area in words, like a street name or a neighbourhood. Or skip.")


def ask_raid_when() -> str:
    return _("When?")


def raid_empty() -> str:
    return _("A raid alert needs at least what is happening or where. Nothing was sent.")


def raid_received() -> str:
    return _("Thank you. A moderator will look at it right away and send it out.")


def too_many_raids() -> str:
    return _(
        "You already have raid alerts waiting for a moderator. Please wait until they "
        "are looked at."
    )


def raid_lines(kind: str | None, area: str | None, when: str | None) -> str:
    lines = [_("What: {kind}").format(kind=raid_kind(kind))]
    if area:
        lines.append(_("Where: {area}").format(area=area))
    lines.append(_("When: {when}").format(when=happened(when)))
    return "\n".join(lines)


def raid_alert(place: str, lines: str) -> Message:
    return Message(
        _("🚓 Raid alert ({place}), from the community:").format(place=place)
        + "\n"
        + lines
        + "\n"
        + _("Take care. Know your rights before you answer questions."),
        ((Button(_("Know your rights"), list_token(ListOp.RIGHTS)),),),
        kind=Kind.RAID,
    )


def raid_published(number: int) -> Message:
    return Message(
        _("Raid alert #{number} is sent to the verified members.").format(number=number),
        ((Button(_("Withdraw it"), list_token(ListOp.RAID_WITHDRAW, number)),),),
    )


def raid_rejected(number: int) -> str:
    return _("Raid alert #{number} is rejected and deleted.").format(number=number)


def raid_withdrawn_notice(place: str) -> Message:
    return Message(
        _(
            "The raid alert for {place} was withdrawn by a moderator. "
            "It may have been wrong, or it is over."
        ).format(place=place),
        kind=Kind.RAID,
    )


def raid_withdrawn(number: int) -> str:
    return _("Raid alert #{number} is withdrawn; everyone who got it is told.").format(
        number=number
    )


def verification_code(place: str, code: str, expires: str) -> str:
    return _(
        "Verification code ({place}): {code}\n"
        "Give it only to a worker you know, in person. They send /accept {code} to this "
        "bot and can then read the warning list.\n"
        "It works once and expires at {time}."
    ).format(place=place, code=code, time=expires)


def staff_only() -> str:
    return _(
        "Only your organisation's admins, responders and moderators can hand out "
        "verification codes."
    )
