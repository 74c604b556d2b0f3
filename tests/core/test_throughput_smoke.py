"""The throughput benchmark's small variant, so the harness cannot rot between real runs.

The real numbers come from `python -m benchmarks.run` and live in BENCHMARKS.md; the
thresholds here are generous on purpose (a loaded CI machine must pass): every alert
arrives exactly once, the bot starts listening within seconds, and it answers a user
while it works through the alerts.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.harness import Subject, measure
from benchmarks.report import row
from benchmarks.workloads import workloads

SMOKE = workloads(minutes=5)["smoke"]
GRACE = 30.0
MARGIN = 4.0


@pytest.mark.benchmark
@pytest.mark.parametrize(
    "subject",
    [Subject("buddycheck", "buddycheck"), Subject("JobQueue, in memory", "memory")],
    ids=["buddycheck", "jobqueue"],
)
async def test_every_alert_arrives_once(subject: Subject, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'buddycheck.db'}"
    result = row(subject.name, await measure(subject, SMOKE, tmp_path, url, GRACE, MARGIN))
    assert (result.delivered, result.duplicates) == (SMOKE.outcalls * 3, 0)
    assert result.startup is not None and result.startup < 10
    assert result.probes > 0 and result.answered == result.probes
