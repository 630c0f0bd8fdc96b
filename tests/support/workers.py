"""Start and kill real worker processes for the event bus end-to-end tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from tests.services import ROOT


class WorkerProcess:
    def __init__(self, env: Mapping[str, str], log_path: Path, *, args: tuple[str, ...] | None = None) -> None:
        self.log_path = log_path
        full_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/tmp"),
            "PYTHONPATH": str(ROOT),
            "LOG_FORMAT": "json",
            **env,
        }
        self._log = log_path.open("ab")
        command = args or ("-m", "tests.support.bus_worker")
        self.process = subprocess.Popen(
            [sys.executable, *command], cwd=ROOT, env=full_env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs; claims stay until their lease expires, broker messages unacked."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        self._log.close()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()
        return self.process.returncode

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")
