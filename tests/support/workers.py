"""Start and kill real worker processes for the event bus end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from tests.services import ROOT


def _env(env: Mapping[str, str]) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONPATH": str(ROOT),
        "LOG_FORMAT": "json",
        **env,
    }


class WorkerProcess:
    def __init__(self, env: Mapping[str, str], log_path: Path, *, args: tuple[str, ...] | None = None) -> None:
        self.log_path = log_path
        self._log = log_path.open("ab")
        command = args or ("-m", "tests.support.bus_worker")
        self.process = subprocess.Popen(
            [sys.executable, *command], cwd=ROOT, env=_env(env), stdout=self._log, stderr=subprocess.STDOUT
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


class ForkServer:
    """`tests.support.bus_worker --fork-server`: imports once, forks a worker process per `start()`.

    The workers are processes of their own (own connections, killed with a real SIGKILL); only the
    interpreter start and the imports are shared, which is what makes fifty kills in a row affordable.
    """

    def __init__(self, env: Mapping[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.bus_worker", "--fork-server", str(log_path)],
            cwd=ROOT,
            env=_env(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            bufsize=1,
        )

    def _ask(self, command: str) -> str:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline().strip()
        assert answer, f"the fork server ended on {command!r}: {self.output()}"
        return answer

    def start(self) -> ForkedWorker:
        return ForkedWorker(self, int(self._ask("start")))

    def poll(self, pid: int) -> int | None:
        answer = self._ask(f"poll {pid}")
        return None if answer == "running" else int(answer)

    def wait(self, pid: int) -> int:
        return int(self._ask(f"wait {pid}"))

    def close(self) -> None:
        """EOF on its stdin: it SIGKILLs and reaps any worker still running, then exits."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self._log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


class ForkedWorker:
    def __init__(self, server: ForkServer, pid: int) -> None:
        self.server = server
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self.server.poll(self.pid)
        return self.returncode

    def kill(self) -> int:
        """SIGKILL, and wait until the process is gone."""
        if self.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            self.returncode = self.server.wait(self.pid)
        assert self.returncode is not None
        return self.returncode

    def stop(self, within: float = 20.0) -> int:
        """SIGTERM, and its exit code once it has ended (SIGKILL if it takes longer than `within`)."""
        if self.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            deadline = time.monotonic() + within
            while self.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
        return self.kill()

    def output(self) -> str:
        return self.server.output()
