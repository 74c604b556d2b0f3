"""The configuration `buddycheck run` is benchmarked with: one it accepts for real people.

A real pepper file (mode 600) and the `interactive` Argon2id cost, because `run` refuses
the tests' fast KDF; the ladder alerts the buddies at the due time with no reminder before
it, so every message sent is an alert the harness expects.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.fakeapi import TOKEN

CONFIG = """\
[service]
default_jurisdiction = "north"
max_buddies = 3

[database]
url = "{url}"

[telegram]
token = "{token}"
base_url = "{base_url}"

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


def write_config(directory: Path, url: str, base_url: str, pepper: Path) -> Path:
    """config.toml in `directory` for the database at `url` and the fake Bot API."""
    path = directory / "config.toml"
    text = CONFIG.format(url=url, token=TOKEN, base_url=base_url, pepper=pepper)
    path.write_text(text, encoding="utf-8")
    return path
