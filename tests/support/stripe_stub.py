"""A local stand-in for the parts of the Stripe API the adapter calls, on 127.0.0.1.

It checks what a real Stripe would insist on (a bearer key, form-encoded
bodies) plus what we promise: every POST carries an `Idempotency-Key`, and
the same key replays the first response. Problems are collected in
`violations` (the test asserts it stays empty) and answered with a 400.

Payment methods: `pm_card_visa` authorizes, `pm_card_chargeDeclined` is
declined (402 card_error), `pm_card_drop` creates the PaymentIntent and then
closes the connection without an answer.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

API_KEY = "sk_test_stub_0123456789"


@dataclass
class Seen:
    method: str
    path: str
    form: dict[str, str]
    idempotency_key: str | None


@dataclass
class StripeStub:
    base_url: str = ""
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    replies: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    dropping: bool = False

    def posts(self, path_prefix: str) -> list[Seen]:
        return [r for r in self.requests if r.method == "POST" and r.path.startswith(path_prefix)]

    # --- the API ---------------------------------------------------------------------------------

    def handle(
        self, method: str, path: str, form: dict[str, str], key: str | None
    ) -> tuple[int, dict[str, Any]] | None:
        self.requests.append(Seen(method, path, form, key))
        if method == "POST":
            if not key:
                self.violations.append(f"POST {path} without Idempotency-Key")
                return 400, _error("invalid_request_error", "missing Idempotency-Key")
            if key in self.replies:
                return self.replies[key]
        self.dropping = False
        reply = self._route(method, path, form)
        if method == "POST":
            self.replies[key or ""] = reply  # as Stripe: the key remembers the outcome, answered or not
        return None if self.dropping else reply

    def _route(self, method: str, path: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        parts = [p for p in path.split("/") if p]
        if method == "POST" and parts == ["v1", "payment_intents"]:
            return self._create(form)
        if method == "GET" and parts == ["v1", "payment_intents", "search"]:
            return self._search(form.get("query", ""))
        if len(parts) >= 3 and parts[:2] == ["v1", "payment_intents"] and parts[2] in self.intents:
            intent = self.intents[parts[2]]
            if method == "GET" and len(parts) == 3:
                return 200, intent
            if method == "POST" and parts[3:] == ["capture"]:
                return self._capture(intent, form)
            if method == "POST" and parts[3:] == ["cancel"]:
                return self._cancel(intent)
        if method == "POST" and parts == ["v1", "refunds"]:
            return self._refund(form)
        return 404, _error("invalid_request_error", f"no such route or object: {method} {path}")

    def _expect(self, form: dict[str, str], expected: dict[str, str]) -> None:
        for name, value in expected.items():
            if form.get(name) != value:
                self.violations.append(f"form field {name}={form.get(name)!r}, expected {value!r}")

    def _create(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        self._expect(form, {"confirm": "true", "payment_method_types[0]": "card"})
        capture_method = form.get("capture_method")
        if capture_method not in ("manual", "automatic"):
            self.violations.append(f"capture_method={capture_method!r}, expected manual or automatic")
        for name in ("amount", "currency", "payment_method", "metadata[emporium_key]"):
            if name not in form:
                self.violations.append(f"create without {name}")
        if form.get("currency", "").lower() != form.get("currency"):
            self.violations.append("currency must be lowercase")
        amount = int(form.get("amount", "0"))
        intent: dict[str, Any] = {
            "id": f"pi_{secrets.token_hex(8)}",
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_received": 0,
            "currency": form.get("currency"),
            "capture_method": capture_method,
            "status": "requires_capture",
            "metadata": {k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")},
            "last_payment_error": None,
        }
        method = form.get("payment_method")
        if method == "pm_card_chargeDeclined":
            intent["status"] = "requires_payment_method"
            intent["last_payment_error"] = {"code": "card_declined", "decline_code": "generic_decline"}
            self.intents[intent["id"]] = intent
            body = _error("card_error", "Your card was declined.", code="card_declined")
            body["error"]["decline_code"] = "generic_decline"
            body["error"]["payment_intent"] = intent
            return 402, body
        if capture_method == "automatic":  # authorized and captured by the one call
            intent.update(status="succeeded", amount_received=amount)
        else:
            intent["amount_capturable"] = amount
        self.intents[intent["id"]] = intent
        self.dropping = method == "pm_card_drop"  # the connection drops after the work is done
        return 200, intent

    def _capture(self, intent: dict[str, Any], form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        amount = int(form.get("amount_to_capture", intent["amount_capturable"]))
        if intent["status"] != "requires_capture" or amount > intent["amount_capturable"]:
            return 400, _error("invalid_request_error", "cannot capture", code="payment_intent_unexpected_state")
        intent.update(status="succeeded", amount_received=amount, amount_capturable=0)
        return 200, intent

    def _cancel(self, intent: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if intent["status"] not in {"requires_capture", "requires_payment_method"}:
            return 400, _error("invalid_request_error", "cannot cancel", code="payment_intent_unexpected_state")
        intent.update(status="canceled", amount_capturable=0)
        return 200, intent

    def _refund(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        intent = self.intents.get(form.get("payment_intent", ""))
        if intent is None or intent["status"] != "succeeded":
            return 400, _error("invalid_request_error", "nothing to refund", code="charge_not_captured")
        amount = int(form["amount"])
        done = sum(r["amount"] for r in self.refunds.values() if r["payment_intent"] == intent["id"])
        if done + amount > intent["amount_received"]:
            return 400, _error("invalid_request_error", "too much", code="amount_too_large")
        refund = {
            "id": f"re_{secrets.token_hex(8)}",
            "object": "refund",
            "amount": amount,
            "currency": intent["currency"],
            "payment_intent": intent["id"],
            "status": "succeeded",
        }
        self.refunds[refund["id"]] = refund
        return 200, refund

    def _search(self, query: str) -> tuple[int, dict[str, Any]]:
        # Only the query the adapter sends: metadata['emporium_key']:'<key>'
        prefix = "metadata['emporium_key']:'"
        key = query[len(prefix) : -1] if query.startswith(prefix) else None
        if key is None:
            self.violations.append(f"unexpected search query {query!r}")
        found = [i for i in self.intents.values() if i["metadata"].get("emporium_key") == key]
        return 200, {"object": "search_result", "data": found, "has_more": False, "url": "/v1/payment_intents/search"}


def _error(kind: str, message: str, *, code: str | None = None) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message, **({"code": code} if code else {})}}


def _handler(stub: StripeStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _serve(self, method: str) -> None:
            url = urlsplit(self.path)
            if self.headers.get("Authorization") != f"Bearer {API_KEY}":
                stub.violations.append(f"{method} {url.path} with Authorization {self.headers.get('Authorization')!r}")
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            if (
                method == "POST"
                and raw
                and "application/x-www-form-urlencoded" not in (self.headers.get("Content-Type") or "")
            ):
                stub.violations.append(f"POST {url.path} body is not form-encoded")
            form = dict(parse_qsl(raw if method == "POST" else url.query, keep_blank_values=True))
            with stub.lock:
                reply = stub.handle(method, url.path, form, self.headers.get("Idempotency-Key"))
            if reply is None:
                self.close_connection = True
                self.connection.shutdown(2)
                return
            status, body = reply
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", f"req_{secrets.token_hex(6)}")
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

    return Handler


@contextmanager
def stripe_stub() -> Iterator[StripeStub]:
    stub = StripeStub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(stub))
    stub.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
