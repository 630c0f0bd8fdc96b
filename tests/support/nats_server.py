"""A private nats-server (JetStream on, file storage) for tests that stop and restart the broker."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.support.processes import free_port, wait_listening


def nats_binary() -> str | None:
    return shutil.which("nats-server") or next((p for p in ("/usr/sbin/nats-server",) if Path(p).exists()), None)


class NatsServer:
    def __init__(self, workdir: Path) -> None:
        binary = nats_binary()
        assert binary is not None, "nats-server is not installed"
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        workdir.mkdir(parents=True, exist_ok=True)
        # JetStream keeps its streams on disk here, so a restart finds them (as a real deployment would).
        self._command = [binary, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(workdir)]
        self._log = workdir / "nats.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self._log.open("ab") as log:
            self.process = subprocess.Popen(self._command, stdout=log, stderr=subprocess.STDOUT)
        wait_listening(self.port, self.process, "nats-server")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
