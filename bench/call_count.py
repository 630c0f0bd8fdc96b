"""Function calls per checkout, Emporium against the hand-written reference (`make bench-calls`).

CPU per checkout (`make bench-cpu`) is what issue 14 asks about, but on this shared two-core machine one
round differs from the next by 30 % or more, so a saving of a few percent cannot be read from it. This
is the load-independent count beside it: both applications in this process on uvloop (as Granian serves
them), the same closed sequence of checkouts (two lines, `tok_success`, a new Idempotency-Key each)
through a bare ASGI call, and `sys.setprofile` counting every Python and C function call on the thread
while they run: handlers, the event loop's callbacks (asyncpg's protocol), and the background tasks that
run meanwhile (the request log's writer). Each call is also attributed to the innermost frame of ours
on the stack (`--by-layer`), which is how docs/performance.md splits the difference.

Emporium runs with the bench's server settings (access log on, no dispatcher or cron); the reference is
`bench/reference/app.py`, on the same database, org and products.

    make bench-calls ARGS="--checkouts 200 --by-layer"
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import logging
import os
import random
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Any

import httpx
import uvloop

from bench import seed
from bench.common import create_database, drop_database, in_process_config, server_url

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]
PRODUCTS = 20
WARMUP = 50
SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


async def asgi_post(app: ASGIApp, path: str, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, bytes]:
    """One request straight into the application: what a server hands it, without a client's own calls."""
    raw = json.dumps(body).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(name.lower().encode(), value.encode()) for name, value in headers.items()]
        + [(b"host", b"emporium.bench"), (b"content-type", b"application/json"), (b"content-length", b"%d" % len(raw))],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    delivered = asyncio.Event()
    answer: dict[str, Any] = {"body": b""}

    async def receive() -> dict[str, Any]:
        if not delivered.is_set():
            delivered.set()
            return {"type": "http.request", "body": raw, "more_body": False}
        await asyncio.Future()  # the client never disconnects
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        else:
            answer["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return int(answer["status"]), bytes(answer["body"])


_COUNTED = frozenset({"call", "c_call"})


class CallCounter:
    """`sys.setprofile` hook: calls (Python and C) in total, and by the innermost frame of ours on the stack."""

    def __init__(self, by_layer: bool) -> None:
        self.total = 0
        self.by_layer = by_layer
        self.layers: Counter[str] = Counter()

    def __call__(self, frame: FrameType, event: str, _arg: object) -> None:
        if event not in _COUNTED:
            return
        self.total += 1
        if self.by_layer:
            self.layers[_layer_of(frame)] += 1


def _layer_of(frame: FrameType | None) -> str:
    while frame is not None:
        path = frame.f_code.co_filename
        if path == __file__:  # under the bare ASGI call only: the framework (FastAPI, Starlette, pydantic)
            return "(the framework, below no layer of ours)"
        if path.startswith(SOURCE_ROOT) and "/.venv/" not in path:
            return os.path.relpath(path, SOURCE_ROOT)
        frame = frame.f_back
    return "(the event loop's callbacks: asyncpg's protocol, timers)"


Checkout = tuple[str, dict[str, str], dict[str, Any]]


def _checkouts(make: seed.MakeRequest, count: int) -> list[Checkout]:
    """The same sequence for both applications, each with a new Idempotency-Key (the maker's), made before
    counting: the client's work is not counted."""
    rng = random.Random(7)
    made = []
    for _ in range(count):
        _method, path, headers, body = make(rng)
        made.append((path, headers, body))
    return made


async def _count(name: str, app: ASGIApp, make: seed.MakeRequest, checkouts: int, by_layer: bool) -> CallCounter:
    for checkout in _checkouts(make, WARMUP):  # caches filled, statements prepared on every pooled connection
        await _checkout(name, app, checkout)
    measured = _checkouts(make, checkouts)
    counter = CallCounter(by_layer)
    sys.setprofile(counter)
    try:
        for checkout in measured:
            await _checkout(name, app, checkout)
    finally:
        sys.setprofile(None)
    return counter


async def _checkout(name: str, app: ASGIApp, checkout: Checkout) -> None:
    status, answer = await asgi_post(app, *checkout)
    if status != 201:
        raise RuntimeError(f"{name}: a measured checkout answered {status}: {answer[:300]!r}")


async def main(args: argparse.Namespace) -> None:
    from emporium.bootstrap.app import create_app
    from emporium.bootstrap.runtime import open_runtime
    from emporium.platform.telemetry.logging import configure_logging

    server = server_url()
    db_name, url = await create_database(server, "emporium_calls")
    try:
        org_id, owner_key = seed.create_shop(url)
        config = in_process_config(url, "info")  # as the bench's servers: the access line is a request's cost
        configure_logging(config.log_level, config.log_format)
        logging.getLogger().handlers[0].setStream(io.StringIO())  # type: ignore[attr-defined]  # not read
        app = create_app(lambda: open_runtime(config, url), config)
        async with app.router.lifespan_context(app):
            await app.state.runtime.backlog.stop()  # its samples are not a checkout's
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as http:
                storefront = await seed.storefront_key(http, owner_key)
                ids, _ = await seed.bulk_products(http, owner_key, PRODUCTS)
                await seed.restock(http, owner_key, ids, 1_000_000)
            make = seed.checkout_maker(storefront, [f"BENCH-{i:06d}" for i in range(PRODUCTS)])
            os.environ.update({"REFERENCE_DATABASE_URL": url, "REFERENCE_ORG_ID": org_id})
            from bench.reference.app import app as reference

            async with reference.router.lifespan_context(reference):
                ours = await _count("emporium", app, make, args.checkouts, args.by_layer)
                theirs = await _count("reference", reference, make, args.checkouts, args.by_layer)
    finally:
        await drop_database(server, db_name)
    per = args.checkouts
    print(f"calls per checkout ({per} checkouts each, after {WARMUP} to warm up):")
    print(f"  emporium  {ours.total / per:8.0f}")
    print(f"  reference {theirs.total / per:8.0f}")
    print(f"  ratio     {ours.total / theirs.total:8.2f}x")
    if args.by_layer:
        for name, counter in (("emporium", ours), ("reference", theirs)):
            print(f"\n{name}, by the innermost frame of ours on the stack (calls per checkout):")
            for layer, calls in counter.layers.most_common(args.top):
                print(f"  {calls / per:7.0f}  {layer}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make bench-calls", description=__doc__)
    parser.add_argument("--checkouts", type=int, default=200, help="measured checkouts of each (default 200)")
    parser.add_argument("--by-layer", action="store_true", help="attribute the calls to our files")
    parser.add_argument("--top", type=int, default=25, help="files listed with --by-layer (default 25)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    uvloop.run(main(parse_args()))
