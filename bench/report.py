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
    }


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


def machine_line(r: dict[str, Any]) -> str:
    m = r["machine"]
    return (
        f"{m['cores']} cores ({m['cpu'] or 'unknown CPU'}), {m['memory_gib']} GiB, PostgreSQL {m['postgresql']} "
        f"({r['database']}, loopback TCP), Python {m['python']}; load average at start "
        f"{', '.join(f'{x:.1f}' for x in m['load_average_at_start'])}"
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
        "DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres make bench        # ~10 minutes",
        "DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres make bench ARGS=--quick   # ~1-2 minutes",
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
