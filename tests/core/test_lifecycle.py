"""The lifecycle table is the only writer of an outcall's state, and the docs show it as is."""

from __future__ import annotations

import re
from pathlib import Path

from checkins.lifecycle import PROTECTED, TRANSITIONS, Event, State, mermaid, next_state

ROOT = Path(__file__).resolve().parents[2]
STATE_FIELDS = (
    "state",
    "next_stage",
    "reminded",
    "acknowledged_by_id",
    "sos",
    "duress",
    "ended_at",
    "next_action_at",
    "due_at",
    "extended_minutes",
)


def test_the_architecture_diagram_is_generated_from_the_table() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert f"```mermaid\n{mermaid()}```" in doc, (
        "docs/architecture.md drifted from checkins/lifecycle.py: "
        "paste the output of `python -m checkins.lifecycle` into it"
    )


def test_only_the_lifecycle_writes_an_outcalls_state() -> None:
    writes = re.compile(rf"\boutcall\.({'|'.join(STATE_FIELDS)})\s*=[^=]")
    bulk = re.compile(r"update\(Outcall\)")
    offenders = []
    for path in [*ROOT.glob("checkins/*.py"), *ROOT.glob("bot/**/*.py")]:
        if path.name == "lifecycle.py":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if writes.search(line) or bulk.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "outcall state written outside checkins/lifecycle.py:\n" + "\n".join(
        offenders
    )


def test_every_open_state_can_always_be_settled_by_a_helper_or_expire() -> None:
    for state in (State.OVERDUE, State.ACKNOWLEDGED):
        assert next_state(state, Event.CONFIRM_SAFE) is State.RESOLVED
    for state in State:
        if state.is_open:
            assert next_state(state, Event.EXPIRE) is State.EXPIRED


def test_on_an_sos_the_workers_own_events_never_end_it() -> None:
    for event, instead in PROTECTED.items():
        assert instead is None or not any(
            TRANSITIONS[(state, instead)].to in (State.SAFE, State.CANCELLED, State.RESOLVED)
            for state in State
            if (state, instead) in TRANSITIONS
        ), event
