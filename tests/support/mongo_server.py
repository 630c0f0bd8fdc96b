"""A private MongoDB-wire server for the catalog's MongoDB store: SecantusDB (a dev dependency).

SecantusDB (PyPI `secantusdb`, GPL-2.0-only AND CC-BY-4.0) speaks MongoDB's wire protocol on
WiredTiger. It runs as a separate process in tests only and is never shipped or linked with
Emporium, which the GPL permits for a development tool. It lacks `$text` (the catalog uses none).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from tests.support.processes import free_port, wait_listening


def secantus_binary() -> Path:
    return Path(sys.executable).parent / "secantusd-py"


class MongoServer:
    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"mongodb://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._command = [str(secantus_binary()), "--host", "127.0.0.1", "--port", str(self.port),
                         "--storage-path", ":memory:", "--log-level", "WARNING"]  # fmt: skip
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(self._command, stdout=log, stderr=subprocess.STDOUT)
        wait_listening(self.port, self.process, "secantusd-py", within=30.0)
        client: MongoClient[dict[str, object]] = MongoClient(self.url, serverSelectionTimeoutMS=500)
        deadline = time.monotonic() + 30
        try:
            while True:
                try:
                    client.admin.command("ping")
                    return
                except PyMongoError:
                    assert time.monotonic() < deadline, "secantusd-py did not answer a ping within 30 s"
                    time.sleep(0.05)  # waiting for the server to answer, bounded by the deadline
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
