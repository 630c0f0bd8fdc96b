"""The engine's handlers: a router per resource, each route opening with `auth_gate`.

(No `from __future__ import annotations` here: FastAPI reads the body types of
these generated handlers from their annotations, which must be real classes.)
"""

import re
from collections.abc import Callable
from typing import Any, get_type_hints

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ValidationError, create_model

from emporium.platform.auth.gate import GatedRoute, auth_gate
from emporium.platform.crud.filters import RESERVED, openapi_parameters, parse_list_query
from emporium.platform.crud.resource import Resource
from emporium.platform.crud.workflows import CrudWorkflows
from emporium.platform.errors import BadRequest, FieldError, ValidationFailed
from emporium.platform.http.context import audit_context
from emporium.platform.http.problems import validation_errors
from emporium.platform.http.state import cache_of, database_of

_ETAG_HEADER = {"ETag": {"$ref": "#/components/headers/ETag"}}
_READ_RESPONSES: dict[int | str, dict[str, Any]] = {200: {"headers": _ETAG_HEADER}}
_CREATED_RESPONSES: dict[int | str, dict[str, Any]] = {
    201: {"headers": {**_ETAG_HEADER, "Location": {"$ref": "#/components/headers/Location"}}}
}
_ETAG = re.compile(r'^(?:(?:W/)?"(\d{1,18})"|(\d{1,18}))$')  # a bare version number is taken too


def etag(version: int) -> str:
    return f'"{version}"'


def if_match_version(request: Request) -> int | None:
    raw = request.headers.get("if-match")
    if raw is None or raw.strip() == "*":
        return None
    match = _ETAG.match(raw.strip())
    if match is None:
        raise BadRequest('If-Match must be an ETag this API returned, such as "3"', header="If-Match")
    return int(match.group(1) or match.group(2))


def _created_model(resource: Resource) -> type[BaseModel] | None:
    """The create answer's shape: the read schema, or what `create_response` says it returns (e.g. with a secret)."""
    if resource.create_response is None:
        return resource.read_schema
    returned = get_type_hints(resource.create_response).get("return")
    return returned if isinstance(returned, type) and issubclass(returned, BaseModel) else None


def page_model(resource: Resource) -> type[BaseModel]:
    return create_model(
        f"{resource.read_schema.__name__}Page",
        items=(list[resource.read_schema], ...),  # type: ignore[name-defined]
        next_cursor=(str | None, ...),
    )


