"""Dead-letter admin routes (edge): auth_gate first, one workflow (or the replay), map the result.

An org's admins see and replay their org's dead letters only; another org's
id is a 404. The operator's CLI (`emporium events dlq`) sees every org. The
permission these routes check is named by the application (`dead_letters_router`),
so the platform holds no permission name.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from emporium.platform.auth.gate import GatedRoute, auth_gate
from emporium.platform.errors import Unavailable
from emporium.platform.events import workflows
from emporium.platform.events.replay import replay_dead_letter
from emporium.platform.events.schemas import DeadLetterOut, DeadLetterPageOut
from emporium.platform.events.subscriptions import Subscriptions
from emporium.platform.http.paging import Cursor, Limit
from emporium.platform.http.state import database_of
from emporium.platform.pagination import DEFAULT_LIMIT

SUBSCRIPTIONS_KEY = "event_subscriptions"


def subscriptions_of(request: Request) -> Subscriptions:
    hosted = getattr(request.app.state, SUBSCRIPTIONS_KEY, None)
    if not isinstance(hosted, Subscriptions):
        raise Unavailable("the service is starting or stopping")
    return hosted


def dead_letters_router(permission: str) -> APIRouter:
    """The dead-letter admin routes, each checking `permission`."""
    router = APIRouter(prefix="/v1/admin", route_class=GatedRoute, tags=["events"])

    @router.get("/dead-letters", operation_id="dead_letters_list")
    async def list_dead_letters(
        request: Request,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
        include_replayed: Annotated[bool, Query(description="Also list letters already replayed.")] = False,
    ) -> DeadLetterPageOut:
        principal = auth_gate(request, permission)
        page = await workflows.list_dead_letters(
            database_of(request), org_id=principal.org_id, include_replayed=include_replayed, cursor=cursor, limit=limit
        )
        return DeadLetterPageOut(items=[DeadLetterOut.of(d) for d in page.items], next_cursor=page.next_cursor)

    @router.get("/dead-letters/{id}", operation_id="dead_letters_get")
    async def get_dead_letter(request: Request, id: str) -> DeadLetterOut:
        principal = auth_gate(request, permission)
        return DeadLetterOut.of(await workflows.get_dead_letter(database_of(request), id, org_id=principal.org_id))

    @router.post("/dead-letters/{id}/replay", operation_id="dead_letters_replay")
    async def replay(request: Request, id: str) -> DeadLetterOut:
        principal = auth_gate(request, permission)
        letter = await replay_dead_letter(database_of(request), subscriptions_of(request), id, org_id=principal.org_id)
        return DeadLetterOut.of(letter)

    return router
