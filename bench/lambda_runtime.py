"""A small Lambda Runtime API on loopback, so AWS's own runtime client (`awslambdaric`) can run our handlers
as on Lambda: `GET .../runtime/invocation/next` hands out queued events, `POST .../{id}/response` and
`.../{id}/error` record what the function answered, `POST .../init/error` records a failed start.
Used by tests/e2e/test_serverless.py and bench/lambda_cold_start.py.

    with LambdaRuntimeStub() as api:           # AWS_LAMBDA_RUNTIME_API = api.address
        outcome = api.invoke({"...": "..."})   # blocks until the function answered (or the deadline)
"""

from __future__ import annotations

import json
import queue
import secrets
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PREFIX = "/2018-06-01/runtime"


@dataclass(frozen=True)
class Outcome:
    kind: str  # "response" or "error"
    body: Any
    seconds: float  # from handing the event out to the answer


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A function process killed during its long poll resets the connection: expected, not news."""


class LambdaRuntimeStub:
    def __init__(self) -> None:
        self._events: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self._outcomes: dict[str, Outcome] = {}
        self._handed_out: dict[str, float] = {}
        self._changed = threading.Condition()
        self.init_errors: list[Any] = []
        self.polls = 0
        self.first_poll_at: float | None = None  # perf_counter: the function's init ended (handler imported)
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                if self.path != f"{PREFIX}/invocation/next":
                    self._answer(404, b"{}")
                    return
                stub.polls += 1
                if stub.first_poll_at is None:
                    stub.first_poll_at = time.perf_counter()
                request_id, body = stub._events.get()  # long poll, as the real API does
                stub._handed_out[request_id] = time.perf_counter()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30_000))
                self.send_header(
                    "Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-1:000000000000:function:emporium"
                )
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0")
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                parts = self.path.removeprefix(PREFIX).strip("/").split("/")
                if parts == ["init", "error"]:
                    stub.init_errors.append(body)
                elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in {"response", "error"}:
                    started = stub._handed_out.get(parts[1], time.perf_counter())
                    with stub._changed:
                        stub._outcomes[parts[1]] = Outcome(parts[2], body, time.perf_counter() - started)
                        stub._changed.notify_all()
                else:
                    self._answer(404, b"{}")
                    return
                self._answer(202, b'{"status":"OK"}')

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return None

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.address = f"127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> LambdaRuntimeStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def invoke(self, event: Any, within: float = 60.0) -> Outcome:
        request_id = secrets.token_hex(16)
        self._events.put((request_id, json.dumps(event).encode()))
        deadline = time.monotonic() + within
        with self._changed:
            while request_id not in self._outcomes:
                left = deadline - time.monotonic()
                if left <= 0 or self.init_errors:
                    raise AssertionError(
                        f"no answer to {request_id} within {within} s; init errors: {self.init_errors}"
                    )
                self._changed.wait(min(left, 0.5))
            return self._outcomes[request_id]
