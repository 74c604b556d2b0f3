"""`buddycheck status`: the running process's `/healthz`, said in words for a volunteer.

Each check's sentence says what it means for the people relying on the bot, not only what
failed, so the person reading it knows how urgent it is.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from checkins.i18n import _

TIMEOUT = 10.0  # seconds: the probe itself waits at most 3 s for the database


@dataclass(frozen=True)
class Status:
    healthy: bool
    lines: list[str]


def fetch(host: str, port: int) -> dict[str, Any]:
    """The JSON of `/healthz` (its 503 body too); raises OSError when nothing answers."""
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            body = response.read()
    except urllib.error.HTTPError as failing:
        body = failing.read()
    data: dict[str, Any] = json.loads(body)
    return data


def describe(report: dict[str, Any]) -> Status:
    """The report as sentences, the failing checks first."""
    checks = sorted(report.get("checks", []), key=lambda check: bool(check.get("ok")))
    lines = [_sentence(check) for check in checks]
    healthy = report.get("status") == "ok" and all(check.get("ok") for check in checks)
    head = _("buddycheck is healthy.") if healthy else _("buddycheck is NOT healthy:")
    return Status(healthy, [head, *lines])


def _sentence(check: dict[str, Any]) -> str:
    name, ok, detail = str(check.get("name")), bool(check.get("ok")), str(check.get("detail"))
    mark = "✓" if ok else "✗"
    if name == "database":
        words = (
            _("The database answers.")
            if ok
            else _(
                "The database does not answer (locked, full or down): check-ins and alerts "
                "cannot be recorded or sent."
            )
        )
    elif name == "engine":
        words = (
            _("The engine is acting on missed check-ins ({detail}).")
            if ok
            else _("The engine has stopped: missed check-ins are NOT being acted on ({detail}).")
        ).format(detail=detail)
    elif name.startswith("channel:"):
        channel = name.partition(":")[2].title()
        words = (
            _("{channel}: {state}.")
            if ok
            else _(
                "{channel} is not receiving ({state}): people's messages, SAFE and SOS "
                "among them, do not reach the bot."
            )
        ).format(channel=channel, state=detail)
    elif name == "alerts":
        words = (
            _("No alert is waiting too long ({detail}).")
            if ok
            else _("An alert is waiting too long to be sent ({detail}).")
        ).format(detail=detail)
    else:
        words = f"{name}: {detail}"
    return f"{mark} {words}"
