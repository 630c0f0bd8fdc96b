"""deploy/nginx.conf resends a keyed request once to another replica when nginx lost the answer (decision 042).

The keep-alive race of a draining replica (nginx sends a request on a connection the replica is closing) is made
certain here: three small upstreams on loopback, the first request any of them receives is read in full and
then its connection closed without an answer. Whichever replica nginx picks first, that request is lost; what
nginx does next is the behaviour under test. No Emporium process is needed.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.services import IN_CI, ROOT
from tests.support.nginx import DEPLOY_CONF, Nginx, nginx_binary
from tests.support.processes import free_port

pytestmark = pytest.mark.e2e

PROBLEM = {"type": "about:blank", "title": "Bad Gateway", "status": 502, "code": "provider_unavailable"}


@dataclass(frozen=True)
class Received:
    upstream: int
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Fleet:
    """Three upstreams sharing one script: drop the first `drops` requests, then answer each with `status`."""

    drops: int = 1
    status: int = 201
    ports: list[int] = field(default_factory=lambda: [free_port() for _ in range(3)])
    received: list[Received] = field(default_factory=list)

    async def serve(self, upstream: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while request := await _read_request(upstream, reader):
                self.received.append(request)
                if len(self.received) <= self.drops:
                    return  # read in full, never answered: the connection closes below
                writer.write(self._answer(request))
                await writer.drain()
        finally:
            writer.close()

    def _answer(self, request: Received) -> bytes:
        if self.status == 502:  # the app's own 502: a problem+json answer nginx must pass through
            body, media = json.dumps(PROBLEM).encode(), "application/problem+json"
        else:
            echo = {
                "upstream": request.upstream,
                "sha256": hashlib.sha256(request.body).hexdigest(),
                "length": len(request.body),
                "idempotency_key": request.headers.get("idempotency-key"),
            }
            body, media = json.dumps(echo).encode(), "application/json"
        head = f"HTTP/1.1 {self.status} X\r\nContent-Type: {media}\r\nContent-Length: {len(body)}\r\n\r\n"
        return head.encode() + body


async def _read_request(upstream: int, reader: asyncio.StreamReader) -> Received | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None  # nginx closed a kept-alive connection
    request_line, *lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
    method, path, _ = request_line.split(" ")
    headers = {name.strip().lower(): value.strip() for name, value in (line.split(":", 1) for line in lines)}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Received(upstream, method, path, headers, body)


@pytest.fixture
def fleet(request: pytest.FixtureRequest) -> Fleet:
    """`Fleet()`, or `Fleet(drops=d, status=s)` for a test parametrized indirectly with `(d, s)`."""
    drops, status = getattr(request, "param", (1, 201))
    return Fleet(drops=drops, status=status)


@pytest.fixture
async def nginx(fleet: Fleet, tmp_path: Path) -> AsyncIterator[Nginx]:
    """A fresh nginx per test: the replicas it marked down (fail_timeout) are the test's own."""
    if nginx_binary() is None and not IN_CI:
        pytest.skip("needs nginx (apt-get install nginx-light; see README)")
    servers = [
        await asyncio.start_server(functools.partial(fleet.serve, i), "127.0.0.1", port)
        for i, port in enumerate(fleet.ports)
    ]
    proxy = Nginx(tmp_path / "nginx", fleet.ports)
    await asyncio.to_thread(proxy.start)
    yield proxy
    await asyncio.to_thread(proxy.stop)
    for server in servers:
        server.close()
        await server.wait_closed()


@pytest.fixture
async def client(nginx: Nginx) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=nginx.base_url, timeout=10) as http:
        yield http


