"""A local stand-in for bbernhard/signal-cli-rest-api in json-rpc mode, for tests.

The Signal adapter has to be tested against the real signalbot client over real HTTP and a
real websocket, including the failures that matter for a safety bot: envelopes lost while
the bot is disconnected, dirty vs. clean websocket closes, rejected sends, slow sends and
server restarts. This emulator reproduces the server's wire behaviour as signalbot 2.2.1
sees it (see /work/shared/signalbot-notes.md); it emulates nothing of Signal itself.

Usage::

    async with SignalApiEmulator(number="+15550000001") as api:
        bot = SignalBot({"signal_service": api.service, "phone_number": api.number, ...})
        alice = api.user(name="Alice")
        await alice.send_text("ping")
        reply = await alice.wait_for_message("pong")
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
import uuid as uuid_module
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self, TypeVar

from aiohttp import web

T = TypeVar("T")

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_JSON_RPC_UNKNOWN_NUMBER = "Number not registered with JSON-RPC"

# Real `{"error": …}` texts of a 400 from /v2/send, as signal-cli words them and
# signal-cli-rest-api passes them on (json-rpc mode: the JSON-RPC error's message).
# signal-cli's SendMessageResultUtils: no recipient got the message, for a network failure —
# or, in the same words, an unregistered sole recipient (the details are dropped).
NO_RECIPIENT_REACHED = "Failed to send message"
# signal-cli's SendMessageResultUtils, when every recipient had an untrusted identity.
UNTRUSTED_IDENTITIES = "Failed to send message due to untrusted identities"


def not_registered(address: str) -> str:
    """signal-cli's SendCommand for a recipient it knows is not on Signal."""
    return f"The user {address} is not registered."


def unregistered_user(address: str) -> str:
    """signal-cli's per-recipient error line, as normal/native mode reports it."""
    return f'Failed to send message: {address}: Unregistered user "{address}"'


@dataclass
class Call:
    """One request as the server received it; `status` is set once it is answered."""

    method: str
    path: str
    json: Any
    status: int | None = None
    routed: bool = True


_CALL = web.RequestKey("call", Call)


@dataclass(frozen=True)
class Outgoing:
    """One POST /v2/send, as answered: what the bot tried to send and to whom it went."""

    recipients: tuple[str, ...]
    text: str
    body: Mapping[str, Any]
    status: int
    timestamp: int | None
    delivered_to: tuple[str, ...]


