"""A private embedded PostgreSQL (pgserver's binaries) that a test may stop and start again."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from emporium.platform.db.embedded import start_embedded_postgres


def pg_ctl(pgdata: Path, *args: str) -> None:
    from pgserver._commands import POSTGRES_BIN_PATH  # the embedded server's own binaries

    user = "pgserver" if os.geteuid() == 0 else None  # pgserver runs PostgreSQL as this user when we are root
    subprocess.run(
        [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(pgdata), "-w", *args],
        user=user, check=True, capture_output=True, timeout=60,
    )  # fmt: skip


def stop_postgres(pgdata: Path) -> None:
    """`immediate`: like a crash or a failover, no goodbye to the clients."""
    pg_ctl(pgdata, "-m", "immediate", "stop")


def start_postgres(pgdata: Path) -> None:
    """Start it again as pgserver configured it: Unix socket in the data directory, no TCP."""
    pg_ctl(pgdata, "-o", '-h ""', "-o", f"-k {pgdata}", "-l", str(pgdata / "log"), "start")


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, database: str = "emporium") -> None:
        self.url = start_embedded_postgres(data_dir, database=database)
        self.pgdata = (data_dir / "postgres").resolve()

    def stop(self) -> None:
        stop_postgres(self.pgdata)

    def start(self) -> None:
        start_postgres(self.pgdata)

    def shutdown(self) -> None:
        pg_ctl(self.pgdata, "-m", "fast", "stop")
