"""Documents test helpers: a dispatcher hosting only the documents subscribers, and PDF text."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable

from pypdf import PdfReader

from emporium.modules.documents import subscribers
from emporium.platform.db.engine import Database
from emporium.platform.events.dispatcher import Dispatcher, DispatchSettings
from emporium.platform.events.subscriptions import Subscriptions
from tests.support.bus import wait_for


def document_consumers() -> Subscriptions:
    return Subscriptions(subscribers.SUBSCRIPTIONS)


async def dispatch_until(
    db: Database, condition: Callable[[], Awaitable[bool]], what: str, *, concurrency: int = 4
) -> None:
    dispatcher = Dispatcher(db, document_consumers(), DispatchSettings(batch_size=100, concurrency=concurrency))

    async def step() -> bool:
        await dispatcher.run_once()
        return await condition()

    await wait_for(step, 60, what)


def pdf_text(body: bytes) -> str:
    assert body.startswith(b"%PDF-"), body[:20]
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)
