"""A real worker process for the end-to-end bus tests: `emporium.bootstrap.worker.run_worker` (the code behind
`emporium worker`) hosting the test-only recording subscriber, which no module declares.

    DATABASE_URL=... [SOURCE=broker BROKER_URL=... STREAM=... SUBJECT_PREFIX=...] python -m tests.support.bus_worker

With `--fork-server LOG` it imports everything once, then starts each worker as a forked child (a process of
its own, with its own connections, killed like any other) on a line from the test, so that a test which kills
workers fifty times does not pay the interpreter start and the imports fifty times. One command a line on
stdin, one answer a line on stdout:

    start      -> the new worker's pid (its output goes to LOG)
    poll PID   -> "running", or its exit code (negative: the signal that ended it)
    wait PID   -> its exit code, once it has ended

At EOF (the test ended) it SIGKILLs and reaps the workers still running, then exits.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
import traceback

from emporium.bootstrap.worker import Source, run_worker
from emporium.config import Config
from emporium.platform.events.broker import BrokerSettings
from emporium.platform.events.subscriptions import Subscriptions
from emporium.platform.telemetry.logging import configure_logging
from tests.support.bus import recording


def main() -> None:
    configure_logging("info", "json")
    broker_url = os.environ.get("BROKER_URL") or None
    config = Config(
        database_url=os.environ["DATABASE_URL"],
        db_pool_size=6,
        events_batch_size=20,
        events_concurrency=4,
        events_poll_interval=0.1,
        events_lease=1,  # a killed worker's claims are taken over quickly
        broker_url=broker_url,
    )
    settings = None
    if broker_url:
        settings = BrokerSettings(
            broker_url,
            stream=os.environ["STREAM"],
            subject_prefix=os.environ["SUBJECT_PREFIX"],
            ack_wait=float(os.environ.get("ACK_WAIT", "30")),
        )
    source: Source = "broker" if os.environ.get("SOURCE") == "broker" else "outbox"
    asyncio.run(
        run_worker(
            config,
            config.database_url or "",
            Subscriptions([recording()]),
            source=source,
            broker_settings=settings,
        )
    )


def _run_child(log_path: str) -> None:
    """In the forked child: output to the log, no protocol pipes, run the worker, never return."""
    log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.close(devnull)
    code = 0
    try:
        main()
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _answer(value: object) -> None:
    sys.stdout.write(f"{value}\n")
    sys.stdout.flush()


def serve_forks(log_path: str) -> None:
    # Forking is only safe while this process is single-threaded and has no event loop: imports only so far.
    assert threading.active_count() == 1, threading.enumerate()
    running: set[int] = set()
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        if command == "start":
            pid = os.fork()
            if pid == 0:
                _run_child(log_path)
            running.add(pid)
            _answer(pid)
        elif command in {"poll", "wait"}:
            pid = int(argument)
            ended, status = os.waitpid(pid, os.WNOHANG if command == "poll" else 0)
            if ended == 0:
                _answer("running")
            else:
                running.discard(pid)
                _answer(os.waitstatus_to_exitcode(status))
        else:
            _answer(f"unknown command {command!r}")
    for pid in running:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--fork-server"]:
        serve_forks(sys.argv[2])
    else:
        main()
