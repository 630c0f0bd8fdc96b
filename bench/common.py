"""Shared plumbing for the bench and chaos harnesses: databases, server processes, the machine."""

from __future__ import annotations

import contextlib
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

if TYPE_CHECKING:
    from emporium.config import Config

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_url() -> str:
    """The PostgreSQL server to create bench databases on: DATABASE_URL, else the embedded one."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return url.replace("postgresql+asyncpg://", "postgresql://", 1)
    from emporium.platform.db.embedded import start_embedded_postgres

    return start_embedded_postgres(ROOT / ".data" / "bench", database="postgres")


@dataclass(frozen=True)
class RunStart:
    """What every harness run starts from: when, its work directory, the PostgreSQL server and its version."""

    started_at: datetime
    stamp: str
    work: Path
    server: str
    pg_version: str


async def start_run(name: str) -> RunStart:
    started_at = datetime.now(UTC)
    stamp = started_at.strftime("%Y%m%dT%H%M%SZ")
    work = Path(os.environ.get("BENCH_WORKDIR", f"/tmp/emporium-{name}-{stamp}"))
    os.makedirs(work, exist_ok=True)
    server = server_url()
    admin = await asyncpg.connect(server)
    try:
        pg_version = str(await admin.fetchval("SHOW server_version"))
    finally:
        await admin.close()
    return RunStart(started_at, stamp, work, server, pg_version)


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def create_database(server: str, prefix: str) -> tuple[str, str]:
    """A fresh, migrated database on `server` (the application's schemas and the reporting store's default,
    schema `reporting`); returns (name, url)."""
    from emporium.modules.reporting.migrate import upgrade as upgrade_reporting
    from emporium.platform.db.migrate import upgrade

    name = f"{prefix}_{time.strftime('%Y%m%d_%H%M%S')}_{secrets.token_hex(2)}"
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = with_database(server, name)
    await upgrade(url)
    await upgrade_reporting(url)
    return name, url


async def drop_database(server: str, name: str) -> None:
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


class Process:
    """A server process in its own process group, logging to a file, probed over loopback HTTP."""

    def __init__(
        self, argv: Sequence[str], env: Mapping[str, str], log_path: Path, port: int, ready_path: str | None = "/"
    ) -> None:
        self.argv = list(argv)
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self.ready_path = ready_path
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/tmp"),
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so a kill takes every worker with it
        )
        log.close()
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        assert self.process is not None
        if self.ready_path is None:  # not an HTTP server: alive is ready
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.argv} exited ({self.process.returncode}); see {self.log_path}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(self.base_url + self.ready_path, timeout=1).status_code == 200:
                    return
            time.sleep(0.05)  # polling a start-up
        raise RuntimeError(f"{self.argv} not ready after {timeout}s; see {self.log_path}")

    def pids(self) -> list[int]:
        """The group's processes (main and workers), from /proc."""
        if self.process is None:
            return []
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError, IndexError, ValueError):
                    stat = (entry / "stat").read_text()
                    fields = stat.rsplit(")", 1)[1].split()
                    if int(fields[2]) == self.process.pid:  # pgrp
                        found.append(int(entry.name))
        return sorted(found)

    def cpu_times(self) -> tuple[float, float]:
        """User and system CPU seconds of the group's live processes so far (from /proc/<pid>/stat)."""
        ticks = os.sysconf("SC_CLK_TCK")
        user = system = 0
        for pid in self.pids():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                user, system = user + int(fields[11]), system + int(fields[12])  # utime, stime
        return user / ticks, system / ticks

    def cpu_seconds(self) -> float:
        """User + system CPU of the group's live processes so far."""
        return sum(self.cpu_times())

    def kill_group(self) -> None:
        """SIGKILL to the whole process group, then reap the leader."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # workers left behind


def alive(pids: Sequence[int]) -> list[int]:
    """Which of `pids` still run (zombies waiting to be reaped do not count)."""
    running = []
    for pid in pids:
        with contextlib.suppress(OSError, IndexError):
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            if state not in ("Z", "X"):
                running.append(pid)
    return running


def server_settings(workers: int, pool_size: int, log_level: str = "info") -> dict[str, str]:
    """`emporium serve`'s settings for a measured run: no cron, no in-process event dispatch (a separate
    worker delivers, or nothing does), no migration on start, and rate limits out of the way (they are not
    what a bench measures; their own tests do)."""
    return {
        "WORKERS": str(workers),
        "DB_POOL_SIZE": str(pool_size),
        "CRON_ENABLED": "false",
        "EVENTS_DISPATCH": "false",
        "MIGRATE_ON_START": "false",
        "LOG_LEVEL": log_level,
        "RATE_LIMIT_PER_KEY": "1000000",
        "RATE_LIMIT_PER_ORG": "1000000",
    }


def in_process_config(database_url: str, log_level: str) -> Config:
    """The application's settings when a bench runs it in its own process: as `server_settings` (no event
    dispatch, cron or webhook delivery; rate limits out of the way), JSON logs at `log_level`."""
    from emporium.config import Config  # when called: the bench's other tools do not import the application

    return Config(
        database_url=database_url,
        log_level=log_level,
        log_format="json",
        events_dispatch=False,
        cron_enabled=False,
        webhooks_deliver=False,
        rate_limit_per_key=1_000_000,
        rate_limit_per_org=1_000_000,
    )


def emporium_server(database_url: str, log_path: Path, port: int, **settings: str) -> Process:
    env = {"DATABASE_URL": database_url, "PORT": str(port), "HOST": "127.0.0.1", "LOG_FORMAT": "json", **settings}
    return Process([sys.executable, "-m", "emporium.main", "serve"], env, log_path, port, ready_path="/readyz")


def emporium_cli(database_url: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "warning",
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "emporium.main", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )


def machine(pg_version: str) -> dict[str, Any]:
    mem_kib = 0
    cpu_model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    return {
        "cores": os.cpu_count(),
        "cpu": cpu_model,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "postgresql": pg_version,
        "load_average_at_start": os.getloadavg(),
    }
