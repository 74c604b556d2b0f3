"""Who may message whom through the bot about an open alert: its handler and its worker.

The person who took an alert ("I'm on it") can write to the worker through the bot, and the
worker can answer, while the alert is open. Neither learns the other's messenger id: each
sees only the other's nickname, and the bot sends from its own account. This module only
decides the route, in one read transaction, for every single message (so a relay ends the
moment the alert closes, is taken over, or turns out to be under duress). The text itself
never comes here: the conversation holds it in memory and sends it straight to the other
chat (`bot/relay.py`), never through the outbox, the database or a log.
"""

from __future__ import annotations

from dataclasses import dataclass

from checkins import texts
from checkins.context import Context, Refusal, require_member
from checkins.lifecycle import State
from checkins.messages import Identity
from storage import queries
from storage.tables import Member, Outcall


@dataclass(frozen=True)
class RelayRoute:
    """Where one relayed message goes. `to` is for the sending adapter only: it is never
    put in any text, so the sender never sees it."""

    ref: str
    to: Identity
    to_locale: str
    sender_alias: str
    reader_alias: str
    to_worker: bool


class RelayService:
    """Authorises each relayed message against the alert as it stands now."""

    def __init__(self, ctx: Context) -> None:
        self.db = ctx.db

    def route(self, who: Identity, ref: str) -> RelayRoute:
        """The other side of the alert `ref` for `who`: the worker for its handler, the
        handler for its worker. Anyone else, or an alert that ended, is refused."""
        with self.db.transaction() as session:
            member = require_member(session, who)
            outcall = queries.outcall_by_ref(session, ref)
            if outcall is None or not _open(outcall):
                raise Refusal(texts.relay_closed())
            worker = session.get_one(Member, outcall.worker_id)
            handler = (
                session.get(Member, outcall.acknowledged_by_id)
                if outcall.acknowledged_by_id
                else None
            )
            if member.id == worker.id:
                # Under duress the worker's chat must look ended: the same answer as closed.
                if outcall.duress or handler is None:
                    raise Refusal(texts.relay_closed())
                sender, reader = worker, handler
            elif handler is not None and member.id == handler.id:
                if outcall.duress:
                    raise Refusal(texts.relay_refused_under_duress(worker.alias))
                sender, reader = handler, worker
            else:
                raise Refusal(texts.relay_only_handler(worker.alias))
            if reader.departed_at is not None:
                raise Refusal(texts.relay_closed())
            return RelayRoute(
                outcall.ref,
                Identity(reader.channel, reader.address),
                reader.locale,
                sender.alias,
                reader.alias,
                to_worker=reader.id == worker.id,
            )


def _open(outcall: Outcall) -> bool:
    """An alert someone can still act on: not a drill, not ended, still alerting."""
    return not outcall.drill and outcall.ended_at is None and State(outcall.state).is_alerting