@dataclass
class SignalUser:
    """A person on Signal talking to the bot: sends envelopes in, reads the bot's replies."""

    api: SignalApiEmulator
    uuid: str
    number: str | None
    name: str
    username: str | None
    _read: int = field(default=0, repr=False)

    @property
    def addresses(self) -> frozenset[str]:
        """Every recipient string the bot may use to reach this person."""
        return frozenset(a for a in (self.uuid, self.number, self.username) if a)

    async def send_text(self, text: str) -> int:
        """Send a text to the bot and return its Signal timestamp (the message's id).

        Like the real server, the envelope is lost if no bot is connected at that moment;
        it then shows up in `api.dropped`.
        """
        timestamp = self.api.next_timestamp()
        message = {
            "timestamp": timestamp,
            "message": text,
            "expiresInSeconds": 0,
            "viewOnce": False,
        }
        await self.api.push(self._envelope(timestamp, message))
        return timestamp

    async def send_location(
        self, latitude: float, longitude: float, name: str = "", address: str = ""
    ) -> int:
        """Share a place the way Signal Android does (its attach menu's Location): Signal has
        no location message, so the app sends text (the place's name and address, then an
        OpenStreetMap and a Google Maps link, as `SignalPlace.getDescription` writes them)
        with a picture of the map attached, which signal-cli-rest-api lists under
        `attachments` (we never download it). Returns the message's timestamp."""
        lat, lon = f"{latitude:.6f}", f"{longitude:.6f}"
        words = "".join(f"{line}\n" for line in (name, address) if line)
        text = (
            f"{words}\nOpenStreetMap: https://www.openstreetmap.org/?mlat={lat}&mlon={lon}"
            f"&zoom=16\n\nGoogle Maps: https://maps.google.com/maps?q={lat}%2C{lon}"
        )
        timestamp = self.api.next_timestamp()
        map_picture = {
            "contentType": "image/jpeg",
            "filename": None,
            "id": f"{uuid_module.uuid4().hex}.jpg",
            "size": 48213,
            "width": 512,
            "height": 512,
            "caption": None,
            "uploadTimestamp": timestamp,
            "isVoiceNote": False,
        }
        message = {
            "timestamp": timestamp,
            "message": text,
            "expiresInSeconds": 0,
            "viewOnce": False,
            "attachments": [map_picture],
        }
        await self.api.push(self._envelope(timestamp, message))
        return timestamp

    def _envelope(self, timestamp: int, data_message: Mapping[str, Any]) -> dict[str, Any]:
        """The JSON-RPC-mode frame signal-cli emits for an incoming data message."""
        return {
            "envelope": {
                "source": self.number or self.uuid,
                "sourceNumber": self.number,
                "sourceUuid": self.uuid,
                "sourceName": self.name,
                "sourceDevice": 1,
                "timestamp": timestamp,
                "serverReceivedTimestamp": timestamp,
                "serverDeliveredTimestamp": timestamp,
                "dataMessage": dict(data_message),
            },
            "account": self.api.number,
        }

    def messages(self) -> list[Outgoing]:
        """Messages the bot got delivered to this person, oldest first."""
        return [m for m in self.api.sent if self.addresses & set(m.delivered_to)]

    async def wait_for_message(
        self, match: str | Callable[[Outgoing], bool], timeout: float = 5.0
    ) -> Outgoing:
        """Wait for the next delivered message containing `match` (or satisfying it).

        Reads the inbox in order, like a person scrolling their chat: each call starts
        after the message the previous call returned, so repeated replies can be awaited
        one by one.
        """

        def matches(message: Outgoing) -> bool:
            return match in message.text if isinstance(match, str) else match(message)

        def next_match() -> Outgoing | None:
            inbox = self.messages()
            for index in range(self._read, len(inbox)):
                if matches(inbox[index]):
                    self._read = index + 1
                    return inbox[index]
            return None

        try:
            return await self.api.wait_until(next_match, timeout=timeout)
        except TimeoutError:
            texts = [m.text for m in self.messages()]
            msg = f"{self.name} got no message matching {match!r} in {timeout} s; inbox: {texts}"
            raise TimeoutError(msg) from None


