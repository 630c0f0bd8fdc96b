"""The input policy at the edge: text PostgreSQL cannot store never gets past the request boundary.

One pure-ASGI middleware checks every path, query string, header and JSON body
before authentication or any handler sees it, so no endpoint has to remember:

- strings are free of NUL and of unpaired UTF-16 surrogates (PostgreSQL refuses
  both in `text` and `jsonb`, which used to surface as a 500);
- a query string is valid percent-encoded UTF-8 and names each parameter once;
- JSON numbers are finite and within ±2^63, so integers fit in 64 bits (every
  integer column is at most a BIGINT); `NaN`/`Infinity` (which Python's parser accepts) are refused;
- JSON nesting stays shallow (a deep `[[[[…` would exhaust the parser's stack);
- a body sent to the API is JSON: another media type is a 415, not a confusing
  "Input should be a valid dictionary".

Each refusal is an RFC 9457 problem: 422 naming the field (`body.lines[0].sku`,
`query.name`, `path`, `header.idempotency-key`), 400 for a body that is not
JSON at all, 415 for a media type the API does not read.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emporium.platform.auth.gate import PRINCIPAL_KEY
from emporium.platform.errors import FieldError
from emporium.platform.http.problems import PROBLEM_MEDIA_TYPE, problem_body
from emporium.platform.input_rules import INT64_MAX, INT64_MIN, unstorable_text

MAX_JSON_DEPTH = 32
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class _Refused(Exception):
    def __init__(self, status: int, code: str, title: str, detail: str, errors: list[FieldError]) -> None:
        super().__init__(detail)
        self.status, self.code, self.title, self.detail, self.errors = status, code, title, detail, errors


def _invalid(field: str, rule: str, message: str) -> _Refused:
    return _Refused(422, "validation_failed", "The request is not valid", f"{field}: {message}",
                    [FieldError(field, rule, message)])  # fmt: skip


def _json_path(parts: tuple[str | int, ...]) -> str:
    path = "body"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _walk(document: Any) -> Iterator[tuple[tuple[str | int, ...], Any, int]]:
    """Every value in a parsed JSON document with its path and depth; iterative, so depth cannot overflow."""
    stack: list[tuple[tuple[str | int, ...], Any, int]] = [((), document, 0)]
    while stack:
        path, value, depth = stack.pop()
        yield path, value, depth
        if isinstance(value, dict):
            for key, item in value.items():
                yield (*path, key), key, depth  # the key itself is checked as text
                stack.append(((*path, key), item, depth + 1))
        elif isinstance(value, list):
            stack.extend(((*path, i), item, depth + 1) for i, item in enumerate(value))


def check_json_document(document: Any) -> None:
    for path, value, depth in _walk(document):
        if depth > MAX_JSON_DEPTH:
            raise _invalid(_json_path(path), "too_deep", f"JSON may nest at most {MAX_JSON_DEPTH} levels")
        if isinstance(value, str):
            reason = unstorable_text(value)
            if reason is not None:
                raise _invalid(_json_path(path), "unstorable_text", reason)
        elif isinstance(value, bool):
            continue
        elif isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
            raise _invalid(_json_path(path), "int64_range", f"integers must be from {INT64_MIN} to {INT64_MAX}")
        elif isinstance(value, float) and not (math.isfinite(value) and INT64_MIN <= value <= INT64_MAX):
            raise _invalid(
                _json_path(path), "number_range", f"numbers must be finite and from {INT64_MIN} to {INT64_MAX}"
            )


# What a body must contain for `check_json_document` to have anything to find: an escape (`\u0000`, an
# escaped surrogate), a raw surrogate (the parser decodes with surrogatepass: UTF-8 lead byte 0xED), 19
# digits in a row (every integer outside int64 has them), or an exponent (a float such as 1e400).
_WORTH_A_WALK = re.compile(rb"\\u|\xed|\d{19}|\d[eE]")


def needs_document_check(body: bytes) -> bool:
    """False when the parsed body cannot break a rule of `check_json_document` (most bodies): the walk over
    every value is skipped. Conservative: True is only a reason to look."""
    return body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH or _WORTH_A_WALK.search(body) is not None


def _refuse_constant(name: str) -> Any:
    raise _invalid("body", "json_invalid", f"{name} is not JSON")


def check_json_body(body: bytes, *, structure: bool = True) -> None:
    """`structure=False` lets a body that is not JSON through (the route refuses it); values are still checked."""
    try:
        document = json.loads(body, parse_constant=_refuse_constant)
    except _Refused:
        raise
    except RecursionError:
        raise _invalid("body", "too_deep", f"JSON may nest at most {MAX_JSON_DEPTH} levels") from None
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError
        if not structure:
            return
        position = f" at character {error.pos}" if isinstance(error, json.JSONDecodeError) else ""
        raise _Refused(400, "malformed_json", "The body is not valid JSON", f"the body is not valid JSON{position}: "
                       f"{getattr(error, 'msg', 'it is not UTF-8')}", []) from None  # fmt: skip
    if needs_document_check(body):
        check_json_document(document)


def check_query(raw: bytes) -> None:
    if not raw:
        return
    seen: set[str] = set()
    for pair in raw.split(b"&"):
        name_raw, _, value_raw = pair.partition(b"=")
        try:
            name = unquote_to_bytes(name_raw.replace(b"+", b" ")).decode("utf-8")
            value = unquote_to_bytes(value_raw.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError:
            raise _invalid("query", "utf8", "the query string must be percent-encoded UTF-8") from None
        reason = unstorable_text(name) or unstorable_text(value)
        if reason is not None:
            field = "query" if unstorable_text(name) else f"query.{name}"
            raise _invalid(field, "unstorable_text", reason)
        if name in seen:  # frameworks would silently keep one of them; no parameter of this API is a list
            raise _invalid(f"query.{name}", "duplicate", "may appear only once")
        seen.add(name)


def check_head(scope: Scope) -> None:
    reason = unstorable_text(scope.get("path", ""))
    if reason is not None:
        raise _invalid("path", "unstorable_text", reason)
    check_query(scope.get("query_string", b""))
    for name, value in scope.get("headers", ()):
        if b"\x00" in value:
            raise _invalid(f"header.{name.decode('latin-1')}", "unstorable_text", "must not contain NUL characters")


def _is_json(content_type: bytes | None) -> bool:
    if content_type is None:
        return False
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or media.endswith(b"+json")


async def _send_refusal(send: Send, scope: Scope, refused: _Refused) -> None:
    body = problem_body(
        status=refused.status,
        code=refused.code,
        title=refused.title,
        detail=refused.detail,
        instance=scope.get("path"),
        request_id=scope.get("state", {}).get("request_id"),
        errors=refused.errors,
    )
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": refused.status,
            "headers": [
                (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class InputPolicyMiddleware:
    """Refuses unstorable text in the path, query string and headers, before authentication reads a credential."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            try:
                check_head(scope)
            except _Refused as refused:
                await _send_refusal(send, scope, refused)
                return
        await self.app(scope, receive, send)


class BodyPolicyMiddleware:
    """Refuses a body that is not JSON or carries what cannot be stored; reads it once and replays it to the app.

    It sits after authentication: an anonymous caller's malformed body is left to
    the route, which answers 401 before parsing anything (no schema is taught to
    strangers); unstorable values are refused for everyone, since no route can take them.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # gone, or the limits middleware has answered 413
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        content_type = next((v for k, v in scope.get("headers", ()) if k == b"content-type"), None)
        anonymous = scope.get("state", {}).get(PRINCIPAL_KEY) is None
        try:
            if body and not _is_json(content_type):
                if not anonymous:
                    raise _Refused(415, "unsupported_media_type", "Unsupported media type",
                                   "request bodies are JSON: send `Content-Type: application/json`", [])  # fmt: skip
            elif body:
                check_json_body(body, structure=not anonymous)
        except _Refused as refused:
            await _send_refusal(send, scope, refused)
            return
        await self.app(scope, _replay([{"type": "http.request", "body": body, "more_body": False}], receive), send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
