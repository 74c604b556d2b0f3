"""The community's warning list and raid alerts, as people use them over the console: Robin
reports a violent client, a moderator edits and publishes it, Kit (verified) is warned, and
Kit's /outcall with the same plate typed differently is flagged before it starts; a raid
alert from a responder reaches verified members in their own languages."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.ratelimit import CommandLimiter, Window
from checkins.context import Refusal
from checkins.messages import Identity
from checkins.normalise import fold_phone, fold_plate, hint
from checkins.reports import ReportDraft
from checkins.wipe import wipe
from storage.tables import AuditEntry, Base, Raid, Report
from tests.chat import Chat, make_chat

ROBIN_PLATE = "AB12 CDE"
KIT_PLATE = "ab-12 cde"


async def grant(chat: Chat, person: str, role: str) -> str:
    """`person` redeems a server-made role code; returns the reply."""
    code = chat.app.admin.server_invite(role, "north").code
    return await chat.send(person, f"/accept {code}")


async def verify(chat: Chat, staff: str, person: str) -> str:
    """`staff` makes a verification code with /verify and `person` redeems it."""
    reply = await chat.send(staff, "/verify")
    code = reply.split("Verification code (north): ")[1].split()[0]
    return await chat.send(person, f"/accept {code}")


async def community(tmp_path: Path, url: str | None = None) -> Chat:
    """robin and kit: workers, sam their buddy; mona: moderator; ria: responder."""
    chat = await make_chat(tmp_path, url)
    # These stories type quickly; the per-person limits have their own tests.
    chat.app.conversation.limiter = CommandLimiter((Window(1000, 60.0),))
    for person in ("robin", "kit", "sam", "mona", "ria"):
        await chat.register(person)
    await chat.pair("kit", "sam")
    await chat.pair("robin", "sam")
    await grant(chat, "mona", "moderator")
    await grant(chat, "ria", "responder")
    assert "verified member" in await verify(chat, "ria", "kit")
    await verify(chat, "ria", "robin")
    return chat


async def robin_reports(chat: Chat) -> str:
    """Robin's report after a bad booking: every step answered; returns the last reply."""
    await chat.send("robin", "/report")
    await chat.pick("robin", "Violent")
    assert "doesn't look like a car plate" in await chat.send("robin", "--")  # asked again
    await chat.send("robin", ROBIN_PLATE)
    await chat.pick("robin", "Skip")  # no phone number
    await chat.pick("robin", "Yes, show the last 3")
    await chat.send("robin", "Silver estate, tall man with a beard")
    await chat.send("robin", "He hit me at the flat on Mill Road and kept the money, ask Robin")
    await chat.send("robin", "Riverside")
    return await chat.pick("robin", "Today")


async def test_robin_reports_a_moderator_edits_and_publishes_and_kits_outcall_is_flagged(
    tmp_path: Path, database_url: str
) -> None:
    chat = await community(tmp_path, database_url)
    mark = len(chat.console.transcript)
    assert "waits for a moderator" in await robin_reports(chat)
    told_mona = [t for to, t in chat.console.transcript[mark:] if to == "mona"]
    assert any("A new report waits for moderation" in t for t in told_mona)

    shown = await chat.send("mona", "/moderate")
    assert "Car plate ending in CDE" in shown and "Violent" in shown
    assert "Robin" not in shown.replace("ask Robin", ""), "moderators never see who reported"
    await chat.pick("mona", "Edit the details")
    edited = await chat.send("mona", "He hit the worker and kept the money.")
    assert "He hit the worker and kept the money." in edited
    kit_sees = await chat.send("mona", chat.choice("mona", "Publish"))
    assert "is published" in kit_sees

    pushed = [t for to, t in chat.console.transcript if to == "kit" and "New warning" in t]
    assert len(pushed) == 1 and "He hit the worker" in pushed[0] and "Mill Road" not in pushed[0]
    assert any("was published" in t for to, t in chat.console.transcript if to == "robin")
    with chat.app.db.transaction() as session:
        report = session.scalars(select(Report)).one()
        assert (report.reporter_id, report.question, report.answer) == (None, None, None)
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action.like("report%")))
        assert [(a.action, a.after) for a in audit] == [
            ("report_edited", {"report": report.id}),
            ("report_published", {"report": report.id}),
        ]

    # The next night Kit types the plate differently: flagged before the outcall starts.
    await chat.send("kit", "/outcall")
    await chat.send("kit", KIT_PLATE)
    await chat.send("kit", "22 Dock Street")
    await chat.pick("kit", "Skip")
    warned = await chat.send("kit", "1h")
    assert "matches a warning from the community" in warned and "He hit the worker" in warned
    assert "Cancel this booking" in warned and "Go anyway" in warned
    started = await chat.pick("kit", "Go anyway")
    assert "Check in by" in started or "check in" in started.lower()

    chat.clock.advance(minutes=71)  # missed by 10 minutes: Sam is alerted
    chat.app.engine.tick()
    await chat.app.dispatcher.drain()
    alert = next(t for to, t in reversed(chat.console.transcript) if to == "sam")
    assert "Kit missed their check-in" in alert
    assert "matched a warning on the community's list" in alert


