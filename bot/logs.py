"""Logging for the whole process: our own lines at the chosen level, libraries held back.

Who uses the service is as sensitive as what they send. At INFO, SQLAlchemy logs every
statement with its parameters (aliases, messenger ids, message texts); python-telegram-bot at
DEBUG logs every Bot API call with its texts; httpx logs each URL at INFO, which carries the
bot token. Those loggers are pinned above the levels where they would say such things,
whatever the root level.
"""

from __future__ import annotations

import logging

_PINNED = {
    "sqlalchemy": logging.WARNING,
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "telegram": logging.INFO,
    "telegram.ext": logging.INFO,
}


def configure(verbose: bool) -> None:
    """Root at INFO with `--verbose`, else WARNING; the talkative libraries pinned."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    quiet_library_loggers()


def quiet_library_loggers() -> None:
    for name, level in _PINNED.items():
        logging.getLogger(name).setLevel(level)
