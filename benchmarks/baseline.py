"""The usual approach, for comparison: a python-telegram-bot bot with one job per check-in.

    python -m benchmarks.baseline --base-url URL --plan PLAN.json [--store URL] [--limiter]
                                  [--schedule]

Each check-in is one job at its due time that sends the alert to its three buddies, one
after another; /help and /status are answered at once. `--schedule` creates the jobs (the
first start; a restarted bot has only what its job store kept).

Without `--store` the jobs live in memory (`JobQueue.run_once`). With `--store` they are
kept in an APScheduler `SQLAlchemyJobStore` on the JobQueue's own scheduler. `run_once`
itself cannot use a persistent store: its job carries the JobQueue, which holds a weak
reference to the application and so cannot be pickled. A module-level function with the
chat ids as arguments is what such bots persist instead. `misfire_grace_time=None` lets a
job whose time passed while the bot was down still run, the kindest setting for it.
`--limiter` sends through PTB's `AIORateLimiter` (30 messages/s overall, its default).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from telegram import Update
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, CommandHandler
from telegram.ext import ContextTypes as PtbContextTypes

from benchmarks.fakeapi import TOKEN

ALERT = (
    "{chat}: your buddy has not checked in. They were due a moment ago and have not tapped "
    "I'm safe. Try to reach them now, and tap I'm on it if you are handling it."
)
HELP = "/outcall — before a booking\n/safe — I'm safe\n/status — what's running now"
STORE = "persistent"
_APP: dict[str, Application[Any, Any, Any, Any, Any, Any]] = {}


async def send_alert(chats: list[int]) -> None:
    """The job: one alert to each buddy in turn, as a simple bot writes it."""
    bot = _APP["app"].bot
    for chat in chats:
        await bot.send_message(chat, ALERT.format(chat=chat))


async def _memory_job(context: PtbContextTypes.DEFAULT_TYPE) -> None:
    """`run_once`'s callback: the chat ids travel in the job's data."""
    assert context.job is not None and isinstance(context.job.data, list)
    await send_alert(context.job.data)


async def _help(update: Update, context: PtbContextTypes.DEFAULT_TYPE) -> None:
    """The reply the responsiveness probe waits for."""
    if update.effective_chat is not None:
        await context.bot.send_message(update.effective_chat.id, HELP)


def build(base_url: str, limiter: bool) -> Application[Any, Any, Any, Any, Any, Any]:
    """The application, against the fake Bot API."""
    builder = ApplicationBuilder().token(TOKEN).base_url(base_url)
    app: Application[Any, Any, Any, Any, Any, Any] = (
        builder.rate_limiter(AIORateLimiter()).build() if limiter else builder.build()
    )
    app.add_handler(CommandHandler(["help", "status"], _help))
    return app


def schedule(app: Application[Any, Any, Any, Any, Any, Any], plan: Path, store: bool) -> None:
    """One job per check-in at its due time."""
    assert app.job_queue is not None
    for due, chats in json.loads(plan.read_text(encoding="utf-8")):
        when = datetime.fromtimestamp(due, UTC)
        if store:
            app.job_queue.scheduler.add_job(
                send_alert,
                "date",
                run_date=when,
                args=(chats,),
                jobstore=STORE,
                misfire_grace_time=None,
            )
        else:
            app.job_queue.run_once(_memory_job, when, data=chats)


async def serve(args: argparse.Namespace) -> None:
    """Poll, schedule if asked, and run until SIGTERM."""
    app = build(args.base_url, args.limiter)
    _APP["app"] = app
    assert app.job_queue is not None
    if args.store:
        app.job_queue.scheduler.add_jobstore(SQLAlchemyJobStore(url=args.store), STORE)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(timeout=10)
        if args.schedule:
            schedule(app, args.plan, bool(args.store))
        await stop.wait()
        await app.updater.stop()
        await app.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--plan", type=Path, required=True)
    parser.add_argument("--store", default="")
    parser.add_argument("--limiter", action="store_true")
    parser.add_argument("--schedule", action="store_true")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
