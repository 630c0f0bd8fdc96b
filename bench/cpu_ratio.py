"""Server CPU per checkout, Emporium against the hand-written reference, alternating rounds (`make bench-cpu`).

`make bench` measures it once per concurrency level inside a long run; this is the short loop to iterate on
issue 14's CPU target: both servers on Granian with the bench's settings, on one database, the same
closed-loop buyers, rounds taken in turns (E, R, E, R, ...) so a change in the machine's load shows in
both, and the median of each. CPU is user + system of each server's process group over the measured
window, per 201; the load average is printed beside each round (the two cores are shared).

    make bench-cpu ARGS="--clients 8 --seconds 8 --rounds 3"
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench import seed
from bench.common import (
    Process,
    create_database,
    drop_database,
    emporium_server,
    free_port,
    server_settings,
    server_url,
)
from bench.loadgen import closed_loop
from bench.run import reference_server, with_server_cpu

PRODUCTS = 200
WARMUP_S = 1.0


@dataclass
class Round:
    server: str
    per_s: float
    cpu_ms: float
    user_ms: float
    system_ms: float
    load: float


async def _round(name: str, process: Process, storefront: str, skus: list[str], args: argparse.Namespace) -> Round:
    buyers = closed_loop(
        name,
        process.base_url,
        seed.checkout_maker(storefront, skus),
        concurrency=args.clients,
        duration=args.seconds,
        warmup=WARMUP_S,
        ok=lambda status: status == 201,
    )
    row = await with_server_cpu(process, WARMUP_S, buyers)
    good = max(row["requests"] - row["errors"], 1)
    return Round(
        name,
        good / row["duration_s"],
        row["server_cpu_ms_per_ok"],
        row["server_user_ms_per_ok"],
        row["server_system_ms_per_ok"],
        os.getloadavg()[0],
    )


async def main(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-cpu-"))
    server = server_url()
    db_name, url = await create_database(server, "emporium_cpu")
    app = emporium_server(url, work / "server.log", free_port(), **server_settings(args.workers, 10)).start()
    reference: Process | None = None
    try:
        await asyncio.to_thread(app.wait_ready)
        shop, _ = await seed.stocked_shop(url, app.base_url, PRODUCTS)
        skus = [f"BENCH-{i:06d}" for i in range(PRODUCTS)]
        reference = reference_server(url, shop.org_id, free_port(), args.workers, 10, work / "reference.log").start()
        await asyncio.to_thread(reference.wait_ready)
        rounds: list[Round] = []
        for _ in range(args.rounds):
            for name, process in (("emporium", app), ("reference", reference)):
                done = await _round(name, process, shop.storefront_key, skus, args)
                rounds.append(done)
                print(
                    f"{name:9} {args.clients} clients: {done.per_s:7.1f} checkouts/s, CPU {done.cpu_ms:.3f} ms "
                    f"(user {done.user_ms:.3f}, system {done.system_ms:.3f}), load {done.load:.2f}",
                    flush=True,
                )
        ours = statistics.median(r.cpu_ms for r in rounds if r.server == "emporium")
        theirs = statistics.median(r.cpu_ms for r in rounds if r.server == "reference")
        rate = statistics.median(r.per_s for r in rounds if r.server == "emporium") / statistics.median(
            r.per_s for r in rounds if r.server == "reference"
        )
        print(f"median CPU per checkout: Emporium {ours:.3f} ms, reference {theirs:.3f} ms: {ours / theirs:.2f}x")
        print(f"median throughput: {rate:.2f}x the reference's")
    finally:
        app.stop()
        if reference is not None:
            reference.stop()
        await drop_database(server, db_name)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make bench-cpu", description=__doc__)
    parser.add_argument("--clients", type=int, default=8, help="closed-loop buyers (default 8)")
    parser.add_argument("--seconds", type=float, default=8.0, help="measured seconds per round (default 8)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each server, taken in turns (default 3)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="WORKERS of both servers")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