async def published(chat: Chat) -> None:
    """Robin's report, published by Mona as it was sent."""
    await robin_reports(chat)
    await chat.send("mona", "/moderate")
    await chat.pick("mona", "Publish")


async def test_unverified_workers_outcall_is_not_screened_and_they_cannot_check(
    tmp_path: Path,
) -> None:
    chat = await community(tmp_path)
    await published(chat)
    await chat.register("lee")
    assert "only for verified members" in await chat.send("lee", f"/check {ROBIN_PLATE}")
    assert "only for verified members" in await chat.send("lee", "/warnings")
    # Screening comes before sealing: had it run, Lee would be warned before being told
    # that an outcall needs a buddy.
    started = await chat.send("lee", f"/outcall {KIT_PLATE} | 22 Dock Street | 1h")
    assert "don't have a buddy" in started and "warning" not in started.lower()


async def test_a_moderator_may_ask_the_reporter_one_question_and_reject(tmp_path: Path) -> None:
    chat = await community(tmp_path)
    await robin_reports(chat)
    await chat.send("mona", "/moderate")
    await chat.pick("mona", "Ask the reporter a question")
    assert "question was sent" in await chat.send("mona", "Which day of the week was it?")
    asked = next(t for to, t in reversed(chat.console.transcript) if to == "robin")
    assert "Which day of the week was it?" in asked and "Mona" not in asked
    await chat.pick("robin", "Answer")
    await chat.send("robin", "Tuesday")
    shown = await chat.send("mona", "/moderate")
    assert "Answer: Tuesday" in shown and "Ask the reporter" not in shown
    assert "rejected and deleted" in await chat.pick("mona", "Reject")
    assert "decided not to publish" in next(
        t for to, t in reversed(chat.console.transcript) if to == "robin"
    )
    with chat.app.db.transaction() as session:
        assert session.scalars(select(Report)).all() == []


async def test_check_cancel_mute_withdraw_and_expiry(tmp_path: Path) -> None:
    chat = await community(tmp_path)
    await published(chat)
    assert "matches a warning" in await chat.send("kit", "/check AB-12-CDE")
    assert "No published warning matches" in await chat.send("kit", "/check ZZ99 ZZZ")
    assert "Send /check with the plate" in await chat.send("kit", "/check")
    await chat.send("kit", f"/outcall {KIT_PLATE} | 22 Dock Street | 1h")
    assert "Nothing was saved" in await chat.pick("kit", "Cancel this booking")
    assert "No outcall is running" in await chat.send("kit", "/status")

    assert "He hit me" in await chat.send("kit", "/warnings")
    assert "won't get messages" in await chat.pick("kit", "Stop messages about new warnings")
    await published(chat)
    pushed = [t for to, t in chat.console.transcript if to == "kit" and "New warning" in t]
    assert len(pushed) == 1, "a muted member is not sent the second report"
    assert "withdrawn" in await chat.pick("mona", "Withdraw it")
    chat.clock.advance(days=366)
    assert chat.app.reports.expire() == 1, "the first report expires; the second was withdrawn"
    assert "No published warning matches" in await chat.send("kit", "/check AB12CDE")


async def test_a_raid_alert_from_a_responder_reaches_verified_members_in_their_languages(
    tmp_path: Path,
) -> None:
    chat = await community(tmp_path)
    await chat.send("kit", "/language")
    await chat.pick("kit", "Español")
    await chat.register("lee")  # registered, not verified: gets nothing
    await chat.send("ria", "/raid")
    await chat.pick("ria", "Immigration")
    await chat.send("ria", "Station square")
    assert "is sent to the verified members" in await chat.pick("ria", "Now")
    to_kit = next(t for to, t in reversed(chat.console.transcript) if to == "kit")
    to_robin = next(t for to, t in reversed(chat.console.transcript) if to == "robin")
    assert "Raid alert (north)" in to_robin and "Alerta de redada (north)" in to_kit
    assert "Station square" in to_kit and "Station square" in to_robin
    assert not any("Station square" in t for to, t in chat.console.transcript if to == "lee")
    assert "Know your rights" in to_robin
    await chat.pick("robin", "Know your rights")

    assert "withdrawn" in await chat.pick("ria", "Withdraw it")
    assert "withdrawn" in next(t for to, t in reversed(chat.console.transcript) if to == "robin")
    assert "retiró" in next(t for to, t in reversed(chat.console.transcript) if to == "kit")


