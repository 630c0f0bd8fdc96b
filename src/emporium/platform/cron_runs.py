"""Recorded job runs (service and workflow in one small module: the cron's own bookkeeping)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, Index, Table, Text, UniqueConstraint, func, select, update
from sqlalchemy.dialects.postgresql import insert

from emporium.platform.db import standalone
from emporium.platform.db.engine import Database
from emporium.platform.db.schema import metadata
from emporium.platform.ids import new_id

job_run = Table(
    "job_run",
    metadata,
    Column("id", Text, primary_key=True),
    Column("job", Text, nullable=False),
    Column("slot", BigInteger, nullable=False),
    Column("instance", Text, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("finished_at", DateTime(timezone=True)),
    Column("outcome", Text, nullable=False, server_default="running"),
    Column("detail", Text),
    UniqueConstraint("job", "slot"),  # the tick's claim when there is no Redis, and a guard when there is
    Index("ix_job_run_job_started", "job", "started_at"),
    schema="platform",
)


@dataclass(frozen=True, slots=True)
class JobRun:
    id: str
    job: str
    slot: int
    instance: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    detail: str | None


async def record_run_start(db: Database, job: str, slot: int, instance: str) -> str | None:
    """The run's id, or None when another replica already runs this slot of the job."""
    statement = (
        insert(job_run)
        .values(id=new_id("run"), job=job, slot=slot, instance=instance)
        .on_conflict_do_nothing(index_elements=["job", "slot"])
        .returning(job_run.c.id)
    )
    async with standalone.autocommit(db) as conn:  # bookkeeping, not a business outcome
        run_id: str | None = (await conn.execute(statement)).scalar()
    return run_id


async def record_run_end(db: Database, run_id: str, outcome: str, detail: str | None) -> None:
    async with standalone.autocommit(db) as conn:
        await conn.execute(
            update(job_run).where(job_run.c.id == run_id).values(outcome=outcome, detail=detail, finished_at=func.now())
        )


async def recent_runs(db: Database, job: str | None = None, limit: int = 50) -> list[JobRun]:
    query = select(job_run).order_by(job_run.c.started_at.desc()).limit(limit)
    if job:
        query = query.where(job_run.c.job == job)
    async with standalone.autocommit(db) as conn:
        return [JobRun(**row._mapping) for row in await conn.execute(query)]
