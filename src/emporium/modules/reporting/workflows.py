"""Reporting's business outcomes: apply an event, read a report, rebuild from the history, say how far behind.

Every transaction here is on the **reporting store** (a `Database` on `REPORTING_DATABASE_URL`, or on the main
PostgreSQL with the `reporting` schema), never on another module's tables. The runtime installs the process's
store (`install`); the HTTP handlers and the subscriber use the installed one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from prometheus_client import Gauge

from emporium.modules.reporting import domain as d
from emporium.modules.reporting import services
from emporium.platform.db.engine import Database
from emporium.platform.db.transaction import transaction
from emporium.platform.errors import Unavailable
from emporium.platform.events.contracts import Envelope
from emporium.platform.telemetry.tracing import traced

PROJECTION = "reporting.projection"

REPORTING_LAG = Gauge(
    "reporting_projection_lag_seconds",
    "Now minus the time of the newest event the reporting read model has applied",
    multiprocess_mode="max",
)

_installed: list[Database] = []


def install(store: Database) -> None:
    """Make `store` the process's reporting store (until `uninstall`)."""
    _installed.append(store)


def uninstall(store: Database) -> None:
    if store in _installed:
        _installed.remove(store)


class ReportingUnavailable(Unavailable):
    code = "reporting_unavailable"
    title = "The reporting store is not open"


def installed_store() -> Database:
    if not _installed:
        raise ReportingUnavailable("the reporting store is not open in this process", retry_after=1)
    return _installed[-1]


def utcnow() -> datetime:
    return datetime.now(UTC)


# --- the projection --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Applied:
    """One event the projection takes in: its id, org and time, and the facts it carries."""

    event_id: str
    org_id: str
    occurred_at: datetime
    facts: tuple[d.Fact, ...]


@traced
async def apply_event(store: Database, event: Applied, *, consumer: str = PROJECTION) -> bool:
    """Record the event's facts and the event in the inbox, in one transaction; False if it was applied before."""
    return await apply_events(store, [event], consumer=consumer) == 1


@traced
async def apply_events(store: Database, events: Sequence[Applied], *, consumer: str = PROJECTION) -> int:
    """Record a batch of events (the dispatcher's batch, decision 038) in one transaction: the inbox rows
    first, saying which events are new, then one insert per fact table for those; the number of new events.

    All or nothing, like one event: a crash before the commit leaves no trace and the redelivery applies
    the batch; after it, the redelivery finds every event in the inbox. A duplicate running next to the
    batch (another dispatcher after a lease expiry) waits on the inbox rows' keys and then finds them; and
    facts are "insert unless the key is there" in any case, so nothing is written twice."""
    unique = list({e.event_id: e for e in events}.values())
    async with transaction(store) as tx:
        fresh_ids = await services.mark_first_applied(
            tx, store.dialect_name, consumer, [(e.event_id, e.org_id, e.occurred_at) for e in unique], utcnow()
        )
        fresh = [e for e in unique if e.event_id in fresh_ids]
        if fresh:
            await services.record_facts(tx, store.dialect_name, services.rows_of(f for e in fresh for f in e.facts))
        await tx.commit()
    return len(fresh)


@dataclass(frozen=True, slots=True)
class RebuildSummary:
    org_id: str | None
    events: int
    facts: int
    seconds: float

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


HistoryPage = Callable[[int], Awaitable[list[tuple[int, Envelope]]]]


@traced
async def rebuild(
    store: Database,
    history: HistoryPage,
    translate: Callable[[Envelope], Applied | None],
    *,
    org_id: str | None,
    progress: Callable[[int], None] = lambda _n: None,
    consumer: str = PROJECTION,
) -> RebuildSummary:
    """Forget the org's (or every org's) facts, then apply the event history again, page by page.

    The live projection keeps running: every fact is "insert unless present" and depends on no other, so an
    event the live subscriber applies during the rebuild and the same event replayed here leave one row, in
    either order. An event committed after the forget is either in a later page or applied live. Reports
    read during a rebuild are incomplete until it ends (decision 028)."""
    started = utcnow()
    async with transaction(store) as tx:
        await services.forget(tx, org_id)
        await tx.commit()
    events = facts = 0
    after = 0
    while page := await history(after):
        after = page[-1][0]
        applied = [a for a in (translate(envelope) for _, envelope in page) if a is not None]
        rows = services.rows_of(f for a in applied for f in a.facts)
        async with transaction(store) as tx:
            # The inbox rows first, then the facts, as the live projection writes them: two transactions
            # waiting on each other's keys then wait in the same order and cannot deadlock.
            await services.mark_applied(
                tx, store.dialect_name, consumer, [(a.event_id, a.org_id, a.occurred_at) for a in applied], utcnow()
            )
            await services.record_facts(tx, store.dialect_name, rows)
            await tx.commit()
        events += len(page)
        facts += sum(len(batch) for batch in rows.values())
        progress(len(page))
    return RebuildSummary(org_id, events, facts, (utcnow() - started).total_seconds())


# --- reports ------------------------------------------------------------------------------------------------------


@traced
async def sales_report(
    store: Database, org_id: str, start: date, end: date, granularity: d.Granularity, currency: str | None
) -> list[d.SalesRow]:
    async with transaction(store) as tx:
        figures = await services.daily_figures(tx, services.sales_queries(org_id, start, end, currency))
    return d.roll_up(d.SalesRow, figures, granularity)


@traced
async def payments_report(
    store: Database, org_id: str, start: date, end: date, granularity: d.Granularity, currency: str | None
) -> list[d.PaymentsRow]:
    async with transaction(store) as tx:
        figures = await services.daily_figures(tx, services.payments_queries(org_id, start, end, currency))
    return d.roll_up(d.PaymentsRow, figures, granularity)


@traced
async def products_report(
    store: Database, org_id: str, start: date, end: date, currency: str | None, sort: d.ProductSort, limit: int
) -> list[d.ProductRow]:
    async with transaction(store) as tx:
        return await services.products(tx, services.products_query(org_id, start, end, currency, sort, limit))


# --- status ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Status:
    dialect: str
    applied_events: int
    newest_event_at: datetime | None
    lag_seconds: float | None


@traced
async def status(store: Database) -> Status:
    """How far the read model is behind: now minus the newest applied event's time (None before any event)."""
    async with transaction(store) as tx:
        newest, count = await services.newest_applied(tx)
    newest_utc = newest.replace(tzinfo=UTC) if newest is not None else None
    lag = (utcnow() - newest_utc).total_seconds() if newest_utc is not None else None
    return Status(store.dialect_name, count, newest_utc, lag)


async def sample_lag(store: Database) -> Status:
    """Set the lag gauge from the store (for `/metrics`)."""
    current = await status(store)
    REPORTING_LAG.set(max(0.0, current.lag_seconds) if current.lag_seconds is not None else 0.0)
    return current


def event_names(kinds: Iterable[tuple[str, int]]) -> Sequence[str]:
    return sorted({name for name, _ in kinds})