async def test_a_members_raid_alert_waits_for_one_tap_from_a_moderator(tmp_path: Path) -> None:
    chat = await community(tmp_path)
    await chat.send("robin", "/raid")
    await chat.pick("robin", "Street checks")
    await chat.send("robin", "Market street")
    assert "moderator will look" in await chat.pick("robin", "Now")
    assert not any("Market street" in t for to, t in chat.console.transcript if to == "kit")
    to_mona = next(t for to, t in reversed(chat.console.transcript) if to == "mona")
    assert "waiting for moderation" in to_mona
    await chat.pick("mona", "Publish now")
    assert any("Market street" in t for to, t in chat.console.transcript if to == "kit")
    chat.clock.advance(hours=11)
    assert chat.app.reports.expire() == 0
    chat.clock.advance(hours=1)  # raid_expiry: 12 hours by default
    assert chat.app.reports.expire() == 1


async def test_raid_alerts_and_reports_waiting_are_limited_per_member(tmp_path: Path) -> None:
    chat = await community(tmp_path)
    reports = chat.app.reports
    for _time in range(2):
        reports.submit_raid(Identity("console", "robin"), "raid", "Market street", "now")
    await chat.send("robin", "/raid")
    await chat.pick("robin", "Raid")
    await chat.send("robin", "Market street")
    assert "already have raid alerts waiting" in await chat.pick("robin", "Now")
    for _time in range(3):
        reports.submit_report(Identity("console", "robin"), ReportDraft(description="He hit me"))
    assert "several reports waiting" in await robin_reports(chat)


def test_the_folding_rule_matches_look_alikes_and_refuses_non_plates() -> None:
    assert fold_plate("ab-12 cde") == fold_plate("AB12CDE") == fold_plate("AB 12 CDE")
    assert fold_plate("KO1") == fold_plate("K0I") == "K01"
    assert fold_phone("+44 7700 900123") == fold_phone("07700-900123") == "700900123"
    assert hint("ab-12 cde") == "CDE"
    for bad in ("", "-", "A", "ABCDEFGHIJKLMN"):
        with pytest.raises(Refusal):
            fold_plate(bad)
    with pytest.raises(Refusal):
        fold_phone("call me")


async def test_a_reported_plate_never_appears_in_plaintext_in_the_database_or_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    chat = await community(tmp_path)
    await published(chat)
    await chat.send("kit", f"/check {KIT_PLATE}")
    chat.app.db.engine.dispose()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("b.db*")).upper()
    assert raw, "the test must read the database files"
    for folded in (b"AB12CDE", b"AB12 CDE", b"AB-12 CDE", b"AB12C"):
        assert folded not in raw
    for spelling in (ROBIN_PLATE, KIT_PLATE, "AB12CDE"):
        assert spelling not in caplog.text


async def test_a_check_leaves_no_trace(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    chat = await community(tmp_path)
    await published(chat)

    def snapshot() -> dict[str, list[tuple[object, ...]]]:
        with chat.app.db.transaction() as session:
            return {
                table.name: [tuple(row) for row in session.execute(table.select())]
                for table in Base.metadata.sorted_tables
            }

    before = snapshot()
    caplog.clear()
    caplog.set_level(logging.DEBUG)
    assert "matches a warning" in await chat.send("kit", f"/check {KIT_PLATE}")
    assert "No published warning" in await chat.send("kit", "/check 07700 900123")
    assert snapshot() == before, "no row, no outbox message"
    assert caplog.records == [], "no log line"
    with chat.app.db.transaction() as session:
        assert session.scalars(select(Raid)).all() == []


async def test_a_panic_wipe_deletes_who_sent_what_still_waits(tmp_path: Path) -> None:
    chat = await community(tmp_path)
    await robin_reports(chat)
    chat.app.reports.submit_raid(Identity("console", "robin"), "raid", "Market street", "now")
    assert wipe(chat.app.db, chat.clock()).reporter_links == 2
    with chat.app.db.transaction() as session:
        assert [r.reporter_id for r in session.scalars(select(Report))] == [None]
        assert [r.reporter_id for r in session.scalars(select(Raid))] == [None]
