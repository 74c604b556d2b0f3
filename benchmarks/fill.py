"""Fill a fresh database with running outcalls through the project's own code.

Each outcall is what `CheckinService.start_outcall` leaves behind: a worker with three
buddies (members with real X25519 key pairs from `Sealer.new_key_pair`, Telegram chat ids
as their addresses), a row made by `lifecycle.begin` with the jurisdiction's ladder
snapshot, and the details sealed to the buddies by `Sealer.seal`. Rows are written in
chunks rather than through the conversation, so 100,000 outcalls fill in minutes.

The members' keys are wrapped at the cheapest Argon2id cost (the tests' cost, which the
service stores per member): the benchmark types no PIN, so the cost would only slow the fill;
the bot itself runs with a cost `buddycheck run` accepts.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from bot.config import Settings
from checkins import lifecycle
from checkins.jurisdictions import effective
from checkins.sealing import KDF_COSTS, Details, Sealer, WrappedKeyPair
from storage.db import Database
from storage.tables import BuddyLink, Envelope, Member, SealedKey

CHUNK = 1000
PIN = "482913"
CHANNEL = "telegram"


@dataclass(frozen=True)
class CheckIn:
    """One worker's outcall: when its alert stage is due and the buddies it must reach."""

    due: float
    worker_chat: int
    buddy_chats: tuple[int, ...]


def fill(settings: Settings, pepper: bytes, check_ins: Sequence[CheckIn]) -> None:
    """Migrate `settings`' database and write every check-in as a running outcall."""
    db = Database(settings.database.url)
    try:
        db.migrate()
        sealer = Sealer(pepper, KDF_COSTS["insecure-fast"])
        for start in range(0, len(check_ins), CHUNK):
            with db.transaction() as session:
                _fill_chunk(session, settings, sealer, check_ins[start : start + CHUNK])
    finally:
        db.dispose()


def _fill_chunk(
    session: Session, settings: Settings, sealer: Sealer, chunk: Sequence[CheckIn]
) -> None:
    """One transaction: the members, their buddy links, the outcalls and sealed details."""
    now = datetime.now(UTC)
    people = [(c.worker_chat, c.buddy_chats) for c in chunk]
    chats = [chat for worker, buddies in people for chat in (worker, *buddies)]
    keys = {chat: sealer.new_key_pair(PIN) for chat in chats}
    session.execute(insert(Member), [_member_row(c, keys[c], now, settings) for c in chats])
    members = {
        int(m.address): m
        for m in session.scalars(
            select(Member).where(
                Member.channel == CHANNEL, Member.address.in_([str(c) for c in chats])
            )
        )
    }
    session.execute(
        insert(BuddyLink),
        [
            {"worker_id": members[w].id, "buddy_id": members[b].id, "created_at": now}
            for w, buddies in people
            for b in buddies
        ],
    )
    jurisdiction = effective(session, settings.policy(), settings.service.default_jurisdiction)
    for check_in in chunk:
        due = datetime.fromtimestamp(check_in.due, UTC)
        outcall = lifecycle.begin(session, members[check_in.worker_chat], jurisdiction, due, now)
        recipients = {members[b].id: members[b].public_key for b in check_in.buddy_chats}
        sealed = Sealer.seal(Details("AB12CDE", "1 Bench Road", ""), recipients)
        session.add(Envelope(outcall_id=outcall.id, ciphertext=sealed.envelope))
        session.add_all(
            SealedKey(outcall_id=outcall.id, member_id=m, sealed=k)
            for m, k in sealed.sealed_keys.items()
        )


def _member_row(
    chat: int, keys: WrappedKeyPair, now: datetime, settings: Settings
) -> dict[str, object]:
    """A registered Telegram member as `CheckinService.register` writes one."""
    jurisdiction = settings.service.default_jurisdiction
    return {
        "channel": CHANNEL,
        "address": str(chat),
        "alias": f"M{secrets.token_hex(3)}",
        "locale": settings.jurisdictions[jurisdiction].locale,
        "jurisdiction": jurisdiction,
        "public_key": keys.public_key,
        "wrapped_secret": keys.wrapped_secret,
        "kdf_salt": keys.salt,
        "kdf_ops": keys.cost.ops,
        "kdf_mem": keys.cost.mem,
        "pin_failures": 0,
        "created_at": now,
    }
