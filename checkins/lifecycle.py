"""The outcall state machine: one enum of states, one of events, one transition table.

```mermaid
stateDiagram-v2
    [*] --> active
    active --> safe: check in
    active --> cancelled: cancel
    active --> active: extend / remind
    active --> overdue: due (engine) / SOS
    overdue --> overdue: next stage / SOS
    overdue --> acknowledged: "I'm on it"
    overdue --> active: worker extends
    acknowledged --> overdue: ack timeout (engine)
    acknowledged --> active: worker extends
    overdue --> resolved: late check-in / confirmed safe
    acknowledged --> resolved: late check-in / confirmed safe
    active --> expired: retention limit
    overdue --> expired: retention limit
    acknowledged --> expired: retention limit
```
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    ACTIVE = "active"
    OVERDUE = "overdue"
    ACKNOWLEDGED = "acknowledged"
    SAFE = "safe"
    CANCELLED = "cancelled"
    RESOLVED = "resolved"
    EXPIRED = "expired"

    @property
    def is_open(self) -> bool:
        return self in OPEN_STATES

    @property
    def is_alerting(self) -> bool:
        return self in (State.OVERDUE, State.ACKNOWLEDGED)


class Event(StrEnum):
    CHECK_IN = "check_in"
    CANCEL = "cancel"
    EXTEND = "extend"
    REMIND = "remind"
    STEP = "step"
    SOS = "sos"
    ACKNOWLEDGE = "acknowledge"
    CONFIRM_SAFE = "confirm_safe"
    EXPIRE = "expire"


OPEN_STATES = frozenset({State.ACTIVE, State.OVERDUE, State.ACKNOWLEDGED})

TRANSITIONS: dict[tuple[State, Event], State] = {
    (State.ACTIVE, Event.CHECK_IN): State.SAFE,
    (State.ACTIVE, Event.CANCEL): State.CANCELLED,
    (State.ACTIVE, Event.EXTEND): State.ACTIVE,
    (State.ACTIVE, Event.REMIND): State.ACTIVE,
    (State.ACTIVE, Event.STEP): State.OVERDUE,
    (State.ACTIVE, Event.SOS): State.OVERDUE,
    (State.ACTIVE, Event.EXPIRE): State.EXPIRED,
    (State.OVERDUE, Event.CHECK_IN): State.RESOLVED,
    (State.OVERDUE, Event.CANCEL): State.RESOLVED,
    (State.OVERDUE, Event.EXTEND): State.ACTIVE,
    (State.OVERDUE, Event.STEP): State.OVERDUE,
    (State.OVERDUE, Event.SOS): State.OVERDUE,
    (State.OVERDUE, Event.ACKNOWLEDGE): State.ACKNOWLEDGED,
    (State.OVERDUE, Event.CONFIRM_SAFE): State.RESOLVED,
    (State.OVERDUE, Event.EXPIRE): State.EXPIRED,
    (State.ACKNOWLEDGED, Event.CHECK_IN): State.RESOLVED,
    (State.ACKNOWLEDGED, Event.CANCEL): State.RESOLVED,
    (State.ACKNOWLEDGED, Event.EXTEND): State.ACTIVE,
    (State.ACKNOWLEDGED, Event.STEP): State.OVERDUE,
    (State.ACKNOWLEDGED, Event.SOS): State.ACKNOWLEDGED,
    (State.ACKNOWLEDGED, Event.ACKNOWLEDGE): State.ACKNOWLEDGED,
    (State.ACKNOWLEDGED, Event.CONFIRM_SAFE): State.RESOLVED,
    (State.ACKNOWLEDGED, Event.EXPIRE): State.EXPIRED,
}


class InvalidTransition(Exception):
    """The event does not apply to the outcall's current state (e.g. a stale button)."""


def next_state(state: State | str, event: Event) -> State:
    """The state after `event`, or `InvalidTransition` if the event does not apply."""
    try:
        return TRANSITIONS[(State(state), event)]
    except KeyError:
        raise InvalidTransition(f"{event.value} does not apply to a {state} outcall") from None
