"""`emporium serve`'s runtime runs the dispatcher from the app lifespan and stops it with the app."""

from __future__ import annotations

from dataclasses import replace

import asyncpg

from emporium.bootstrap.app import create_app
from emporium.bootstrap.runtime import Runtime, open_runtime
from emporium.config import Config
from emporium.platform.db.engine import Database
from emporium.platform.db.transaction import transaction
from emporium.platform.events.outbox import publish
from emporium.platform.events.subscriptions import Subscriptions
from tests.support.bus import ThingHappened, effect_counts, prepare, recording, wait_for


async def test_the_app_lifespan_starts_the_dispatcher_and_stops_it_at_shutdown(
    config: Config, database_url: str, db: Database, pg: asyncpg.Connection
) -> None:
    await prepare(pg)
    serving = replace(config, events_dispatch=True, events_poll_interval=0.1)
    app = create_app(lambda: open_runtime(serving, database_url, subscriptions=Subscriptions([recording()])))
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        assert isinstance(runtime, Runtime) and runtime.dispatcher is not None
        async with transaction(db) as tx:
            event = await publish(tx, ThingHappened(thing_id="thg_serve", n=1))
            await tx.commit()

        async def handled() -> bool:
            return await effect_counts(pg, "testbus.recorder") == {event.id: 1}

        await wait_for(handled, 10, "the serve dispatcher to deliver")
        dispatcher = runtime.dispatcher
    assert dispatcher._task is None  # stopped by the lifespan, before the pool closed
    listeners = await pg.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN%'"
    )
    assert listeners == 0


async def test_the_shared_test_app_runs_no_dispatcher(runtime: Runtime) -> None:
    assert runtime.dispatcher is None
