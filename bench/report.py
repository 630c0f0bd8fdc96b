"""Ratios, targets, the chart, the summary table and the docs section for a bench result."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

BEGIN = "<!-- bench:begin (written by `make bench`; edit bench/report.py instead) -->"
END = "<!-- bench:end -->"

PROFILE_GROUPS = {
    "sqlalchemy": "sqlalchemy/",
    "asyncpg": "asyncpg/",
    "pydantic": "pydantic",
    "fastapi/starlette": ("fastapi/", "starlette/"),
    "logging (structlog)": ("structlog/", "logging/"),
    "opentelemetry": "opentelemetry/",
    "prometheus": "prometheus_client/",
    "httpx (sandbox is in-process)": "httpx/",
    "emporium code": "emporium/",
}


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def ratios(r: dict[str, Any]) -> dict[str, Any]:
    s, c = r["scenarios"], r["ceilings"]
    hello = c["fastapi_hello"]["rps"]
    return {
        "get_product_vs_fastapi_hello": _ratio(s["get_product_cached"]["rps"], hello),
        "get_product_vs_bare_asgi": _ratio(s["get_product_cached"]["rps"], c["bare_asgi"]["rps"]),
        "list_products_vs_fastapi_hello": _ratio(s["list_products_filtered"]["rps"], hello),
        "fastapi_hello_vs_bare_asgi": _ratio(hello, c["bare_asgi"]["rps"]),
        "checkout_vs_pgbench": _ratio(s["checkout"]["rps"], c["pgbench_checkout"]["tps"]),
        "get_product_cpu_over_fastapi_hello": _ratio(
            s["get_product_cached"].get("server_cpu_ms_per_ok"), c["fastapi_hello"].get("server_cpu_ms_per_ok")
        ),
        "checkout_vs_reference": {
            str(e["concurrency"]): _ratio(e["rps"], ref["rps"]) for e, ref in _reference_pairs(r)
        },
        "checkout_cpu_over_reference": {
            str(e["concurrency"]): _ratio(e.get("server_cpu_ms_per_ok"), ref.get("server_cpu_ms_per_ok"))
            for e, ref in _reference_pairs(r)
        },
        "checkout_last_over_first": r.get("checkout_first_vs_last", {}).get("last_over_first"),
    }


def _reference_pairs(r: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(Emporium run, reference run) at each concurrency both were measured at."""
    emporium = {run["concurrency"]: run for run in r["checkout_sweep"]}
    return [
        (emporium[ref["concurrency"]], ref) for ref in r.get("reference_sweep", []) if ref["concurrency"] in emporium
    ]


def _one(r: dict[str, Any]) -> dict[str, Any]:
    return dict(r.get("one_checkout", {}).get("checkout") or {})


def targets(r: dict[str, Any]) -> list[dict[str, Any]]:
    ratio = r["ratios"]
    checkout = r["scenarios"]["checkout"]
    out = [
        {
            "target": "POST /v1/orders >= 50% of the pgbench ceiling",
            "measured": ratio["checkout_vs_pgbench"],
            "met": (ratio["checkout_vs_pgbench"] or 0) >= 0.5,
        },
        {
            "target": f"POST /v1/orders p99 < 50 ms at {checkout['concurrency']} clients",
            "measured": checkout["p99_ms"],
            "met": checkout["p99_ms"] < 50,
        },
        {
            "target": "cached GET /v1/products/{id} >= 70% of FastAPI hello world",
            "measured": ratio["get_product_vs_fastapi_hello"],
            "met": (ratio["get_product_vs_fastapi_hello"] or 0) >= 0.7,
        },
    ]
    out += _issue_targets(r)
    biggest = max(r["list_orders_growth"], key=lambda g: g["orders"], default=None)
    if biggest is not None:
        out.append(
            {
                "target": f"deep page within 1.5x of the first page at {biggest['orders']:,} orders (p50)",
                "measured": biggest["deep_over_first_p50"],
                "met": (biggest["deep_over_first_p50"] or 99) <= 1.5,
            }
        )
    return out


def _met(value: float | None, ok: bool) -> dict[str, Any]:
    return {"measured": value, "met": value is not None and ok}


