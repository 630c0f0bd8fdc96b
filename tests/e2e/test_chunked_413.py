"""A chunked body over the limit, on the real server: 413 with `Connection: close`, then the server closes.

A pooling client reads the header and does not reuse the connection, whose
unread rest of the body would otherwise be taken for its next request.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from emporium.platform.db.engine import Database
from tests.support.identity import make_tenant
from tests.support.processes import ServerProcess

pytestmark = pytest.mark.e2e


def _post_chunked(port: int, key: str) -> tuple[bytes, bool]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/categories HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {key}\r\n".encode()
            + b"Transfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"x" * 100_000
        try:
            for _ in range(15):  # 1.5 MB against the 1 MB limit
                sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        except OSError:
            pass  # the server may stop reading once it has answered
        answer = b""
        while True:
            data = sock.recv(65536)
            if not data:
                return answer, True  # closed by the server
            answer += data


async def test_a_chunked_body_over_the_limit_closes_the_connection(
    database_url: str, db: Database, tmp_path: Path
) -> None:
    shop = await make_tenant(db, "Chunked shop")
    server = ServerProcess({"DATABASE_URL": database_url, "CRON_ENABLED": "false"}, tmp_path / "server.log")
    try:
        await asyncio.to_thread(server.wait_ready)
        answer, closed = await asyncio.to_thread(_post_chunked, server.port, shop.owner_key)
    finally:
        server.stop()
    head = answer.split(b"\r\n\r\n", 1)[0].lower()
    assert head.startswith(b"http/1.1 413"), answer[:300]
    assert b"connection: close" in head
    assert closed
