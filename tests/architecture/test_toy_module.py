"""Adding a module is one new package and one line: a toy package, written here, registers everything.

The package is created in a temporary directory (nothing under `src/` changes), and the one line is
the list of manifests the application is built from (`emporium.bootstrap.modules.MODULES` + the toy).
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from emporium.bootstrap.app import create_app
from emporium.bootstrap.modules import MODULES
from emporium.bootstrap.schedule import scheduled_jobs
from emporium.config import Config
from emporium.modules.identity.domain import Role
from emporium.platform.db.engine import Database
from emporium.platform.db.schema import metadata
from emporium.platform.events.contracts import Envelope
from emporium.platform.events.schema_docs import contract_violations
from emporium.platform.events.subscriptions import Delivery
from emporium.platform.manifest import Jobs, Manifest, Modules

TOY = {
    "__init__.py": '"""A toy module, written by a test."""\n',
    "permissions.py": """
        from enum import StrEnum

        class Perm(StrEnum):
            TOYS_READ = "toys:read"

        GRANTS = {Perm.TOYS_READ: frozenset({"owner", "viewer"})}
    """,
    "tables.py": """
        from sqlalchemy import Column, Table, Text
        from emporium.platform.db.schema import metadata

        toy = Table("toy", metadata, Column("id", Text, primary_key=True), schema="toyshop")
    """,
    "events.py": """
        from typing import ClassVar
        from emporium.platform.events.contracts import Event

        class ToyMade(Event):
            event_name: ClassVar[str] = "toyshop.toy_made"
            event_version: ClassVar[int] = 1
            aggregate_type: ClassVar[str] = "toy"
            aggregate_field: ClassVar[str] = "toy_id"
            toy_id: str
    """,
    "handlers.py": """
        from fastapi import APIRouter, Request
        from emporium.platform.auth.gate import GatedRoute, auth_gate
        from toyshop.permissions import Perm

        router = APIRouter(prefix="/v1/toys", route_class=GatedRoute, tags=["toys"])

        @router.get("", operation_id="toys_list")
        async def list_toys(request: Request) -> list[str]:
            principal = auth_gate(request, Perm.TOYS_READ)
            return [principal.org_id]
    """,
    "subscribers.py": """
        from emporium.platform.events.subscriptions import Subscription

        SEEN = []

        async def on_toy_made(db, delivery):
            SEEN.append(delivery.event.payload["toy_id"])

        READS = {("toyshop.toy_made", 1): frozenset({"toy_id"})}
        SUBSCRIPTIONS = [Subscription("toyshop.counter", on_toy_made, reads=READS)]
    """,
    "jobs.py": """
        from dataclasses import dataclass
        from emporium.platform.cron import Job

        RAN = []

        @dataclass(frozen=True)
        class ToySettings:
            service_name: str  # a setting of the process configuration, read typed

        def jobs(db, settings):
            async def tidy():
                RAN.append(settings.service_name)
            return [Job("toyshop_tidy", 60.0, tidy)]
    """,
    "module.py": """
        from emporium.platform.http.shedding import Priority, RouteClass
        from emporium.platform.manifest import Jobs, Manifest, events_of, tables_of
        from toyshop import events, jobs, tables
        from toyshop.handlers import router
        from toyshop.permissions import GRANTS
        from toyshop.subscribers import SUBSCRIPTIONS

        MANIFEST = Manifest(
            name="toyshop",
            schema="toyshop",
            tables=tables_of(tables),
            routers=(router,),
            events=events_of(events),
            subscriptions=tuple(SUBSCRIPTIONS),
            jobs=Jobs(jobs.ToySettings, jobs.jobs),
            permissions=GRANTS,
            shedding=(RouteClass("/v1/toys", Priority.LOW),),
        )
    """,
}


@pytest.fixture
def toy(tmp_path: Path) -> Iterator[Manifest]:
    package = tmp_path / "toyshop"
    package.mkdir()
    for name, text in TOY.items():
        (package / name).write_text(textwrap.dedent(text))
    sys.path.insert(0, str(tmp_path))
    try:
        from toyshop.module import MANIFEST  # type: ignore[import-not-found]

        yield MANIFEST
    finally:
        sys.path.remove(str(tmp_path))
        for name in [n for n in sys.modules if n == "toyshop" or n.startswith("toyshop.")]:
            del sys.modules[name]
        metadata.remove(metadata.tables["toyshop.toy"])  # the shared MetaData must not keep a test's table


async def test_a_toy_package_with_a_manifest_registers_everything(toy: Manifest) -> None:
    modules = Modules([*MODULES, toy])  # the one line

    # Routes: served, gated, in the OpenAPI document; the shedding class applies to them.
    app = create_app(modules=modules)
    assert "/v1/toys" in app.openapi()["paths"]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        assert (await client.get("/v1/toys")).status_code == 401
    assert modules.shed_policy().priority_of("GET", "/v1/toys") == "low"

    # Authorization: the roles its manifest names hold its permission, the others do not.
    held = modules.role_permissions(role.value for role in Role)
    assert "toys:read" in held["viewer"] and "toys:read" in held["owner"] and "toys:read" not in held["staff"]

    # Tables and migrations: its table is on the migrations' MetaData, its schema among those compared.
    assert "toyshop.toy" in metadata.tables and "toyshop" in modules.schemas

    # Events: its contract is published and its subscriber routed to it (the consumer-driven check passes).
    assert ("toyshop.toy_made", 1) in [cls.key() for cls in modules.event_types()]
    [subscription] = modules.subscriptions().for_event(("toyshop.toy_made", 1))
    assert [s.consumer for s in modules.subscriptions("toyshop")] == ["toyshop.counter"]  # `worker --module`
    assert contract_violations(modules.event_types(), modules.subscriptions()) == []
    envelope = Envelope("evt_1", "toyshop.toy_made", 1, "toy", "toy_1", None, {"toy_id": "toy_1"}, datetime.now(UTC))
    db = Database("postgresql://unused@127.0.0.1:1/unused")  # never connected: the toy's parts do not touch it
    try:
        await subscription.handler(db, Delivery(envelope, subscription.consumer))
        assert sys.modules["toyshop.subscribers"].SEEN == ["toy_1"]

        # Jobs: built with the settings it declares, read from the configuration, and run by the cron's list.
        jobs = {job.name: job for job in scheduled_jobs(Config(service_name="toys-test"), db, modules)}
        await jobs["toyshop_tidy"].run()
        assert sys.modules["toyshop.jobs"].RAN == ["toys-test"]
        # Its settings are built once with everyone's, and looked up by their type (what handlers do).
        toy_settings = sys.modules["toyshop.jobs"].ToySettings
        assert modules.settings(Config(service_name="toys-test")).get(toy_settings).service_name == "toys-test"
    finally:
        await db.dispose()


@dataclass(frozen=True)
class UnknownSettings:
    no_such_setting: int


async def test_a_manifest_whose_parts_belong_elsewhere_is_refused(toy: Manifest) -> None:
    with pytest.raises(ValueError, match="outside its schema"):
        Modules([replace(toy, schema="elsewhere")])
    with pytest.raises(ValueError, match=r"must start with 'toys2\.'"):
        Modules([replace(toy, name="toys2", schema="toyshop")])
    with pytest.raises(ValueError, match="listed twice"):
        Modules([toy, toy])
    db = Database("postgresql://unused@127.0.0.1:1/unused")
    try:
        with pytest.raises(LookupError, match="not a setting"):
            scheduled_jobs(Config(), db, Modules([replace(toy, jobs=Jobs(UnknownSettings, lambda _db, _s: []))]))
    finally:
        await db.dispose()
