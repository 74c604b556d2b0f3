"""The configuration `buddycheck run` is benchmarked with: one it accepts for real people.

A real pepper file (mode 600) and the `interactive` Argon2id cost, because `run` refuses
the tests' fast KDF; the ladder alerts the buddies at the due time with no reminder before
it, so every message sent is an alert the harness expects. Two processes sharing one
PostgreSQL database get one file each, as docs/architecture.md ("Two processes") says.
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.fakeapi import TOKEN

CONFIG = """\
[service]
default_jurisdiction = "north"
max_buddies = 3

[database]
url = "{url}"

[outbox]
instance = "{instance}"

[telegram]
token = "{token}"
base_url = "{base_url}"
{telegram}

[crypto]
pepper_file = "{pepper}"
kdf = "interactive"
argon2_memory_mib = 128

[health]
listen = ""

[jurisdictions.north]
legal_model = "criminalised"
timezone = "Europe/London"
locale = "en"
reminder_before = "0m"
ladder = [{{ after = "0m", notify = "buddies" }}]
"""


def write_config(
    directory: Path,
    url: str,
    base_url: str,
    pepper: Path,
    *,
    name: str = "config.toml",
    instance: str = "main",
    telegram: dict[str, str | float] | None = None,
) -> Path:
    """`name` in `directory` for the database at `url` and the fake Bot API; `telegram`
    adds settings to `[telegram]` (a second process's mode, each process's share of the
    gate) and `instance` names the process for the outbox."""
    path = directory / name
    extra = "\n".join(f"{key} = {json.dumps(value)}" for key, value in (telegram or {}).items())
    text = CONFIG.format(
        url=url, token=TOKEN, base_url=base_url, pepper=pepper, instance=instance, telegram=extra
    )
    path.write_text(text, encoding="utf-8")
    return path
