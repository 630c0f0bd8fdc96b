"""SIGTERM on the real server process: in-flight requests finish, new ones are refused, exit 0.

A request is made slow without any test-only route: the test holds an
exclusive lock on the migration version table, so `/readyz` (which reads it)
waits inside the server until the test releases the lock.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.services import ROOT
from tests.support.processes import ServerProcess

pytestmark = pytest.mark.e2e


@pytest.fixture
async def server(database_url: str, tmp_path: Path) -> AsyncIterator[ServerProcess]:
    proc = ServerProcess({"DATABASE_URL": database_url, "SHUTDOWN_TIMEOUT": "4"}, tmp_path / "server.log")
    try:
        await asyncio.to_thread(proc.wait_ready)
        yield proc
    finally:
        proc.stop()


async def _wait_until_blocked(pg: asyncpg.Connection) -> None:
    """Wait until the server's readiness query is waiting on our lock (observed in pg_locks, not guessed)."""
    for _ in range(500):
        waiting = await pg.fetchval(
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE c.relname = 'alembic_version' AND NOT l.granted"
        )
        if waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the slow request never reached the database")


async def _wait_for_exit(proc: ServerProcess, within: float) -> int | None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if (code := proc.process.poll()) is not None:
            return code
        await asyncio.sleep(0.05)
    return None


async def test_sigterm_lets_an_in_flight_request_finish_then_exits_zero(
    server: ServerProcess, database_url: str
) -> None:
    locker = await asyncpg.connect(database_url)
    try:
        tx = locker.transaction()
        await tx.start()
        await locker.execute("LOCK TABLE platform.alembic_version IN ACCESS EXCLUSIVE MODE")
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            in_flight = asyncio.create_task(client.get("/readyz"))
            await _wait_until_blocked(locker)

            server.process.send_signal(signal.SIGTERM)
            # New connections are refused while the old request drains.
            refused = False
            for _ in range(100):
                try:
                    async with httpx.AsyncClient(base_url=server.base_url, timeout=1) as fresh:
                        await fresh.get("/livez")
                except httpx.ConnectError:
                    refused = True
                    break
                await asyncio.sleep(0.02)
            assert refused, "the server kept accepting new connections after SIGTERM"
            assert server.process.poll() is None, "the server exited before its in-flight request finished"

            await tx.rollback()  # release the lock: the in-flight request can now complete
            response = await in_flight
        assert response.status_code == 200, response.text
    finally:
        await locker.close()

    code = await _wait_for_exit(server, within=4 + 2)
    assert code == 0, server.output()


async def test_a_request_outlasting_the_shutdown_timeout_does_not_hold_the_process(
    server: ServerProcess, database_url: str
) -> None:
    locker = await asyncpg.connect(database_url)
    try:
        tx = locker.transaction()
        await tx.start()
        await locker.execute("LOCK TABLE platform.alembic_version IN ACCESS EXCLUSIVE MODE")
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            in_flight = asyncio.create_task(client.get("/readyz"))
            await _wait_until_blocked(locker)
            server.process.send_signal(signal.SIGTERM)
            code = await _wait_for_exit(server, within=4 + 3)
            assert code == 0, server.output()
            with pytest.raises(httpx.HTTPError):
                await in_flight
        await tx.rollback()
    finally:
        await locker.close()


def test_a_bad_setting_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "emporium.main", "serve"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PORT": "abc"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == ["emporium: invalid configuration: PORT: expected an integer from 1 to 65535, got 'abc'"]


async def test_workers_do_not_outlive_a_killed_main_process(server: ServerProcess) -> None:
    """kill -9 of the main process takes its workers with it: nothing keeps serving unsupervised."""
    group = server.process.pid
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(10)
    deadline = time.monotonic() + 10
    while True:
        try:
            os.killpg(group, 0)  # anything left in the server's process group?
        except ProcessLookupError:
            break
        assert time.monotonic() < deadline, "a worker survived its main process"
        await asyncio.sleep(0.05)
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient(base_url=server.base_url, timeout=2) as client:
            await client.get("/livez")
