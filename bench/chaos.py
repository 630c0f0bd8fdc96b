"""`make chaos`: SIGKILL the server's process group under checkout traffic, restart it, recover, check.

    .venv/bin/python -m bench.chaos [--kills 20] [--clients 16] [--skus 5] [--stock 300] [--seed N]

Checkout traffic (storefront key, unique Idempotency-Key per order, 1-3 lines over a few scarce SKUs,
mostly `tok_success` with some declines and dropped provider answers) runs against a real
`emporium serve`; the whole process group is killed with SIGKILL at random moments and restarted.
Clients retry every unanswered request with its same Idempotency-Key, as a client would. Afterwards
`emporium orders recover --unknown-after 0` runs, the clients retry until every key has a final answer,
and the invariants are checked in the database. Prints PASS/FAIL with counts; exit status 1 on FAIL.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench import seed
from bench.common import alive, create_database, drop_database, emporium_cli, emporium_server, free_port, server_url

TOKENS = ["tok_success"] * 8 + ["tok_decline", "tok_drop"]
# A key's final answer: paid, or declined. A 202 acknowledges a placed order whose payment outcome
# is unknown; the key stays in flight (409) until recovery settles it, so the client keeps retrying.
FINAL = {201, 402}


@dataclass
class Ticket:
    """One checkout a client wants: its key, its body and every answer it got."""

    key: str
    body: dict[str, Any]
    answers: list[int] = field(default_factory=list)
    order_ids: set[str] = field(default_factory=set)
    final: bool = False


def log(message: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def is_final(response: httpx.Response) -> bool:
    """A final answer for this key: paid, declined, or out of stock (not 'still in flight', not 202)."""
    if response.status_code in FINAL:
        return True
    if response.status_code == 409:
        with contextlib.suppress(ValueError):
            return "stock" in str(response.json().get("code", "")) or "stock" in str(response.json().get("type", ""))
    return False


class Traffic:
    def __init__(self, base_url: str, storefront: str, skus: list[str], rng: random.Random) -> None:
        self.base_url = base_url
        self.auth = {"Authorization": f"Bearer {storefront}"}
        self.skus = skus
        self.rng = rng
        self.tickets: list[Ticket] = []
        self.pending: asyncio.Queue[Ticket] = asyncio.Queue()
        self.statuses: Counter[str] = Counter()
        self.generating = True

    def new_ticket(self) -> Ticket:
        lines = self.rng.sample(self.skus, self.rng.randint(1, min(3, len(self.skus))))
        body = {
            "lines": [{"sku": sku, "quantity": self.rng.randint(1, 3)} for sku in lines],
            "customer": {"email": "chaos@example.com", "name": "Chaos Buyer"},
            "shipping_address": seed.ADDRESS,
            "payment": {"provider": "sandbox", "card_token": self.rng.choice(TOKENS)},
        }
        ticket = Ticket(f"chaos-{uuid.uuid4().hex}", body)
        self.tickets.append(ticket)
        return ticket

    async def send(self, http: httpx.AsyncClient, ticket: Ticket) -> bool:
        """One attempt; True when the key has its final answer."""
        try:
            response = await http.post(
                self.base_url + "/v1/orders", headers={**self.auth, "Idempotency-Key": ticket.key}, json=ticket.body
            )
        except httpx.HTTPError as exc:
            self.statuses[type(exc).__name__] += 1
            return False
        self.statuses[str(response.status_code)] += 1
        ticket.answers.append(response.status_code)
        if 200 <= response.status_code < 300:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                ticket.order_ids.add(str(response.json()["id"]))
        ticket.final = is_final(response)
        return ticket.final

    async def client(self, http: httpx.AsyncClient) -> None:
        while self.generating:  # afterwards, settle() retries what is left
            ticket = self.pending.get_nowait() if not self.pending.empty() else self.new_ticket()
            if not await self.send(http, ticket):
                if ticket.answers and ticket.answers[-1] in (202, 409):
                    continue  # claimed by a killed process: only recovery settles it; settle() retries it
                self.pending.put_nowait(ticket)  # retried later with the same key
                await asyncio.sleep(self.rng.uniform(0.02, 0.1))  # back off while the server is down

    async def settle(self, http: httpx.AsyncClient, lanes: int) -> int:
        """Retry every key without a final answer once; returns how many are still open."""
        open_tickets = [t for t in self.tickets if not t.final]
        gate = asyncio.Semaphore(lanes)

        async def one(ticket: Ticket) -> None:
            async with gate:
                await self.send(http, ticket)

        await asyncio.gather(*(one(t) for t in open_tickets))
        return sum(1 for t in self.tickets if not t.final)


INVARIANTS = {
    "oversell": """
        SELECT p.sku, i.on_hand, i.reserved, i.available,
               coalesce((SELECT sum(a.quantity) FROM catalog.stock_adjustment a
                         WHERE a.product_id = p.id AND a.kind IN ('restock', 'correction')), 0) AS stocked,
               coalesce((SELECT sum(l.quantity) FROM orders.order_line l JOIN orders."order" o ON o.id = l.order_id
                         WHERE l.product_id = p.id AND o.status IN ('paid', 'fulfilled', 'delivered',
                                                                    'partially_refunded')), 0) AS sold,
               coalesce((SELECT sum(l.quantity) FROM orders.order_line l JOIN orders."order" o ON o.id = l.order_id
                         WHERE l.product_id = p.id AND o.status IN ('pending_payment', 'paid')), 0) AS holding
        FROM catalog.product p JOIN catalog.inventory i ON i.product_id = p.id
        WHERE p.org_id = $1 ORDER BY p.sku
    """,
}


async def check(conn: asyncpg.Connection, org_id: str, traffic: Traffic) -> tuple[bool, list[str], dict[str, Any]]:
    failures: list[str] = []
    counts: dict[str, Any] = {}
    for row in await conn.fetch(INVARIANTS["oversell"], org_id):
        sku, stocked, sold, reserved = row["sku"], row["stocked"], row["sold"], row["reserved"]
        if row["on_hand"] < 0 or row["available"] < 0 or reserved < 0:
            failures.append(f"{sku}: negative inventory {dict(row)}")
        if sold > stocked or sold + row["available"] > stocked:
            failures.append(f"{sku}: oversold: sold {sold} + available {row['available']} > stocked {stocked}")
        if reserved != row["holding"]:
            failures.append(f"{sku}: reserved {reserved} != units held by pending/paid orders {row['holding']}")
        counts[f"sku {sku}"] = f"stocked {stocked}, sold {sold}, reserved {reserved}, available {row['available']}"

    charges = await conn.fetch(
        """
        SELECT o.id, o.status,
          (SELECT count(*) FROM payments.sandbox_ledger l JOIN payments.payment p
             ON l.idempotency_key = 'emporium:' || p.id || ':authorize'
           WHERE p.order_id = o.id AND l.operation = 'authorize' AND l.outcome = 'authorized') AS authorizations,
          (SELECT count(*) FROM payments.payment p
           WHERE p.order_id = o.id AND p.status IN ('authorized', 'captured')) AS standing,
          (SELECT count(*) FROM payments.payment p
           WHERE p.order_id = o.id AND p.status = 'captured' AND p.captured_amount = p.amount) AS captured_in_full,
          (SELECT count(*) FROM platform.outbox e
           WHERE e.name = 'orders.order_paid' AND e.aggregate_id = o.id) AS paid_events
        FROM orders."order" o WHERE o.org_id = $1
        """,
        org_id,
    )
    statuses = Counter(r["status"] for r in charges)
    counts["orders"] = dict(statuses)
    for r in charges:
        if r["authorizations"] > 1:
            failures.append(f"{r['id']}: charged {r['authorizations']} times")
        if r["status"] in ("paid", "fulfilled", "delivered") and (r["authorizations"], r["standing"]) != (1, 1):
            failures.append(f"{r['id']} {r['status']}: authorizations {r['authorizations']}, standing {r['standing']}")
        if r["status"] in ("paid", "fulfilled", "delivered") and r["captured_in_full"] != 1:  # immediate capture
            failures.append(f"{r['id']} {r['status']} but its payment is not captured in full")
        if r["status"] == "cancelled" and r["standing"] != 0:
            failures.append(f"{r['id']} cancelled with a standing payment")
        if r["status"] in ("paid", "fulfilled", "delivered") and r["paid_events"] < 1:
            failures.append(f"{r['id']} paid without an orders.order_paid event in the outbox")
    per_charge = await conn.fetch(
        """
        SELECT a.charge_id,
          (SELECT count(*) FROM payments.sandbox_ledger c WHERE c.charge_id = a.charge_id AND c.operation = 'capture')
              AS captures,
          (SELECT coalesce(sum(amount), 0) FROM payments.sandbox_ledger c
           WHERE c.charge_id = a.charge_id AND c.operation = 'capture') AS captured,
          (SELECT coalesce(sum(amount), 0) FROM payments.sandbox_ledger c
           WHERE c.charge_id = a.charge_id AND c.operation = 'refund') AS refunded
        FROM payments.sandbox_ledger a WHERE a.operation = 'authorize' AND a.outcome = 'authorized'
        """
    )
    counts["charges"] = len(per_charge)
    counts["captures"] = sum(r["captures"] for r in per_charge)
    for r in per_charge:
        if r["captures"] > 1:
            failures.append(f"charge {r['charge_id']} captured {r['captures']} times")
        if r["refunded"] > r["captured"]:
            failures.append(f"charge {r['charge_id']}: refunded {r['refunded']} > captured {r['captured']}")

    keys = {
        r["key"]: r
        for r in await conn.fetch(
            "SELECT key, status, resource_id FROM platform.idempotency_key WHERE org_id = $1", org_id
        )
    }
    existing = {r["id"] for r in charges}
    answered = 0
    for ticket in traffic.tickets:
        if not ticket.final:
            failures.append(f"key {ticket.key} never got a final answer: {ticket.answers}")
        if 200 in ticket.answers:
            failures.append(f"key {ticket.key} answered 200: {ticket.answers}")
        if len(ticket.order_ids) > 1:
            failures.append(f"key {ticket.key} answered with several orders {ticket.order_ids}")
        for order_id in ticket.order_ids:
            answered += 1
            if order_id not in existing:
                failures.append(f"order {order_id} answered 2xx to key {ticket.key} does not exist")
        stored = keys.get(ticket.key)
        if ticket.order_ids and (stored is None or stored["resource_id"] not in ticket.order_ids):
            failures.append(f"key {ticket.key} not resolved to its order: {stored and dict(stored)}")
        if stored is not None and stored["status"] != "done":
            failures.append(f"key {ticket.key} left {stored['status']}")
    resources = [k["resource_id"] for k in keys.values() if k["resource_id"]]
    if len(resources) != len(set(resources)):
        failures.append("two keys resolved to the same order")
    if set(resources) - existing:
        failures.append("a key resolved to an order that does not exist")
    # An order no key resolves to was cancelled with nothing charged: its key was released and the
    # client's retry placed the order again. Any other order must be some key's.
    orphans = [r for r in charges if r["id"] not in set(resources) and r["status"] != "cancelled"]
    for r in orphans:
        failures.append(f"order {r['id']} ({r['status']}) belongs to no key")
    counts["keys"] = len(keys)
    counts["orders_answered_2xx"] = answered
    return not failures, failures, counts


async def run(args: argparse.Namespace) -> bool:
    rng = random.Random(args.seed)
    server = server_url()
    name, url = await create_database(server, "emporium_chaos")
    work = Path(f"/tmp/{name}")
    os.makedirs(work, exist_ok=True)
    settings = {
        "WORKERS": str(args.workers),
        "CRON_ENABLED": "false",
        "MIGRATE_ON_START": "false",
        "LOG_LEVEL": "warning",
    }
    port = free_port()
    app = emporium_server(url, work / "server.log", port, **settings).start()
    ok = False
    try:
        await asyncio.to_thread(app.wait_ready)
        org_id, owner_key = seed.create_shop(url, "Chaos")
        async with httpx.AsyncClient(base_url=app.base_url, timeout=30) as http:
            storefront = await seed.storefront_key(http, owner_key)
            items = [
                {**seed.product_item(i, rng, prefix="CHAOS"), "price": {"amount": 1000 + i, "currency": "EUR"}}
                for i in range(args.skus)
            ]
            body = (
                await http.post(
                    "/v1/products:bulk", headers={"Authorization": f"Bearer {owner_key}"}, json={"items": items}
                )
            ).json()
            await seed.restock(http, owner_key, [str(r["id"]) for r in body["results"]], args.stock)
        traffic = Traffic(app.base_url, storefront, [str(i["sku"]) for i in items], rng)
        limits = httpx.Limits(max_connections=args.clients)
        async with httpx.AsyncClient(timeout=30, limits=limits) as http:
            clients = [asyncio.create_task(traffic.client(http)) for _ in range(args.clients)]
            restarts: list[float] = []
            stray: list[int] = []
            for kill in range(args.kills):
                await asyncio.sleep(rng.uniform(args.min_uptime, args.max_uptime))
                group = app.pids()
                app.kill_group()
                t0 = time.perf_counter()
                app.start()
                await asyncio.to_thread(app.wait_ready)
                survivors = alive(group)  # none: a worker outliving its group would serve stale code
                stray.extend(survivors)
                restarts.append(time.perf_counter() - t0)
                log(
                    f"kill {kill + 1}/{args.kills}: SIGKILL to {len(group)} processes, survivors {survivors}, "
                    f"back in {restarts[-1]:.1f}s; {len(traffic.tickets)} checkouts so far"
                )
            await asyncio.sleep(args.max_uptime)  # a last stretch of traffic on the final server
            traffic.generating = False
            await asyncio.gather(*clients)
            log("traffic stopped; running `emporium orders recover --unknown-after 0`")
            left = await traffic.settle(http, args.clients)
            for _ in range(5):
                recovered = await asyncio.to_thread(emporium_cli, url, "orders", "recover", "--unknown-after", "0")
                said = (recovered.stdout + recovered.stderr).strip()
                log(f"recover: {said}; {left} keys had no final answer before it")
                left = await traffic.settle(http, args.clients)
                if left == 0:
                    break
        app.stop()
        conn = await asyncpg.connect(url)
        try:
            ok, failures, counts = await check(conn, org_id, traffic)
        finally:
            await conn.close()
        if stray:
            ok = False
            failures.append(f"processes survived a SIGKILL of their group: {stray}")
        counts.update(
            {
                "kills": args.kills,
                "checkouts": len(traffic.tickets),
                "http_answers": dict(traffic.statuses),
                "restart_s_max": round(max(restarts), 1) if restarts else None,
            }
        )
        print(json.dumps(counts, indent=2, default=str))
        for failure in failures[:50]:
            print(f"  FAIL: {failure}")
        verdict = "PASS" if ok else f"FAIL ({len(failures)} violations)"
        print(
            f"{verdict}: {args.kills} kills, {len(traffic.tickets)} checkouts, {counts.get('orders')} orders, "
            f"{counts.get('charges')} charges, {counts.get('captures')} captures, {counts.get('keys')} keys"
        )
    finally:
        app.stop()
        if not args.keep_db:
            await drop_database(server, name)
        else:
            log(f"kept database {name}; logs in {work}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make chaos", description=__doc__)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--skus", type=int, default=5)
    parser.add_argument("--stock", type=int, default=300, help="initial units per SKU (scarce, so stock runs out)")
    parser.add_argument("--workers", type=int, default=2, help="server WORKERS (the kill takes the whole group)")
    parser.add_argument("--min-uptime", type=float, default=0.3, help="shortest run between restart and kill (s)")
    parser.add_argument("--max-uptime", type=float, default=1.5, help="longest run between restart and kill (s)")
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args(argv)
    log(f"seed {args.seed}")
    return 0 if asyncio.run(run(args)) else 1


if __name__ == "__main__":
    sys.exit(main())