def crud_router(resource: Resource, workflows: CrudWorkflows | Callable[[Request], CrudWorkflows]) -> APIRouter:
    """`workflows`: the resource's workflows, or how to find them for a request (those of the running app,
    built on the store it was configured with)."""
    router = APIRouter(route_class=GatedRoute, tags=[resource.name])
    workflows_of = workflows if callable(workflows) else (lambda _request: workflows)
    perms = resource.permissions
    Read = resource.read_schema
    Create = resource.create_schema
    Update = resource.update_schema
    Page = page_model(resource)
    name = resource.name

    def read_out(model: BaseModel, response: Response) -> BaseModel:
        response.headers["ETag"] = etag(model.version)  # type: ignore[attr-defined]
        return model

    @router.get(
        resource.path,
        operation_id=f"{name}_list",
        response_model=Page,
        openapi_extra={"parameters": openapi_parameters(resource)},
        summary=f"List {name}",
    )
    async def list_rows(request: Request) -> Any:
        principal = auth_gate(request, perms.read)
        query = parse_list_query(resource, request.query_params.multi_items())
        page = await workflows_of(request).list(database_of(request), principal, query)
        return Page(items=[resource.from_row(r) for r in page.items], next_cursor=page.next_cursor)

    @router.post(
        resource.path,
        operation_id=f"{name}_create",
        status_code=201,
        response_model=_created_model(resource),
        summary=f"Create a {resource.singular}",
        responses=_CREATED_RESPONSES,
    )
    async def create_row(request: Request, response: Response, body: Create) -> Any:  # type: ignore[valid-type]
        principal = auth_gate(request, perms.create)
        row = await workflows_of(request).create(
            database_of(request), cache_of(request), principal, audit_context(request, principal), body
        )
        response.headers["Location"] = f"{resource.path}/{row['id']}"
        response.headers["ETag"] = etag(row["version"])
        return (resource.create_response or resource.from_row)(row)

    @router.get(
        resource.path + "/{id}",
        operation_id=f"{name}_get",
        response_model=Read,
        summary=f"Get a {resource.singular}",
        responses=_READ_RESPONSES,
    )
    async def get_row(request: Request, response: Response, id: str) -> Any:
        principal = auth_gate(request, perms.read)
        return read_out(
            await workflows_of(request).get(database_of(request), cache_of(request), principal, id), response
        )

    for field in resource.cache.lookups if resource.cache else ():

        def make_lookup(field: str) -> None:
            @router.get(
                f"{resource.path}/by-{field}/{{value}}",
                operation_id=f"{name}_get_by_{field}",
                response_model=Read,
                summary=f"Get a {resource.singular} by {field}",
                responses=_READ_RESPONSES,
            )
            async def get_by(request: Request, response: Response, value: str) -> Any:
                principal = auth_gate(request, perms.read)
                model = await workflows_of(request).get_by(
                    database_of(request), cache_of(request), principal, field, value
                )
                return read_out(model, response)

        make_lookup(field)

    @router.patch(
        resource.path + "/{id}",
        operation_id=f"{name}_update",
        response_model=Read,
        summary=f"Update a {resource.singular} (send If-Match to avoid lost updates)",
        responses={**_READ_RESPONSES, 412: {"description": "If-Match does not match the current version"}},
    )
    async def update_row(request: Request, response: Response, id: str, body: Update) -> Any:  # type: ignore[valid-type]
        principal = auth_gate(request, perms.update)
        row = await workflows_of(request).update(
            database_of(request),
            cache_of(request),
            principal,
            audit_context(request, principal),
            id,
            body,
            if_match_version(request),
        )
        return read_out(resource.from_row(row), response)

    @router.delete(
        resource.path + "/{id}",
        operation_id=f"{name}_delete",
        status_code=204,
        summary=f"Delete a {resource.singular}",
        responses={412: {"description": "If-Match does not match the current version"}},
    )
    async def delete_row(request: Request, id: str) -> Response:
        principal = auth_gate(request, perms.delete)
        await workflows_of(request).delete(
            database_of(request),
            cache_of(request),
            principal,
            audit_context(request, principal),
            id,
            if_match_version(request),
        )
        return Response(status_code=204)

    for query_name, named in resource.queries.items():

        def make_query(query_name: str, params_model: type[BaseModel], description: str) -> None:
            schema = params_model.model_json_schema()
            parameters = [
                {"name": key, "in": "query", "required": key in schema.get("required", []), "schema": prop}
                for key, prop in schema.get("properties", {}).items()
            ]
            parameters += [p for p in openapi_parameters(resource) if p["name"] in RESERVED]

            @router.get(
                f"{resource.path}:{query_name}",
                operation_id=f"{name}_query_{query_name}",
                response_model=Page,
                summary=description or f"{name}: {query_name}",
                openapi_extra={"parameters": parameters},
            )
            async def run_query(request: Request) -> Any:
                principal = auth_gate(request, perms.read)
                raw = request.query_params.multi_items()
                try:
                    params = params_model.model_validate({k: v for k, v in raw if k not in RESERVED})
                except ValidationError as error:
                    errors = [
                        FieldError(f"query.{e.field}", e.rule, e.message)
                        for e in validation_errors([{**d, "loc": ("body", *d["loc"])} for d in error.errors()])
                    ]
                    raise ValidationFailed("the query parameters are not valid", errors=errors) from None
                query = parse_list_query(resource, [(k, v) for k, v in raw if k in RESERVED])
                page = await workflows_of(request).run_query(database_of(request), principal, query_name, params, query)
                return Page(items=[resource.from_row(r) for r in page.items], next_cursor=page.next_cursor)

        make_query(query_name, named.params, named.description)

    return router
