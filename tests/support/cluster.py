"""Three `emporium serve` replicas behind nginx, one broker worker, and private PostgreSQL, Redis, NATS
and SMTP servers the test may stop: the documented multi-replica layout (docs/deployment.md) on loopback."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.nats_server import NatsServer
from tests.support.nginx import Nginx
from tests.support.notifications import Inbox, smtp_server
from tests.support.postgres_server import EmbeddedPostgres
from tests.support.processes import ServerProcess, free_port
from tests.support.redis_server import RedisServer
from tests.support.workers import WorkerProcess

REPLICAS = 3


@dataclass
class Cluster:
    workdir: Path
    postgres: EmbeddedPostgres
    redis: RedisServer
    nats: NatsServer
    smtp: Inbox
    smtp_port: int
    ports: list[int] = field(default_factory=lambda: [free_port() for _ in range(REPLICAS)])
    replicas: list[ServerProcess] = field(default_factory=list)
    worker: WorkerProcess | None = None
    nginx: Nginx | None = None
    _starts: int = 0

    def env(self) -> dict[str, str]:
        return {
            "DATABASE_URL": self.postgres.url,
            "REDIS_URL": self.redis.url,
            "BROKER_URL": self.nats.url,
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.smtp_port),
            "SMTP_STARTTLS": "false",
            "CRON_ENABLED": "true",
            "CHECKOUT_RECOVERY_INTERVAL": "1",  # 60 ticks a minute for three schedulers to compete for
            "CHECKOUT_RECOVERY_AFTER": "5",
            "LOG_LEVEL": "debug",  # routine cron ticks log at debug; the cron test counts them
            "SHUTDOWN_TIMEOUT": "20",
            "DB_POOL_TIMEOUT": "10",
            "RATE_LIMIT_PER_KEY": "1000000",
            "RATE_LIMIT_PER_ORG": "1000000",
        }

    def start_replica(self, index: int) -> ServerProcess:
        self._starts += 1
        replica = ServerProcess(self.env(), self.workdir / f"replica{index}.{self._starts}.log", port=self.ports[index])
        if index < len(self.replicas):
            self.replicas[index] = replica
        else:
            self.replicas.append(replica)
        return replica

    def start(self) -> None:
        for index in range(REPLICAS):
            self.start_replica(index)  # all at once: they race for the migration lock, as a rollout would
        for replica in self.replicas:
            replica.wait_ready(60)
        self.worker = WorkerProcess(
            self.env(), self.workdir / "worker.log", args=("-m", "emporium.main", "worker", "--source", "broker")
        )
        self.nginx = Nginx(self.workdir / "nginx", self.ports)
        self.nginx.start()

    @property
    def base_url(self) -> str:
        assert self.nginx is not None
        return self.nginx.base_url

    def logs(self) -> list[dict[str, Any]]:
        """Every JSON log line of every replica that ever ran in this cluster."""
        lines: list[dict[str, Any]] = []
        for path in sorted(self.workdir.glob("replica*.log")):
            for line in path.read_text(errors="replace").splitlines():
                if line.startswith("{"):
                    with contextlib.suppress(json.JSONDecodeError):
                        lines.append(json.loads(line))
        return lines

    def stop(self) -> None:
        if self.nginx is not None:
            self.nginx.stop()
        for replica in self.replicas:
            replica.stop()
        if self.worker is not None:
            self.worker.stop()


@contextlib.contextmanager
def running_cluster(workdir: Path) -> Iterator[Cluster]:
    with smtp_server() as (inbox, smtp_port):
        redis = RedisServer(workdir)
        redis.start()
        nats = NatsServer(workdir / "nats")
        nats.start()
        postgres = EmbeddedPostgres(workdir / "pg")
        cluster = Cluster(workdir, postgres, redis, nats, inbox, smtp_port)
        try:
            cluster.start()
            yield cluster
        finally:
            cluster.stop()
            nats.stop()
            redis.kill()
            with contextlib.suppress(Exception):
                postgres.shutdown()
