"""Fill a fresh database with running outcalls through the project's own code.

Each outcall is what `CheckinService.start_outcall` leaves behind: a worker with three
buddies (members with real X25519 key pairs from `Sealer.new_key_pair`, Telegram chat ids
as their addresses; a buddy may be another outcall's worker), the row `lifecycle.begin`
adds (`lifecycle.new_outcall`) with the jurisdiction's ladder snapshot, and the details
sealed to the buddies by `Sealer.seal`. Rows are written in chunks, each kind in one
batched insert, rather than through the conversation, so 100,000 outcalls fill in minutes.

The members' keys are wrapped at the cheapest Argon2id cost (the tests' cost, which the
service stores per member): the benchmark types no PIN, so the cost would only slow the fill;
the bot itself runs with a cost `buddycheck run` accepts.
"""

from __future__ import annotations

import multiprocessing
import secrets
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from bot.config import Settings
from checkins import lifecycle
from checkins.jurisdictions import effective
from checkins.sealing import KDF_COSTS, Details, Sealer, WrappedKeyPair
from storage.db import Database
from storage.tables import BuddyLink, Envelope, Member, SealedKey

CHUNK = 1000  # outcalls to a transaction
MEMBER_CHUNK = 4000
T = TypeVar("T")
PIN = "482913"
CHANNEL = "telegram"


@dataclass(frozen=True)
class CheckIn:
    """One worker's outcall: when its alert stage is due and the buddies it must reach."""

    due: float
    worker_chat: int
    buddy_chats: tuple[int, ...]


def fill(settings: Settings, pepper: bytes, check_ins: Sequence[CheckIn], workers: int = 1) -> None:
    """Migrate `settings`' database and write every check-in as a running outcall: first
    every member (a buddy may be another check-in's worker), then the outcalls. `workers`
    processes work side by side (for PostgreSQL: the key pairs and sealing are most of the
    work, and one process keeps one core busy), each on its own contiguous share."""
    db = Database(settings.database.url)
    try:
        db.migrate()
    finally:
        db.dispose()
    chats = list(dict.fromkeys(c for i in check_ins for c in (i.worker_chat, *i.buddy_chats)))
    _in_shares(workers, _fill_members, settings, pepper, chats)
    _in_shares(workers, _fill_outcalls, settings, pepper, check_ins)
    if settings.database.url.startswith("postgresql"):
        _analyze(settings.database.url)


def _in_shares(
    workers: int,
    work: Callable[[Settings, bytes, Sequence[T]], None],
    settings: Settings,
    pepper: bytes,
    items: Sequence[T],
) -> None:
    """`work` on `items`, in `workers` processes side by side (in this one if 1)."""
    if workers == 1:
        work(settings, pepper, items)
        return
    share = -(-len(items) // workers)
    context = multiprocessing.get_context("spawn")  # nothing inherited but the arguments
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        done = [
            pool.submit(work, settings, pepper, items[start : start + share])
            for start in range(0, len(items), share)
        ]
        for each in done:
            each.result()  # a failed share fails the fill


def _fill_members(settings: Settings, pepper: bytes, chats: Sequence[int]) -> None:
    """Register `chats` as members, MEMBER_CHUNK to a transaction."""
    sealer = Sealer(pepper, KDF_COSTS["insecure-fast"])
    db = Database(settings.database.url)
    try:
        for start in range(0, len(chats), MEMBER_CHUNK):
            now = datetime.now(UTC)
            rows = [
                _member_row(chat, sealer.new_key_pair(PIN), now, settings)
                for chat in chats[start : start + MEMBER_CHUNK]
            ]
            with db.transaction() as session:
                session.execute(insert(Member), rows)
    finally:
        db.dispose()


def _fill_outcalls(settings: Settings, pepper: bytes, check_ins: Sequence[CheckIn]) -> None:
    """Write `check_ins` in chunks of CHUNK, one transaction each."""
    db = Database(settings.database.url)
    try:
        for start in range(0, len(check_ins), CHUNK):
            with db.transaction() as session:
                _fill_chunk(session, settings, check_ins[start : start + CHUNK])
    finally:
        db.dispose()


def postpone(url: str, seconds: int) -> None:
    """Move every outcall's schedule `seconds` later (PostgreSQL), for a fill that took
    longer than its lead: the due times, and so the deadlines computed from them, shift
    together, so the workload starts as planned after the bot does instead of as a backlog."""
    db = Database(url)
    try:
        with db.transaction() as session:
            session.execute(
                text(
                    "UPDATE outcalls SET due_at = due_at + make_interval(secs => :s),"
                    " next_action_at = next_action_at + make_interval(secs => :s),"
                    " expires_at = expires_at + make_interval(secs => :s)"
                ),
                {"s": seconds},
            )
    finally:
        db.dispose()
    _analyze(url)


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


def _fill_chunk(session: Session, settings: Settings, chunk: Sequence[CheckIn]) -> None:
    """One transaction: the buddy links, the outcalls and their sealed details."""
    now = datetime.now(UTC)
    people = [(c.worker_chat, c.buddy_chats) for c in chunk]
    chats = {chat for worker, buddies in people for chat in (worker, *buddies)}
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