def _issue_targets(r: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 14 (checkout against the reference) and issue 21 (backlog), as they are worded there."""
    q, one = r["ratios"], _one(r)
    out = []
    for clients, ratio in q["checkout_vs_reference"].items():
        out.append(
            {"target": f"checkout >= 0.5x the reference at {clients} clients", **_met(ratio, (ratio or 0) >= 0.5)}
        )
    for clients, ratio in q["checkout_cpu_over_reference"].items():
        out.append(
            {"target": f"server CPU per checkout <= 2x the reference's at {clients} clients",
             **_met(ratio, ratio is not None and ratio <= 2)}
        )  # fmt: skip
    get_ratio = q["get_product_vs_fastapi_hello"]
    out.append(
        {
            "target": "cached GET /v1/products/{id} >= 0.5x FastAPI hello world",
            **_met(get_ratio, (get_ratio or 0) >= 0.5),
        }
    )
    for key, limit, what in (
        ("transactions_pg_log", 3, "transactions (PostgreSQL's statement log, pre-ping BEGIN/ROLLBACK included)"),
        ("driver_round_trips", 12, "round trips"),
        ("spans", 15, "spans"),
    ):
        value = one.get(key)
        out.append(
            {"target": f"one immediate-capture checkout: <= {limit} {what}",
             **_met(value, value is not None and value <= limit)}
        )  # fmt: skip
    flat = r.get("backlog_cost", {}).get("largest_over_smallest_p50")
    out.append(
        {
            "target": "backlog sample's cost in PostgreSQL flat within 2x across the backlog sizes",
            **_met(flat, (flat or 99) <= 2),
        }
    )
    last = q["checkout_last_over_first"]
    out.append(
        {"target": "checkout throughput at the end of the run not lower than at its start (10 % run-to-run noise)",
         **_met(last, (last or 0) >= 0.9)}
    )  # fmt: skip
    return out


def chart(r: dict[str, Any], path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    sweep = r["checkout_sweep"]
    xs = [run["concurrency"] for run in sweep]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for key, label in (("p50_ms", "p50"), ("p95_ms", "p95"), ("p99_ms", "p99")):
        left.plot(xs, [run[key] for run in sweep], marker="o", label=label)
    left.axhline(50, color="grey", linestyle="--", linewidth=0.8, label="p99 target 50 ms")
    left.set(
        xscale="log", yscale="log", xlabel="concurrent clients", ylabel="latency (ms)", title="POST /v1/orders latency"
    )
    left.set_xticks(xs, [str(x) for x in xs])
    left.legend()
    right.plot(xs, [run["rps"] for run in sweep], marker="o", label="checkout orders/s")
    right.axhline(r["ceilings"]["pgbench_checkout"]["tps"], color="grey", linestyle="--", label="pgbench ceiling tx/s")
    right.set(xscale="log", xlabel="concurrent clients", ylabel="per second", title="Throughput")
    right.set_xticks(xs, [str(x) for x in xs])
    right.legend()
    m = r["machine"]
    fig.suptitle(f"Emporium checkout — {m['cores']} cores, PostgreSQL {m['postgresql']}, {r['started_at'][:16]}Z")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f} %"


def _row(name: str, run: dict[str, Any], ceiling: str = "", ratio: float | None = None) -> str:
    return (
        f"| {name} | {run['rps']:,.0f} | {run['p50_ms']:.1f} | {run['p95_ms']:.1f} | {run['p99_ms']:.1f} "
        f"| {run['error_rate'] * 100:.2f} % | {ceiling} | {_pct(ratio) if ceiling else ''} |"
    )


def table(r: dict[str, Any]) -> str:
    s, c, q = r["scenarios"], r["ceilings"], r["ratios"]
    pg = c["pgbench_checkout"]
    lines = [
        "| Scenario | req/s | p50 ms | p95 ms | p99 ms | errors | ceiling | ratio |",
        "|---|---:|---:|---:|---:|---:|---|---:|",
        _row(
            "`GET /v1/products/{id}` (cached)",
            s["get_product_cached"],
            "FastAPI hello",
            q["get_product_vs_fastapi_hello"],
        ),
        _row(
            "`GET /v1/products?price[gte]&price[lt]`",
            s["list_products_filtered"],
            "FastAPI hello",
            q["list_products_vs_fastapi_hello"],
        ),
        _row(
            f"`POST /v1/orders` ({s['checkout']['concurrency']} clients)",
            s["checkout"],
            f"pgbench {pg['tps']:,.0f} tx/s",
            q["checkout_vs_pgbench"],
        ),
        _row("ceiling: bare ASGI on Granian", c["bare_asgi"]),
        _row(
            "ceiling: FastAPI hello world on Granian", c["fastapi_hello"], "bare ASGI", q["fastapi_hello_vs_bare_asgi"]
        ),
    ]
    e = s["events"]
    lines += [
        "",
        f"Event pipeline (`orders.order_created` → subscriber in `bench.event_worker`, during the "
        f"{s['checkout']['concurrency']}-client checkout run): {e['events']:,} events, {e['events_per_s']} events/s; "
        f"lag `occurred_at` → `delivered_at` p50 {e['lag_p50_ms']} ms, p95 {e['lag_p95_ms']} ms, "
        f"p99 {e['lag_p99_ms']} ms, max {e['lag_max_ms']} ms; backlog drained {e['drain_after_sweep_s']} s "
        f"after the sweep.",
        "",
        "Checkout by concurrency:",
        "",
        "| Clients | orders/s | p50 ms | p95 ms | p99 ms | errors | load generator CPU |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {run['concurrency']} | {run['rps']:,.0f} | {run['p50_ms']:.1f} | {run['p95_ms']:.1f} | "
        f"{run['p99_ms']:.1f} | {run['error_rate'] * 100:.2f} % | {run['client_cpu_pct']:.0f} % |"
        for run in r["checkout_sweep"]
    ]
    lines += reference_table(r) + one_checkout_lines(r) + backlog_lines(r)
    lines += [
        "",
        "List orders (`GET /v1/orders?limit=50`, 8 clients), first page and a cursor 90 % deep:",
        "",
        "| Orders | first p50 / p99 ms | first req/s | deep p50 / p99 ms | deep req/s | deep / first (p50) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {g['orders']:,} | {g['first']['p50_ms']:.1f} / {g['first']['p99_ms']:.1f} | {g['first']['rps']:,.0f} | "
        f"{g['deep']['p50_ms']:.1f} / {g['deep']['p99_ms']:.1f} | {g['deep']['rps']:,.0f} | "
        f"{g['deep_over_first_p50']}x |"
        for g in r["list_orders_growth"]
    ]
    imp = r["catalog_import"]
    bulk = r["seed_products_bulk_api"]
    lines += [
        "",
        f"Catalog: `emporium catalog import` of {imp['products']:,} products in {imp['wall_s']} s "
        f"(**{imp['per_s']:,.0f} products/s**, whole command); `POST /v1/products:bulk` seeding "
        f"{bulk['products']:,} products at {bulk['per_s']:,.0f} products/s.",
        "",
        "Targets (reported, not asserted):",
        "",
    ]
    lines += [
        f"- {'met' if t['met'] else '**missed**'}: {t['target']} — measured {t['measured']}" for t in r["targets"]
    ]
    return "\n".join(lines)


def _cpu(run: dict[str, Any]) -> str:
    value = run.get("server_cpu_ms_per_ok")
    return "—" if value is None else f"{value:.2f}"


def reference_table(r: dict[str, Any]) -> list[str]:
    q, s, c = r["ratios"], r["scenarios"], r["ceilings"]
    lines = [
        "",
        "Checkout against the hand-written reference (`bench/reference/app.py`: FastAPI + asyncpg, the project's "
        "request/response models, one statement before the provider call and one after), same Granian settings, "
        "same database, same load generator; server CPU is the server processes' user + system time (from /proc) "
        "over the measured window, per 201:",
        "",
        "| Clients | Emporium orders/s | p50 / p99 ms | CPU ms/checkout | Reference orders/s | p50 / p99 ms "
        "| CPU ms/checkout | throughput ratio | CPU ratio |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for e, ref in _reference_pairs(r):
        k = str(e["concurrency"])
        lines.append(
            f"| {k} | {e['rps']:,.1f} | {e['p50_ms']:.1f} / {e['p99_ms']:.1f} | {_cpu(e)} | {ref['rps']:,.1f} | "
            f"{ref['p50_ms']:.1f} / {ref['p99_ms']:.1f} | {_cpu(ref)} | {_pct(q['checkout_vs_reference'][k])} | "
            f"{q['checkout_cpu_over_reference'][k]}x |"
        )
    g, h = s["get_product_cached"], c["fastapi_hello"]
    lines += [
        "",
        f"Cached `GET /v1/products/{{id}}` {g['rps']:,.0f} req/s at {_cpu(g)} ms server CPU per request, against "
        f"a FastAPI hello world served the same way at {h['rps']:,.0f} req/s and {_cpu(h)} ms: "
        f"{_pct(q['get_product_vs_fastapi_hello'])} of its throughput, {q['get_product_cpu_over_fastapi_hello']}x "
        "its CPU.",
    ]
    fl = r.get("checkout_first_vs_last")
    if fl:
        lines += [
            "",
            f"Checkout at {fl['first']['concurrency']} clients, first vs last scenario of this run: "
            f"{fl['first']['rps']:,.1f} → {fl['last']['rps']:,.1f} orders/s ({fl['last_over_first']}x; "
            f"p99 {fl['first']['p99_ms']:.1f} → {fl['last']['p99_ms']:.1f} ms).",
        ]
    return lines


def one_checkout_lines(r: dict[str, Any]) -> list[str]:
    measured = r.get("one_checkout", {})
    one = _one(r)
    if not one:
        return ["", f"One checkout, counted: not measured ({measured.get('error', 'no result')})."]
    spans = ", ".join(f"{name} {n}" for name, n in one["spans_by_name"].items())
    kinds = ", ".join(f"{name} {n}" for name, n in one["statements_pg_log_by_kind"].items())
    stat = measured.get("pg_stat_database_per_checkout", {})
    runs = "; ".join(
        f"{x['transactions_pg_log']} / {x['statements_pg_log']} / {x['driver_round_trips']} / {x['spans']}"
        for x in measured["runs"]
    )
    return [
        "",
        f"One immediate-capture checkout ({one['lines']} lines, answered {one['status']} `{one['order_status']}`), "
        f"counted in the bench's own measuring run on a database of its own ({measured['settings']}):",
        "",
        "| | count | from |",
        "|---|---:|---|",
        f"| transactions | {one['transactions_pg_log']} | PostgreSQL statement log: BEGIN…COMMIT/ROLLBACK blocks and "
        "statements alone, per backend |",
        (
            f"| transactions | {stat.get('transactions')} ({stat.get('committed')} committed, "
            f"{stat.get('rolled_back')} rolled back) | `pg_stat_database` xact_commit + xact_rollback, per checkout "
            "over the three measured; an upper bound: it also counts autovacuum workers' transactions there |"
            if stat
            else "| transactions | — | `pg_stat_database`: skipped in quick mode (its counters take 20 s+ to settle) |"
        ),
        f"| transactions | {one['transactions_driver']} | driver side: returns to idle in ReadyForQuery |",
        f"| statements | {one['statements_pg_log']} ({kinds}) | PostgreSQL statement log "
        f"(`pg_stat_statements`: {measured['pg_stat_statements']}) |",
        f"| statements | {one['driver_statements']} | driver side: Execute + Query messages on the wire |",
        f"| round trips | {one['driver_round_trips']} (new connections: {one['driver_new_connections']}) "
        "| driver side: client turns on the wire, pool overhead included |",
        f"| OpenTelemetry spans | {one['spans']} ({spans}) | in-memory exporter on the default provider |",
        "",
        f"The three measured checkouts (transactions / statements / round trips / spans): {runs}; the table "
        "shows the median by round trips.",
    ]


def backlog_lines(r: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "Outbox at the end of each scenario (the sampler's reading: estimated undelivered events, oldest "
        "undelivered event's age), then drained by the event worker before the next scenario:",
        "",
        "| Scenario | outbox (estimate) | oldest age s | drained in s |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {x['scenario']} | {x['outbox_estimate']:,} | {x['oldest_age_s']} | {x['drained_in_s']} |"
        for x in r.get("outbox_after_scenarios", [])
    ]
    worker = r.get("event_worker", {})
    lines += [
        "",
        f"The event worker used {worker.get('cpu_s')} s of CPU over the run's {worker.get('run_wall_s')} s "
        "(it shares the two cores with every scenario, as a consumer would in production).",
    ]
    cost = r.get("backlog_cost", {})
    if "steps" not in cost:
        return [*lines, "", f"Backlog sample cost: not measured ({cost.get('error', 'no result')})."]
    lines += [
        "",
        f"The backlog sample each server process runs every 2 s (`platform/events/backlog.py`, one statement on two "
        f"indexes) at growing backlogs, {cost['samples_per_step']} samples each, freshly written rows (no VACUUM), "
        f"next to the `count(*)` it replaced. In PostgreSQL (EXPLAIN ANALYZE execution time) largest / smallest "
        f"p50: {cost['largest_over_smallest_p50']}x; as the server's pool sees it (round trip through SQLAlchemy, "
        f"with this machine's scheduling noise): {cost.get('largest_over_smallest_client_p50')}x:",
        "",
        "| Undelivered | sample in PostgreSQL p50 ms | sample round trip p50 / max ms | count(*) in PostgreSQL ms "
        "| count(*) round trip ms | outbox on disk MB |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {x['undelivered']:,} | {x['sample_server_p50_ms']} | {x['sample_p50_ms']} / {x['sample_max_ms']} | "
        f"{x['count_server_p50_ms']} | {x['count_ms']} | {x['outbox_mb']} |"
        for x in cost["steps"]
    ]
    return lines


def machine_line(r: dict[str, Any]) -> str:
    m = r["machine"]
    return (
        f"{m['cores']} cores ({m['cpu'] or 'unknown CPU'}), {m['memory_gib']} GiB, PostgreSQL {m['postgresql']} "
        f"({r['database']}, loopback TCP), Python {m['python']}; load average at start "
        f"{', '.join(f'{x:.1f}' for x in m['load_average_at_start'])}, at the end "
        f"{', '.join(f'{x:.1f}' for x in r.get('load_average_at_end', ()))}"
    )


def write_docs(r: dict[str, Any], result_path: Path, doc: Path) -> None:
    settings = ", ".join(f"{k}={v}" for k, v in r["server_settings"].items())
    tool = r["plan"]["tool"]
    profile_lines: list[str] = []
    for key, what in (("profile_checkout", "a checkout's"), ("profile_get_product", "a cached product GET's")):
        profile = r.get(key, {})
        if "groups" in profile:
            groups = ", ".join(f"{name} {share:.0f} %" for name, share in profile["groups"].items())
            top = ", ".join(f"`{f['frame']}` {f['share']:.0f} %" for f in profile["top_self"][:6])
            profile_lines += [
                "",
                f"Where {what} server CPU goes (py-spy, {profile['samples']:,} samples over the server's workers; "
                f"a sample counts for every group on its stack): {groups}. Hottest frames (self time): {top}.",
            ]
    body = [
        BEGIN,
        "## Benchmark (`make bench`)",
        "",
        f"Run {r['started_at'][:19]}Z on {machine_line(r)}. Server: `emporium serve` ({settings}); "
        f"load generator: {tool} on the same machine (its CPU is in the checkout table: the generator competes "
        f"with the server for the two cores). Every figure is from one run; ceilings were measured in the same run. "
        f"Raw results: `{result_path}`; chart: `{r.get('chart')}`.",
        "",
        table(r),
        *profile_lines,
        "",
        "Reproduce (PostgreSQL on loopback, or the embedded one when `DATABASE_URL` is unset):",
        "",
        "```sh",
        "DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres make bench        # ~15 minutes",
        "DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres make bench ARGS=--quick   # ~2 minutes",
        "make chaos                                                                    # kill -9 x 20, invariants",
        "```",
        "",
        "See `bench/README.md` for what each figure means.",
        END,
    ]
    replace_section(doc, BEGIN, END, "\n".join(body))


def replace_section(doc: Path, begin: str, end: str, section: str) -> None:
    """Put `section` (which starts with `begin` and ends with `end`) where the old one was, else before the
    catalog import notes, else at the end."""
    text = doc.read_text() if doc.exists() else "# Performance\n"
    if begin in text and end in text:
        text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _m: section, text, flags=re.S)
    elif "## Catalog import" in text:
        text = text.replace("## Catalog import", section + "\n\n## Catalog import", 1)
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    doc.write_text(text)


def _group_of(frame: str) -> set[str]:
    found = set()
    for name, needles in PROFILE_GROUPS.items():
        for needle in (needles,) if isinstance(needles, str) else needles:
            if needle in frame:
                found.add(name)
    return found


def summarize_profiles(paths: list[Path]) -> dict[str, Any]:
    """py-spy raw (collapsed) stacks: share of samples per library group and the hottest leaf frames."""
    total = 0
    groups: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    for path in paths:
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            frames = stack.split(";")
            total += count
            seen: set[str] = set()
            for frame in frames:
                seen |= _group_of(frame)
            for name in seen:
                groups[name] += count
            leaf = re.sub(r"\s*\((.*/)?(site-packages/)?", " (", frames[-1])
            leaves[leaf] += count
    if not total:
        return {"skipped": "no samples (py-spy needs ptrace permission)"}
    return {
        "samples": total,
        "groups": {name: round(n / total * 100, 1) for name, n in groups.most_common()},
        "top_self": [{"frame": f, "share": round(n / total * 100, 1)} for f, n in leaves.most_common(15)],
    }
