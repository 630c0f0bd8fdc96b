"""An embedded PostgreSQL for machines with nothing installed (`pgserver` ships the binaries).

The server listens on a Unix socket inside the data directory only (no TCP
port), keeps its data between runs, and is stopped when the last process that
started it exits.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

DATABASE_NAME = "emporium"


def start_embedded_postgres(data_dir: Path, database: str = DATABASE_NAME) -> str:
    """Start (or reuse) the server under `data_dir/postgres`; return a URL to `database`."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", database):
        raise ValueError(f"not a plain database name: {database!r}")
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); its fallback is fine.
        warnings.simplefilter("ignore")
        # Imported here: only the embedded path pays for it.
        from pgserver import get_server  # type: ignore[attr-defined]

    pgdata = (data_dir / "postgres").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = get_server(pgdata, cleanup_mode="stop")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")  # noqa: S608 (checked name)
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
    return server.get_uri(database)
