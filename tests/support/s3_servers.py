"""Real S3 endpoints for the documents tests, started by the suite from the project's dev dependencies:

- `moto_server` (moto[server] 5.x): a broad S3 implementation, for the adapter's behaviour. It does not
  check presigned signatures or expiry.
- `nanio`: a small S3-compatible server that does enforce SigV4 (tampered, wrong-key and expired presigned
  URLs get 403), for the security tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.processes import free_port, wait_listening

ACCESS_KEY = "emporium-test-access"
SECRET_KEY = "emporium-test-secret-0123456789abcdef"


@dataclass(frozen=True)
class S3Endpoint:
    url: str
    access_key: str
    secret_key: str
    process: subprocess.Popen[bytes]


def _binary(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (a dev dependency: run `make deps`)")
    return found


def _start(command: list[str], env: dict[str, str], port: int, log: Path, what: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env}, stdout=out, stderr=subprocess.STDOUT
        )
    wait_listening(port, process, what, within=30)
    return process


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@pytest.fixture(scope="session")
def moto_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Endpoint]:
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    process = _start([_binary("moto_server"), "-H", "127.0.0.1", "-p", str(port)], {}, port, log, "moto_server")
    yield S3Endpoint(f"http://127.0.0.1:{port}", "moto-access", "moto-secret", process)
    _stop(process)


@pytest.fixture(scope="session")
def nanio_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Endpoint]:
    port = free_port()
    workdir = tmp_path_factory.mktemp("nanio")
    env = {"NANIO_ACCESS_KEY": ACCESS_KEY, "NANIO_SECRET_KEY": SECRET_KEY}
    command = [
        _binary("nanio"), "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(workdir / "data"),
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    process = _start(command, env, port, workdir / "nanio.log", "nanio")
    yield S3Endpoint(f"http://127.0.0.1:{port}", ACCESS_KEY, SECRET_KEY, process)
    _stop(process)
