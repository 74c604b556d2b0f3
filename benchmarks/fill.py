"""Fill a fresh database with running outcalls through the project's own code.

Each outcall is what `CheckinService.start_outcall` leaves behind: a worker with three
buddies (members with real X25519 key pairs from `Sealer.new_key_pair`, Telegram chat ids
as their addresses), a row made by `lifecycle.begin` with the jurisdiction's ladder
snapshot (`lifecycle.new_outcall`, the row `lifecycle.begin` adds), and the details sealed
to the buddies by `Sealer.seal`. Rows are written in chunks, each kind in one batched
insert, rather than through the conversation, so 100,000 outcalls fill in minutes.

The members' keys are wrapped at the cheapest Argon2id cost (the tests' cost, which the
service stores per member): the benchmark types no PIN, so the cost would only slow the fill;
the bot itself runs with a cost `buddycheck run` accepts.
"""

from __future__ import annotations

import multiprocessing
import secrets
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, select, text
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


def fill(settings: Settings, pepper: bytes, check_ins: Sequence[CheckIn], workers: int = 1) -> None:
    """Migrate `settings`' database and write every check-in as a running outcall, with
    `workers` processes side by side (for PostgreSQL: the key pairs and sealing are most of
    the work, and one process keeps one core busy), each its own contiguous share."""
    db = Database(settings.database.url)
    try:
        db.migrate()
    finally:
        db.dispose()
    if workers == 1:
        _fill_share(settings, pepper, check_ins)
    else:
        share = -(-len(check_ins) // workers)
        context = multiprocessing.get_context("spawn")  # nothing inherited but the arguments
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            done = [
                pool.submit(_fill_share, settings, pepper, check_ins[start : start + share])
                for start in range(0, len(check_ins), share)
            ]
            for each in done:
                each.result()  # a failed share fails the fill
    if settings.database.url.startswith("postgresql"):
        _analyze(settings.database.url)


def _fill_share(settings: Settings, pepper: bytes, check_ins: Sequence[CheckIn]) -> None:
    """Write `check_ins` in chunks of CHUNK, one transaction each."""
    db = Database(settings.database.url)
    try:
        sealer = Sealer(pepper, KDF_COSTS["insecure-fast"])
        for start in range(0, len(check_ins), CHUNK):
            with db.transaction() as session:
                _fill_chunk(session, settings, sealer, check_ins[start : start + CHUNK])
    finally:
        db.dispose()


def _analyze(url: str) -> None:
    """Fresh planner statistics, as a running deployment's autovacuum keeps them, so the bot
    is not measured against plans made for empty tables or beside an ANALYZE run."""
    db = Database(url)
    try:
        with db.engine.connect() as connection:
            connection.execute(text("ANALYZE"))
            connection.commit()
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
    outcalls = [
        lifecycle.new_outcall(
            members[c.worker_chat],
            jurisdiction,
            datetime.fromtimestamp(c.due, UTC),
            now,
            drill=False,
        )
        for c in chunk
    ]
    session.add_all(outcalls)
    session.flush()  # one batched INSERT … RETURNING for the chunk's ids
    envelopes, sealed_keys = [], []
    for check_in, outcall in zip(chunk, outcalls, strict=True):
        recipients = {members[b].id: members[b].public_key for b in check_in.buddy_chats}
        sealed = Sealer.seal(Details("AB12CDE", "1 Bench Road", ""), recipients)
        envelopes.append({"outcall_id": outcall.id, "ciphertext": sealed.envelope})
        sealed_keys += [
            {"outcall_id": outcall.id, "member_id": m, "sealed": k}
            for m, k in sealed.sealed_keys.items()
        ]
    session.execute(insert(Envelope), envelopes)
    session.execute(insert(SealedKey), sealed_keys)


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
