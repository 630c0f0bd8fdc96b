"""Real servers for notification tests, on free loopback ports: SMTP (aiosmtpd), a Twilio-compatible stub,
and an asyncio webhook receiver whose answers each test decides."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email
import email.policy
import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from aiosmtpd.controller import Controller
from sqlalchemy import text

from emporium.platform.db.engine import Database
from emporium.platform.db.transaction import transaction
from emporium.platform.ids import new_id

TWILIO_SID = "AC0123456789abcdef0123456789abcdef"
TWILIO_TOKEN = "twilio-test-token"
SMS_FROM = "+15005550006"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- SMTP -----------------------------------------------------------------------------------------------


@dataclass
class Inbox:
    """Messages the SMTP server accepted, parsed."""

    messages: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.messages.append(parsed)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if m["To"] == address]

    def with_subject(self, text: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if text in str(m["Subject"])]


def parts(message: EmailMessage) -> tuple[str, str]:
    """(text, html) of a multipart/alternative message."""
    text_part = message.get_body(("plain",))
    html_part = message.get_body(("html",))
    assert text_part is not None and html_part is not None, message
    return str(text_part.get_content()), str(html_part.get_content())  # type: ignore[attr-defined]


@contextlib.contextmanager
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


# --- Twilio ---------------------------------------------------------------------------------------------


@dataclass
class TwilioStub:
    base_url: str = ""
    sent: list[dict[str, str]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(
        self, method: str, path: str, auth: str | None, content_type: str, body: bytes
    ) -> tuple[int, dict[str, Any]]:
        expected_path = f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
        expected_auth = "Basic " + base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
        problems = []
        if method != "POST" or path != expected_path:
            problems.append(f"{method} {path} is not the Messages endpoint")
        if auth != expected_auth:
            problems.append("missing or wrong basic auth")
        if not content_type.startswith("application/x-www-form-urlencoded"):
            problems.append(f"body is {content_type!r}, not a form")
        form = dict(parse_qsl(body.decode()))
        if set(form) != {"To", "From", "Body"}:
            problems.append(f"form fields {sorted(form)} are not To/From/Body")
        with self.lock:
            if problems:
                self.violations.extend(problems)
                return 400, {"code": 21211, "message": "; ".join(problems)}
            if form["To"] == "+15005550001":  # Twilio's magic "invalid number"
                return 400, {"code": 21211, "message": "The 'To' number is not a valid phone number."}
            self.sent.append(form)
        return 201, {"sid": f"SM{len(self.sent):032d}", "status": "queued", **form}


@contextlib.contextmanager
def twilio_stub() -> Iterator[TwilioStub]:
    stub = TwilioStub()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            status, answer = stub.handle(
                "POST", self.path, self.headers.get("authorization"), self.headers.get("content-type") or "", body
            )
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stub.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()


# --- webhook receiver --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Responder = Callable[[Received], tuple[int, dict[str, str]]]


class WebhookReceiver:
    """HTTP/1.1 with keep-alive on 127.0.0.1, in the test's event loop; `respond` decides each answer."""

    def __init__(self, respond: Responder | None = None) -> None:
        self.respond: Responder = respond or (lambda request: (200, {}))
        self.requests: list[Received] = []
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def __aenter__(self) -> WebhookReceiver:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                method, target, _ = line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while (raw := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, value = raw.decode("latin-1").split(":", 1)
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                request = Received(method, target, headers, body)
                self.requests.append(request)
                status, extra = self.respond(request)
                head = f"HTTP/1.1 {status} Answer\r\ncontent-length: 0\r\n"
                head += "".join(f"{k}: {v}\r\n" for k, v in extra.items())
                writer.write((head + "\r\n").encode("latin-1"))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            return
        finally:
            writer.close()


async def make_dead_delivery(db: Database, org_id: str, endpoint_id: str) -> str:
    """A delivery that ran out of attempts (for routes that list, inspect and replay deliveries)."""
    delivery_id = new_id("wdl")
    async with transaction(db) as tx:
        await tx.execute(
            text(
                "INSERT INTO notifications.webhook_delivery (id, org_id, endpoint_id, event_id, event_type, message_id,"
                " body, status, attempts, total_attempts, last_status_code, last_error)"
                " VALUES (:id, :org, :endpoint, :event, 'OrderPaid', :message, '{}', 'dead', 8, 8, 500, 'HTTP 500')"
            ),
            {
                "id": delivery_id,
                "org": org_id,
                "endpoint": endpoint_id,
                "event": new_id("evt"),
                "message": new_id("msg"),
            },
        )
        await tx.commit()
    return delivery_id