class SignalApiEmulator:
    """signal-cli-rest-api (json-rpc mode) on 127.0.0.1 with an ephemeral port.

    Every request lands in `calls`; unknown routes answer 404 and show up in `unhandled`.
    Failure injection: `fail_next_send`, `fail_sends_to`, `report_undelivered`, `unregister`,
    `send_delay`, `drop_websocket`, `close_websocket_cleanly`, `set_down`.
    """

    def __init__(
        self,
        number: str = "+15550000001",
        *,
        version: str = "0.101",
        mode: str = "json-rpc",
        send_delay: float = 0.0,
    ) -> None:
        self.number = number
        self.version = version
        self.mode = mode
        self.send_delay = send_delay
        self.calls: list[Call] = []
        self.sent: list[Outgoing] = []
        self.dropped: list[Mapping[str, Any] | str] = []
        self.contacts: dict[str, dict[str, Any]] = {}
        self.groups: list[dict[str, Any]] = []
        self.websocket_connects = 0
        self._sockets: dict[web.WebSocketResponse, asyncio.BaseTransport] = {}
        self._send_failures: deque[tuple[int, Mapping[str, Any]]] = deque()
        self._scripted: dict[str, _Scripted] = {}
        self._unregistered: set[str] = set()
        self._down = False
        self._last_timestamp = 0
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    async def __aenter__(self) -> Self:
        """Start serving; the port is only known afterwards (see `service`)."""
        self._runner = web.AppRunner(self._build_app(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._port = self._runner.addresses[0][1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop serving; open websockets are dropped, as when the container dies."""
        self._abort_sockets()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def service(self) -> str:
        """`host:port` in the form signalbot's `signal_service` setting wants (no scheme)."""
        if self._port is None:
            raise RuntimeError("SignalApiEmulator is not running; use `async with`")
        return f"127.0.0.1:{self._port}"

    @property
    def connected(self) -> bool:
        """Whether a receiver websocket is open right now."""
        return bool(self._sockets)

    @property
    def unhandled(self) -> list[Call]:
        """Requests to routes the emulator does not know (answered 404/405)."""
        return [call for call in self.calls if not call.routed]

    def calls_to(self, method: str, path: str) -> list[Call]:
        """The recorded requests with exactly this method and path."""
        return [call for call in self.calls if call.method == method and call.path == path]

    def user(
        self,
        *,
        uuid: str | None = None,
        number: str | None = None,
        name: str = "Test User",
        username: str | None = None,
    ) -> SignalUser:
        """A Signal user handle; `uuid` defaults to a fresh random ACI."""
        return SignalUser(self, uuid or str(uuid_module.uuid4()), number, name, username)

    def add_group(self, name: str, members: Sequence[str]) -> str:
        """Make the bot a member of a group and return its `group.…` id."""
        internal_id = base64.b64encode(os.urandom(32)).decode()
        group_id = "group." + base64.b64encode(internal_id.encode()).decode()
        self.groups.append(
            {
                "id": group_id,
                "internal_id": internal_id,
                "name": name,
                "description": "",
                "members": [self.number, *members],
                "admins": [self.number],
                "pending_invites": [],
                "pending_requests": [],
                "blocked": False,
                "member": True,
                "invite_link": "",
                "permissions": {
                    "add_members": "only-admins",
                    "edit_group": "only-admins",
                    "send_messages": "every-member",
                },
            }
        )
        return group_id

    def next_timestamp(self) -> int:
        """A Signal timestamp (epoch ms), strictly increasing so it can serve as an id."""
        self._last_timestamp = max(int(time.time() * 1000), self._last_timestamp + 1)
        return self._last_timestamp

    # -- failure injection ---------------------------------------------------------------

    def fail_next_send(
        self, status: int = 500, body: Mapping[str, Any] | None = None, count: int = 1
    ) -> None:
        """Answer the next `count` POST /v2/send with `status`; nothing gets delivered."""
        failure = (status, body if body is not None else self._error_body(status))
        self._send_failures.extend([failure] * count)

    def fail_sends_to(
        self, address: str, error: str, *, status: int = 400, count: int | None = None
    ) -> None:
        """Answer sends to `address` with `status` and `{"error": error}`, delivering nothing.

        `count` sends, or every one from now on when None.
        """
        self._scripted[address] = _Scripted(status, {"error": error}, None, count)

    def report_undelivered(
        self, address: str, reason: str = "UNREGISTERED_FAILURE", count: int | None = None
    ) -> None:
        """Answer sends to `address` 201 but list it under `errors.recipients` with `reason`.

        The 201 shape signal-cli-rest-api's API description gives (signalbot's generated
        `SendMessageResponse`), with signal-cli's SendMessageResult type as the reason.
        Nothing is delivered. `count` sends, or every one from now on when None.
        """
        self._scripted[address] = _Scripted(201, None, reason, count)

    def unregister(self, address: str) -> None:
        """Make sends to `address` fail the way they do for someone who left Signal."""
        self._unregistered.add(address)

    async def drop_websocket(self, timeout: float = 5.0) -> None:
        """Cut the receiver's TCP connection without a close frame (the real server's way)."""
        self._abort_sockets()
        await self.wait_until(lambda: not self._sockets, timeout=timeout)

    async def close_websocket_cleanly(self, code: int = 1000, timeout: float = 5.0) -> None:
        """Close the receiver websocket with a close frame, as a proxy in between may do."""
        async with asyncio.timeout(timeout):
            await asyncio.gather(*(ws.close(code=code) for ws in list(self._sockets)))
        await self.wait_until(lambda: not self._sockets, timeout=timeout)

    def set_down(self, down: bool) -> None:
        """Simulate a restart: while down every request gets 503 and websockets are cut."""
        self._down = down
        if down:
            self._abort_sockets()

    # -- waiting -------------------------------------------------------------------------

    async def wait_until(self, predicate: Callable[[], T], *, timeout: float = 5.0) -> T:
        """Wait until `predicate()` is truthy and return it; re-checked on every event.

        Raises TimeoutError after `timeout` seconds.
        """
        async with asyncio.timeout(timeout):
            while not (result := predicate()):
                await self._changed.wait()
        return result

    async def wait_connected(self, count: int = 1, timeout: float = 5.0) -> None:
        """Wait until `count` websockets were accepted in total and one is open now."""
        await self.wait_until(
            lambda: self.websocket_connects >= count and self.connected, timeout=timeout
        )

    def _notify(self) -> None:
        """Wake every `wait_until` so it re-checks its predicate."""
        self._changed.set()
        self._changed = asyncio.Event()

    # -- pushing envelopes ---------------------------------------------------------------

    async def push(self, frame: Mapping[str, Any] | str) -> bool:
        """Write one frame to every connected receiver; record it as dropped if none is.

        Returns whether any receiver got it. The real server keeps no queue for a
        disconnected websocket client, so a dropped frame is gone for good.
        """
        text = frame if isinstance(frame, str) else json.dumps(frame)
        delivered = False
        for ws in list(self._sockets):
            try:
                await ws.send_str(text)
            except ConnectionError:
                continue
            delivered = True
        if not delivered:
            self.dropped.append(frame)
        self._notify()
        return delivered

    def _abort_sockets(self) -> None:
        """Drop every receiver's TCP connection, no close frame."""
        for transport in self._sockets.values():
            transport.abort()

    # -- HTTP side -----------------------------------------------------------------------

    def _build_app(self) -> web.Application:
        """Routes for what signalbot 2.2.1 calls, plus the contact (expiration) update."""
        app = web.Application(middlewares=[self._record])
        app.add_routes(
            [
                web.get("/v1/health", self._health),
                web.get("/v1/about", self._about),
                web.get("/v1/groups/{number}", self._list_groups),
                web.get("/v1/groups/{number}/{group_id}", self._get_group),
                web.get("/v1/receive/{number}", self._receive),
                web.post("/v2/send", self._send),
                web.post("/v1/reactions/{number}", self._no_content),
                web.delete("/v1/reactions/{number}", self._no_content),
                web.post("/v1/receipts/{number}", self._no_content),
                web.put("/v1/typing-indicator/{number}", self._no_content),
                web.delete("/v1/typing-indicator/{number}", self._no_content),
                web.delete("/v1/remote-delete/{number}", self._remote_delete),
                web.put("/v1/contacts/{number}", self._update_contact),
            ]
        )
        return app

    @web.middleware
    async def _record(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        """Record every request, answer 503 while down, and flag unknown routes."""
        routed = request.match_info.http_exception is None
        call = Call(request.method, request.path, await _json_body(request), routed=routed)
        request[_CALL] = call
        self.calls.append(call)
        self._notify()
        try:
            if self._down:
                response: web.StreamResponse = _error(503, "Service Unavailable")
            else:
                response = await handler(request)
        except web.HTTPException as exc:
            call.status = exc.status
            raise
        call.status = response.status
        return response

    def _foreign_account(self, request: web.Request) -> web.Response | None:
        """The 400 the server gives for an account it does not serve, else None."""
        if request.match_info["number"] != self.number:
            return _error(400, _JSON_RPC_UNKNOWN_NUMBER)
        return None

    async def _health(self, request: web.Request) -> web.Response:
        """signalbot polls this until it gets 204."""
        return web.Response(status=204)

    async def _about(self, request: web.Request) -> web.Response:
        """signalbot checks `version` (>= 0.101.0 or "unset") and `mode` == json-rpc."""
        return web.json_response(
            {
                "versions": ["v1", "v2"],
                "build": 2,
                "mode": self.mode,
                "version": self.version,
                "capabilities": {"v2/send": ["quotes", "mentions"]},
            }
        )

    async def _list_groups(self, request: web.Request) -> web.Response:
        """All groups, each with the 12 fields signalbot validates."""
        if (refused := self._foreign_account(request)) is not None:
            return refused
        return web.json_response(self.groups)

    async def _get_group(self, request: web.Request) -> web.Response:
        """One group by its `group.…` id."""
        if (refused := self._foreign_account(request)) is not None:
            return refused
        for group in self.groups:
            if group["id"] == request.match_info["group_id"]:
                return web.json_response(group)
        return _error(404, "No group with that id found")

    async def _receive(self, request: web.Request) -> web.StreamResponse:
        """The receiver websocket; client frames are read and ignored, as the server does."""
        if (refused := self._foreign_account(request)) is not None:
            return refused
        ws = web.WebSocketResponse()
        transport = request.transport
        await ws.prepare(request)
        request[_CALL].status = ws.status
        if transport is not None:
            self._sockets[ws] = transport
        self.websocket_connects += 1
        self._notify()
        try:
            async for _frame in ws:
                pass
        finally:
            self._sockets.pop(ws, None)
            self._notify()
        return ws

    async def _send(self, request: web.Request) -> web.Response:
        """POST /v2/send: 201 with one `{"timestamp"}` per signal-cli call, or an error."""
        body = request[_CALL].json
        if self.send_delay:
            await asyncio.sleep(self.send_delay)
        if not isinstance(body, dict):
            return _error(400, "Couldn't process request - invalid request")
        recipients = tuple(body.get("recipients") or ())
        if not recipients:
            return _error(400, "Couldn't process request - please provide at least one recipient")
        if body.get("number") != self.number:
            return _error(400, _JSON_RPC_UNKNOWN_NUMBER)
        if self._send_failures:
            status, error = self._send_failures.popleft()
            self._record_send(body, recipients, status, None, ())
            return web.json_response(error, status=status)
        if (scripted := self._take_scripted(recipients)) is not None:
            return self._answer_scripted(body, recipients, scripted)
        # signal-cli sends to everyone it can and still answers 400 for the whole call
        # (seen in bbernhard/signal-cli-rest-api#857); the error text varies by version.
        delivered = tuple(r for r in recipients if r not in self._unregistered)
        timestamp = self.next_timestamp()
        if len(delivered) < len(recipients):
            self._record_send(body, recipients, 400, timestamp, delivered)
            missing = next(r for r in recipients if r in self._unregistered)
            return _error(400, unregistered_user(missing))
        self._record_send(body, recipients, 201, timestamp, delivered)
        results = [{"timestamp": str(timestamp)}]
        results += [
            {"timestamp": str(self.next_timestamp())} for _ in range(_calls(recipients) - 1)
        ]
        return web.json_response(results, status=201)

    def _take_scripted(self, recipients: tuple[str, ...]) -> tuple[str, _Scripted] | None:
        """The scripted answer for the first recipient that has one, counting it down."""
        for recipient in recipients:
            scripted = self._scripted.get(recipient)
            if scripted is None:
                continue
            if scripted.remaining is not None:
                scripted.remaining -= 1
                if scripted.remaining <= 0:
                    del self._scripted[recipient]
            return recipient, scripted
        return None

    def _answer_scripted(
        self, body: Mapping[str, Any], recipients: tuple[str, ...], taken: tuple[str, _Scripted]
    ) -> web.Response:
        """A scripted /v2/send answer: an error body, or a 201 listing the recipient as failed."""
        recipient, scripted = taken
        if scripted.reason is None:
            self._record_send(body, recipients, scripted.status, None, ())
            return web.json_response(scripted.error, status=scripted.status)
        timestamp = self.next_timestamp()
        self._record_send(body, recipients, 201, timestamp, ())
        failed = {"uuid": recipient, "reason": scripted.reason}
        result = {"timestamp": str(timestamp), "errors": {"recipients": [failed]}}
        return web.json_response([result], status=201)

    def _record_send(
        self,
        body: Mapping[str, Any],
        recipients: tuple[str, ...],
        status: int,
        timestamp: int | None,
        delivered_to: tuple[str, ...],
    ) -> None:
        """Append one /v2/send outcome to `sent` and wake waiters."""
        text = str(body.get("message") or "")
        self.sent.append(Outgoing(recipients, text, body, status, timestamp, delivered_to))
        self._notify()

    def _error_body(self, status: int) -> dict[str, Any]:
        """A plausible error body for an injected send failure of this status."""
        if status == 429:
            return {
                "error": "Failed to send message due to rate limiting",
                "challenge_tokens": [str(uuid_module.uuid4())],
                "account": self.number,
            }
        if status == 400:
            return {"error": "Failed to send message"}
        return {"error": "Internal Server Error"}

    async def _no_content(self, request: web.Request) -> web.Response:
        """Reactions, receipts and typing indicators: accepted, 204, nothing to return."""
        if (refused := self._foreign_account(request)) is not None:
            return refused
        return web.Response(status=204)

    async def _remote_delete(self, request: web.Request) -> web.Response:
        """DELETE /v1/remote-delete: 201 with the timestamp of the delete message."""
        if (refused := self._foreign_account(request)) is not None:
            return refused
        return web.json_response({"timestamp": str(self.next_timestamp())}, status=201)

    async def _update_contact(self, request: web.Request) -> web.Response:
        """PUT /v1/contacts: name and disappearing-message timer (`expiration_in_seconds`)."""
        if (refused := self._foreign_account(request)) is not None:
            return refused
        body = request[_CALL].json
        if not isinstance(body, dict) or not body.get("recipient"):
            return _error(400, "Couldn't process request - invalid request")
        contact = self.contacts.setdefault(body["recipient"], {})
        contact.update({k: v for k, v in body.items() if k != "recipient" and v is not None})
        return web.Response(status=204)


@dataclass
class _Scripted:
    """How sends to one recipient are answered: an error body, or a 201 naming a `reason`."""

    status: int
    error: Mapping[str, Any] | None
    reason: str | None
    remaining: int | None


def _calls(recipients: Sequence[str]) -> int:
    """How many signal-cli send calls (and response entries) a recipient list takes.

    One for all numbers and uuids together, one per group, one for all usernames.
    """
    groups = sum(1 for r in recipients if r.startswith("group."))
    usernames = any(_is_username(r) for r in recipients)
    direct = any(not r.startswith("group.") and not _is_username(r) for r in recipients)
    return groups + int(usernames) + int(direct)


def _is_username(recipient: str) -> bool:
    """Signal usernames look like `name.42`; numbers, uuids and group ids do not."""
    name, dot, digits = recipient.rpartition(".")
    return bool(dot and name and digits.isdigit() and not recipient.startswith("group."))


def _error(status: int, message: str) -> web.Response:
    """The server's error shape: `{"error": "..."}`."""
    return web.json_response({"error": message}, status=status)


async def _json_body(request: web.Request) -> Any:
    """The request body as JSON, the raw text if it is not JSON, None if empty.

    Read once, by the recording middleware (the stream cannot be read twice); handlers
    take it from the recorded `Call`. signalbot posts JSON without a JSON content type,
    so the header is not trusted.
    """
    if not request.can_read_body:
        return None
    text = await request.text()
    try:
        return json.loads(text)
    except ValueError:
        return text
