"""What every service and the engine share: the database, the sealer, the rules, the clock;
and the two answers every request can get before anything else: who is asking, or a refusal."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from checkins.i18n import _
from checkins.messages import Identity
from checkins.policy import Policy
from checkins.sealing import Sealer
from storage import queries
from storage.db import Database
from storage.tables import Member

Clock = Callable[[], datetime]


class Refusal(Exception):
    """A request that cannot be done; `str()` is the sentence to show the person."""


class WrongPinRetry(Refusal):
    """A wrong PIN with tries left: the person may type it again, so the question stays open."""


@dataclass(frozen=True)
class Context:
    db: Database
    sealer: Sealer
    policy: Policy
    clock: Clock


def require_member(session: Session, who: Identity) -> Member:
    """The registered member behind a chat, or the refusal that tells them to register."""
    member = queries.member_by_identity(session, who.channel, who.address)
    if member is None:
        raise Refusal(_("You're not registered yet. Send /start to begin."))
    return member
