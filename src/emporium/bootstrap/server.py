"""Serving: resolve the database (embedded or configured), migrate, then run
Granian (uvloop) until SIGTERM/SIGINT.

Graceful shutdown is Granian's: on a signal it closes the listening socket at
once (new connections are refused), lets in-flight requests finish, then runs
each worker's lifespan shutdown, which closes the runtime in reverse order.
Workers still busy after `SHUTDOWN_TIMEOUT` are killed. The embedded
PostgreSQL, if any, stops when this process exits. See
docs/decisions/002-granian-graceful-shutdown.md.
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import math
import os
import signal
import socket
import sys
from typing import Any

from granian.constants import Interfaces, Loops
from granian.log import LogLevels
from granian.server import Server

from emporium.config import Config
from emporium.platform.db.embedded import start_embedded_postgres
from emporium.platform.db.engine import Database
from emporium.platform.db.migrate import run_upgrade
from emporium.platform.telemetry.logging import get_logger, stdlib_passthrough_config

_log = get_logger("emporium.server")


def die_with_parent() -> None:
    """Linux: a worker whose main process is killed (-9) is killed too, instead of serving on as an orphan
    that no supervisor knows about. Elsewhere a no-op."""
    if not sys.platform.startswith("linux"):
        return
    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0) != 0:
        _log.warning("pdeathsig_unavailable", errno=ctypes.get_errno())
    if os.getppid() == 1:  # the parent died before the call above took effect
        os._exit(1)


def resolve_database_url(config: Config) -> str:
    if config.database_url:
        return config.database_url
    return start_embedded_postgres(config.data_dir)


async def bootstrap_demo_org(config: Config, database_url: str) -> None:
    """On an empty database, create a demo org and print its owner key (development only)."""
    from emporium.modules.identity.workflows import create_demo_org_if_empty

    db = Database(database_url)
    try:
        issued = await create_demo_org_if_empty(db)
    finally:
        await db.dispose()
    if issued is not None:
        print(
            "\n  Demo org created (DEVELOPMENT ONLY — never enable DEMO_BOOTSTRAP in production).\n"
            f"  Owner API key, shown once: {issued.secret}\n"
            f"  Try: curl -H 'Authorization: Bearer {issued.secret}' "
            f"http://{config.host}:{config.port}/v1/auth/whoami\n",
            file=sys.stderr,
            flush=True,
        )


def announce(config: Config, database_url: str) -> None:
    where = (
        f"embedded PostgreSQL, data in {(config.data_dir / 'postgres').resolve()}"
        if config.uses_embedded_database
        else "PostgreSQL from DATABASE_URL"
    )
    print(f"Emporium listening on http://{config.host}:{config.port} ({where})", file=sys.stderr, flush=True)


class PortInUse(SystemExit):
    """Exit status 2 with one line: another process (often a first `make run`) already listens there."""

    def __init__(self, host: str, port: int) -> None:
        print(
            f"emporium: {host}:{port} is already in use (another server?); stop it or set PORT",
            file=sys.stderr,
            flush=True,
        )
        super().__init__(2)


def ensure_port_free(host: str, port: int) -> None:
    """Granian binds with SO_REUSEPORT, so a second server on a busy port would start and split the traffic
    silently (two caches, two price views): a plain bind first finds the port taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a closed server's TIME_WAIT is not "in use"
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise PortInUse(host, port) from None
            raise


def migrate_stores(config: Config, database_url: str) -> None:
    """The application's schema, then the reporting store's (its own Alembic environment and database)."""
    from emporium.modules.reporting.migrate import upgrade as upgrade_reporting

    run_upgrade(database_url)
    asyncio.run(upgrade_reporting(config.reporting_database_url or database_url))


def serve(config: Config) -> None:
    # Imported here, before the workers are forked (they inherit it), and not by the commands that only
    # migrate or look something up: the application is most of an `emporium` process's start-up.
    from emporium.bootstrap.app import create_app
    from emporium.bootstrap.runtime import open_runtime

    ensure_port_free(config.host, config.port)
    database_url = resolve_database_url(config)
    if config.migrate_on_start:
        migrate_stores(config, database_url)
    if config.demo_bootstrap:
        asyncio.run(bootstrap_demo_org(config, database_url))
    announce(config, database_url)

    def load_app(*_args: Any, **_kwargs: Any) -> Any:
        # Runs in each worker process: resources are opened there, on its own loop.
        die_with_parent()
        return create_app(lambda: open_runtime(config, database_url), config)

    server = Server(
        "emporium.bootstrap.app:create_app",
        address=config.host,
        port=config.port,
        interface=Interfaces.ASGI,
        loop=Loops.uvloop,
        workers=config.workers,
        log_level=LogLevels(config.log_level),
        log_dictconfig=stdlib_passthrough_config(),
        log_access=False,  # our middleware writes one structured access line per request
        workers_kill_timeout=math.ceil(config.shutdown_timeout),
    )
    server.serve(target_loader=load_app, wrap_loader=False)
    _log.info("stopped")


def migrate(config: Config) -> str:
    database_url = resolve_database_url(config)
    migrate_stores(config, database_url)
    return database_url
