"""A new outcall row: where a booking, an SOS without one, and a drill all begin."""

from __future__ import annotations

import secrets
from datetime import datetime

from checkins.lifecycle import State
from checkins.policy import Jurisdiction
from storage.tables import Member, Outcall

_REF_BYTES = 6


def new_outcall(
    worker: Member, jurisdiction: Jurisdiction, due_at: datetime, now: datetime, *, reminded: bool
) -> Outcall:
    """An active outcall with an unguessable ref, not yet added to the session.

    It keeps a copy of the place's ladder as it stands now, so a later admin edit never
    changes the steps of an outcall already running.
    """
    return Outcall(
        ref=secrets.token_hex(_REF_BYTES),
        worker_id=worker.id,
        jurisdiction=jurisdiction.id,
        state=State.ACTIVE.value,
        ladder=jurisdiction.ladder.to_json(),
        due_at=due_at,
        next_stage=0,
        reminded=reminded,
        sos=False,
        extended_minutes=0,
        created_at=now,
        expires_at=now + jurisdiction.ladder.retention,
    )