def _body(size: int) -> bytes:
    """A JSON body of about `size` bytes whose every byte matters (a truncated or shifted resend shows)."""
    return json.dumps({"lines": [{"sku": f"SKU-{n:06d}", "quantity": n % 7 + 1} for n in range(size // 36)]}).encode()


@pytest.mark.parametrize("size", [200, 300_000], ids=["in-memory-body", "body-in-temp-file"])
async def test_a_keyed_post_that_lost_its_answer_is_resent_once_to_another_replica(
    fleet: Fleet, client: httpx.AsyncClient, size: int
) -> None:
    body = _body(size)
    response = await client.post(
        "/v1/orders", content=body, headers={"Idempotency-Key": "order-42", "Content-Type": "application/json"}
    )

    assert response.status_code == 201, response.text
    echo = response.json()
    assert echo["sha256"] == hashlib.sha256(body).hexdigest() and echo["length"] == len(body)
    assert echo["idempotency_key"] == "order-42"
    dropped, answered = fleet.received
    assert answered.upstream == echo["upstream"] != dropped.upstream  # another replica, not the failed one
    assert dropped.body == answered.body == body
    assert (dropped.method, dropped.path) == (answered.method, answered.path) == ("POST", "/v1/orders")
    assert dropped.headers["x-request-id"] == answered.headers["x-request-id"]  # one request, sent twice


@pytest.mark.parametrize("fleet", [(2, 201)], ids=["two-replicas-drop"], indirect=True)
async def test_a_keyed_post_is_resent_once_only(fleet: Fleet, client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/orders", content=_body(200), headers={"Idempotency-Key": "order-44", "Content-Type": "application/json"}
    )

    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert len({r.upstream for r in fleet.received}) == len(fleet.received) == 2, fleet.received


async def test_a_post_without_a_key_that_lost_its_answer_gets_502_and_is_not_resent(
    fleet: Fleet, client: httpx.AsyncClient
) -> None:
    response = await client.post("/v1/orders", content=_body(200), headers={"Content-Type": "application/json"})

    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")  # nginx's own page, as before decision 042
    assert len(fleet.received) == 1, fleet.received  # the next replica would have answered 201


async def test_a_keyed_post_to_a_route_that_ignores_keys_is_not_resent(fleet: Fleet, client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/api-keys",
        content=b'{"name": "ci"}',
        headers={"Idempotency-Key": "k-1", "Content-Type": "application/json"},
    )

    assert response.status_code == 502
    assert len(fleet.received) == 1, fleet.received


@pytest.mark.parametrize("fleet", [(0, 502)], ids=["every-replica-answers-502"], indirect=True)
async def test_the_apps_own_502_passes_through_untouched_and_is_not_resent(
    fleet: Fleet, client: httpx.AsyncClient
) -> None:
    response = await client.post(
        "/v1/orders", content=_body(200), headers={"Idempotency-Key": "order-43", "Content-Type": "application/json"}
    )

    assert response.status_code == 502
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == PROBLEM
    assert len(fleet.received) == 1, fleet.received


_HONOURS_KEY = re.compile(r'map "\$request_method \$uri" \$honours_key \{(?P<body>.*?)\}', re.S)


def _openapi_routes() -> Iterator[tuple[str, str, bool]]:
    """(method, a concrete path, whether the operation takes an Idempotency-Key) for every operation."""
    schema = json.loads((ROOT / "contracts" / "openapi.json").read_text())
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if isinstance(operation, dict) and "responses" in operation:
                names = {p.get("name", "").lower() for p in operation.get("parameters", [])}
                yield method.upper(), re.sub(r"\{[^}]+\}", "abc_123", path), "idempotency-key" in names


def test_nginx_resends_exactly_the_routes_whose_key_the_api_honours() -> None:
    block = _HONOURS_KEY.search(DEPLOY_CONF.read_text())
    assert block is not None, "deploy/nginx.conf has no $honours_key map"
    patterns = [re.compile(p) for p in re.findall(r'"~(.+?)"\s+1;', block["body"])]
    routes = list(_openapi_routes())
    keyed = {(m, p) for m, p, takes_key in routes if takes_key}
    assert keyed, "contracts/openapi.json lists no Idempotency-Key parameter"
    matched = {(m, p) for m, p, _ in routes if any(pattern.search(f"{m} {p}") for pattern in patterns)}
    assert matched == keyed
