"""Start a built buddycheck image against the local Telegram and Signal emulators and run its
HEALTHCHECK inside it until it passes: the image's own check, on the image's own files.

Manual (too slow for CI): `.ci/container-check` builds the image first; see
docs/operating.md, "Container". Needs buildah and root (the container shares the host's
network, so it reaches the emulators on loopback and its health port stays on loopback).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.channels.telegram_harness import free_port
from tests.emulators.signal_api import SignalApiEmulator
from tests.emulators.telegram_api import TelegramApiEmulator

TOKEN = "4242:container-token"
BOT_NUMBER = "+15550000001"
WAIT = 120.0  # seconds: the HEALTHCHECK's start period (60 s) and then some

# The database is left at its default (sqlite:///data/buddycheck.db, in the VOLUME).
CONFIG = """\
[service]
default_jurisdiction = "north"
[telegram]
token = "{token}"
base_url = "{base_url}"
[signal]
service = "{signal}"
phone_number = "{number}"
connection_mode = "http"
[crypto]
pepper_file = "/run/secrets/buddycheck_pepper"
kdf = "interactive"
argon2_memory_mib = 128
[health]
listen = "127.0.0.1:{port}"
[jurisdictions.north]
legal_model = "criminalised"
timezone = "UTC"
ladder = [{{ after = "0m", notify = "buddies" }}]
"""


def healthcheck_of(image: str) -> list[str]:
    """The image's HEALTHCHECK test, as Docker would run it (["CMD", ...] or ["CMD-SHELL", s])."""
    done = subprocess.run(
        ["buildah", "inspect", "--type", "image", image],
        capture_output=True,
        text=True,
        check=True,
    )
    check = json.loads(done.stdout)["Docker"]["config"].get("Healthcheck")
    if not check or not check.get("Test"):
        raise SystemExit(f"{image} has no HEALTHCHECK (build it with --format docker)")
    test: list[str] = check["Test"]
    return test


def as_argv(test: list[str]) -> list[str]:
    kind, *rest = test
    if kind == "CMD-SHELL":
        return ["/bin/sh", "-c", rest[0]]
    if kind == "CMD":
        return rest
    raise SystemExit(f"unexpected HEALTHCHECK test {test!r}")


async def check(image: str) -> int:
    argv = as_argv(healthcheck_of(image))
    async with (
        TelegramApiEmulator(token=TOKEN, bot_username="container_bot") as telegram,
        SignalApiEmulator(BOT_NUMBER) as signal,
    ):
        with tempfile.TemporaryDirectory(prefix="buddycheck-container-") as tmp:
            directory = Path(tmp)
            config_dir = directory / "config"
            config_dir.mkdir()
            port = free_port()
            (config_dir / "config.toml").write_text(
                CONFIG.format(
                    token=TOKEN,
                    base_url=telegram.base_url,
                    signal=signal.service,
                    number=BOT_NUMBER,
                    port=port,
                ),
                encoding="utf-8",
            )
            pepper = directory / "pepper"
            pepper.write_text(secrets.token_hex(32), encoding="utf-8")
            pepper.chmod(0o600)
            os.chown(pepper, 10001, 10001)  # the image's user; `run` refuses a readable pepper
            name = f"buddycheck-check-{os.getpid()}"
            subprocess.run(["buildah", "from", "--name", name, image], check=True, stdout=1)
            mounts = [
                "--network",
                "host",
                "--isolation",
                "chroot",
                "-v",
                f"{config_dir}:/config:ro",
                "-v",
                f"{pepper}:/run/secrets/buddycheck_pepper:ro",
            ]
            log = directory / "bot.log"
            with log.open("wb") as out:
                bot = subprocess.Popen(
                    [
                        "buildah",
                        "run",
                        *mounts,
                        name,
                        "--",
                        "buddycheck",
                        "run",
                        "--config",
                        "/config/config.toml",
                    ],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            try:
                started = time.monotonic()
                while True:
                    probe = await asyncio.to_thread(
                        subprocess.run,
                        ["buildah", "run", *mounts, name, "--", *argv],
                        capture_output=True,
                        text=True,
                        check=False,
                    )
                    waited = time.monotonic() - started
                    if probe.returncode == 0:
                        print(f"HEALTHCHECK passed after {waited:.0f} s:\n{probe.stdout}")
                        return 0
                    if bot.poll() is not None or waited > WAIT:
                        print(
                            f"HEALTHCHECK still failing after {waited:.0f} s "
                            f"(exit {probe.returncode}):\n{probe.stdout}{probe.stderr}"
                        )
                        print(log.read_text(encoding="utf-8", errors="replace"))
                        return 1
                    await asyncio.sleep(2)
            finally:
                bot.terminate()
                try:
                    bot.wait(20)
                except subprocess.TimeoutExpired:
                    bot.kill()
                subprocess.run(["buildah", "rm", name], check=False, stdout=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", help="the built image, e.g. localhost/buddycheck:check")
    sys.exit(asyncio.run(check(parser.parse_args().image)))


if __name__ == "__main__":
    main()
