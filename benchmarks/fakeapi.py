"""The benchmark's Bot API: the test emulator, recording when each message arrives.

    python -m benchmarks.fakeapi --port-file PATH [--token TOKEN]

Why a separate process: the bot under test and the harness must not share an event loop or
a GIL with the server they are measured against. Why the test emulator: it already answers
every method the bot calls the way Telegram does. This subclass adds what a benchmark needs:
a chat exists for any user id (on Telegram every member has started the bot), the arrival
time of each `sendMessage`, `getUpdates` and `getMe`, and two methods of its own under the
same `/bot<token>/` path for the harness: `benchArrivals` (what arrived since an index) and
`benchSay` (a user sends the bot a message now). The same API is also served under
`/<process>/bot<token>/`, so that with two bot processes each arrival names the process
that sent it (the second process's `base_url` carries its name).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import time
from contextvars import ContextVar
from pathlib import Path

from aiohttp import web

from tests.emulators.telegram_api import JSON, ApiError, TelegramApiEmulator, _Chat

TOKEN = "123456:BENCH"  # noqa: S105 (the fake Bot API's, never a real bot's)
FIRST = "first"  # the process that calls the plain `/bot<token>/` path
# The process the request being served came from (each request is served in its own task).
_PROCESS: ContextVar[str] = ContextVar("process", default=FIRST)


class BenchApi(TelegramApiEmulator):
    """The emulator plus arrival records and the harness's two methods."""

    ROUTES = (*TelegramApiEmulator.ROUTES, "/{process}/bot{token}/{method}")

    def __init__(self, token: str = TOKEN) -> None:
        super().__init__(token)
        self.sends: list[tuple[float, int, str]] = []
        self.polls: list[tuple[float, str]] = []
        self.connects: list[tuple[float, str]] = []
        self._methods["bencharrivals"] = self._arrivals
        self._methods["benchsay"] = self._say
        self._methods["getme"] = self._get_me_recorded

    async def _handle(self, request: web.Request) -> web.Response:
        """Note which process is calling, then serve the call as the emulator does."""
        _PROCESS.set(request.match_info.get("process", FIRST))
        return await super()._handle(request)

    def _target_chat(self, params: JSON) -> _Chat:
        """Any private chat id is a user who started the bot; groups are not benchmarked."""
        chat_id = params.get("chat_id")
        if isinstance(chat_id, int) and chat_id > 0 and chat_id not in self._chats:
            self.user(chat_id, f"U{chat_id}")
        return super()._target_chat(params)

    async def _send_message(self, params: JSON) -> JSON:
        """Record the arrival before answering, so the time is what the bot waited for."""
        arrived = time.time()
        result = await super()._send_message(params)
        self.sends.append((arrived, int(params["chat_id"]), _PROCESS.get()))
        return result

    async def _get_updates(self, params: JSON) -> list[JSON]:
        """Record each poll: the first one after a start is when the bot began listening."""
        self.polls.append((time.time(), _PROCESS.get()))
        return await super()._get_updates(params)

    async def _get_me_recorded(self, params: JSON) -> JSON:
        """Record each getMe: a send-only process, which never polls, has started its
        channels (and starts its engine and outbox next)."""
        self.connects.append((time.time(), _PROCESS.get()))
        return await self._get_me(params)

    async def _arrivals(self, params: JSON) -> JSON:
        """Sends from index `since` on, and every poll and getMe (there are few)."""
        since = int(params.get("since") or 0)
        return {"sends": self.sends[since:], "polls": self.polls, "connects": self.connects}

    async def _say(self, params: JSON) -> JSON:
        """User `user_id` sends `text` now; returns when it was queued for the bot."""
        user_id = params.get("user_id")
        if not isinstance(user_id, int) or user_id <= 0:
            raise ApiError(400, "Bad Request: user_id must be a positive integer")
        user = self.user(user_id, f"U{user_id}")
        at = time.time()
        await user.send_text(str(params.get("text") or "/help"))
        return {"at": at}


async def serve(port_file: Path, token: str) -> None:
    """Serve until SIGTERM or SIGINT, after writing the port for the harness to read."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with BenchApi(token) as api:
        port = api.base_url.rsplit(":", 1)[1].split("/", 1)[0]
        temporary = port_file.with_suffix(".tmp")
        temporary.write_text(port, encoding="utf-8")
        temporary.replace(port_file)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port-file", type=Path, required=True)
    parser.add_argument("--token", default=TOKEN)
    args = parser.parse_args()
    asyncio.run(serve(args.port_file, args.token))


if __name__ == "__main__":
    main()
