"""The panic wipe: destroy every sealed detail and every key at once.

For an organisation that fears its server is about to be seized. Afterwards nothing the
database holds can be unsealed, by anyone, with any PIN: envelopes, sealed keys, buddy and
role invites, every member's wrapped secret, public key, salt and duress verifier, the link
from each report and raid alert still waiting for a moderator to its reporter (with the
moderator's question and its answer), and pending messages about outcalls are gone, and the
file is rebuilt so no freed page keeps a copy. Members, pairings and outcall deadlines stay,
so alerts still go out (without details); each member chooses a new PIN, and gets new keys,
the next time they write.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import delete, update

from checkins.admin import SERVER
from storage import outbox
from storage.db import Database
from storage.scrub import vacuum
from storage.tables import (
    AuditEntry,
    Envelope,
    Invite,
    Member,
    OutboxMessage,
    Raid,
    Report,
    RoleInvite,
    SealedKey,
)

_TABLES = (
    "envelopes",
    "sealed_keys",
    "invites",
    "role_invites",
    "members",
    "outbox",
    "reports",
    "raids",
)


@dataclass(frozen=True)
class WipeReport:
    envelopes: int
    sealed_keys: int
    invites: int
    role_invites: int
    member_keys: int
    messages: int
    reporter_links: int


def wipe(db: Database, now: datetime) -> WipeReport:
    """Destroy all sealed data and keys in one transaction, then rebuild the storage.

    The audit log records the wipe (when, and how much went), in the same transaction, so
    admins can see afterwards why everyone was asked for a new PIN.
    """
    with db.transaction() as session:

        def count(statement: object) -> int:
            return int(session.execute(statement).rowcount)  # type: ignore[call-overload]

        report = WipeReport(
            envelopes=count(delete(Envelope)),
            sealed_keys=count(delete(SealedKey)),
            invites=count(delete(Invite)),
            role_invites=count(delete(RoleInvite)),
            member_keys=count(
                update(Member).values(
                    public_key=b"", wrapped_secret=b"", kdf_salt=b"", duress_verifier=None
                )
            ),
            messages=count(
                delete(OutboxMessage).where(
                    OutboxMessage.state == outbox.PENDING, OutboxMessage.outcall_id.is_not(None)
                )
            ),
            reporter_links=count(
                update(Report)
                .where(Report.reporter_id.is_not(None))
                .values(reporter_id=None, question=None, answer=None)
            )
            + count(update(Raid).where(Raid.reporter_id.is_not(None)).values(reporter_id=None)),
        )
        session.add(
            AuditEntry(
                at=now,
                actor_id=None,
                actor=SERVER,
                action="wipe",
                jurisdiction=None,
                before=None,
                after=asdict(report),
            )
        )
    vacuum(db, _TABLES)
    return report
