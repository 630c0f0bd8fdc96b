"""Debian's nginx, run by a test with the project's own `deploy/nginx.conf` (ports swapped for free ones)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from tests.services import ROOT
from tests.support.processes import free_port, wait_listening

DEPLOY_CONF = ROOT / "deploy" / "nginx.conf"
_UPSTREAM = re.compile(r"server 127\.0\.0\.1:(\d+)")
_LISTEN = "listen 127.0.0.1:8080;"
# Which replica answered each request, for tests that check the balancing.
_ACCESS_LOG = "log_format upstreams '$status|$upstream_addr|$upstream_status|$request_time|$request';"
# `$upstream_addr` lists every replica tried: "a, b" within the upstream group, "a : b" after an internal
# redirect (the keyed resend, decision 042); the last one answered.
_TRIED = re.compile(r", | : ")


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)


def render(upstream_ports: list[int], listen_port: int, workdir: Path) -> str:
    """deploy/nginx.conf with the test's ports and files; everything else exactly as deployed."""
    conf = DEPLOY_CONF.read_text()
    documented = _UPSTREAM.findall(conf)
    assert len(documented) == len(upstream_ports), f"deploy/nginx.conf lists {len(documented)} replicas"
    for documented_port, port in zip(documented, upstream_ports, strict=True):
        conf = conf.replace(f"server 127.0.0.1:{documented_port}", f"server 127.0.0.1:{port}", 1)
    assert _LISTEN in conf, "deploy/nginx.conf no longer listens where the test expects"
    conf = conf.replace(_LISTEN, f"listen 127.0.0.1:{listen_port};")
    files = (
        f"    {_ACCESS_LOG}\n    access_log {workdir}/access.log upstreams;\n"
        f"    client_body_temp_path {workdir}/body;\n    proxy_temp_path {workdir}/proxy;\n"
    )
    return conf.replace("http {\n", "http {\n" + files, 1)


class Nginx:
    def __init__(self, workdir: Path, upstream_ports: list[int]) -> None:
        binary = nginx_binary()
        assert binary is not None, "nginx is not installed"
        self.workdir = workdir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "nginx.conf").write_text(render(upstream_ports, self.port, workdir))
        globals_ = f"daemon off; user root; pid {workdir}/nginx.pid; error_log {workdir}/error.log warn;"
        self._command = [binary, "-p", str(workdir), "-c", str(workdir / "nginx.conf"), "-g", globals_]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        check = subprocess.run([*self._command, "-t"], capture_output=True, text=True, check=False)
        assert check.returncode == 0, check.stderr
        self.process = subprocess.Popen(self._command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_listening(self.port, self.process, "nginx")

    def upstreams(self) -> list[str]:
        """The replica (`127.0.0.1:port`) that answered each logged request (the last one tried), in order."""
        lines = (self.workdir / "access.log").read_text().splitlines()
        return [_TRIED.split(line.split("|")[1])[-1] for line in lines]

    def errors(self) -> str:
        path = self.workdir / "error.log"
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
