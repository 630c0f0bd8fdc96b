"""The Idempotency-Key edge: any POST that creates or moves money goes through `idempotent`.

- missing key where required -> 400 `idempotency_key_required`
- same key, different method/path/body -> 422 `idempotency_key_reused`
- same key while the first request runs -> 409 `idempotency_key_in_flight`
- same key after it finished -> the stored status and body, byte for byte,
  with `Idempotent-Replayed: true`
- a key whose request answered 202 (outcome not known yet) stays in flight
  (409) until recovery stores the final answer or releases the key

The effect claims the key inside its own first transaction (see
`platform.idempotency.store.claim`), so two identical requests racing each
other cannot both run the effect: the second waits on the unique index.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Awaitable, Callable

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from emporium.platform.auth.principal import Principal
from emporium.platform.errors import BadRequest, DomainError, FieldError, ValidationFailed
from emporium.platform.http.problems import PROBLEM_MEDIA_TYPE, problem_body
from emporium.platform.http.state import database_of
from emporium.platform.idempotency.store import IdempotencyClaim, KeyAlreadyClaimed, StoredAnswer, StoredKey
from emporium.platform.idempotency.workflows import claim_key, complete_key, find_key

HEADER = "idempotency-key"
_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")

# The status and the answer: a model, or with `present` the domain result it presents.
Effect = Callable[[IdempotencyClaim], Awaitable[tuple[int, object]]]


class IdempotencyKeyRequired(BadRequest):
    code = "idempotency_key_required"
    title = "This request needs an Idempotency-Key header"


class IdempotencyKeyReused(ValidationFailed):
    code = "idempotency_key_reused"
    title = "This Idempotency-Key was used for a different request"


def _claim(request: Request, principal: Principal, body: bytes) -> IdempotencyClaim:
    key = request.headers.get(HEADER)
    if key is None:
        raise IdempotencyKeyRequired(
            "send an Idempotency-Key header (a unique value per intended operation, e.g. a UUID)",
            errors=[FieldError("header.idempotency-key", "missing", "required on this endpoint")],
        )
    if not _VALID_KEY.match(key):
        raise IdempotencyKeyRequired(
            "the Idempotency-Key must be 1 to 255 visible ASCII characters",
            errors=[FieldError("header.idempotency-key", "format", "1-255 visible ASCII characters")],
        )
    digest = hashlib.sha256(f"{request.method} {request.url.path}\n".encode() + body).hexdigest()
    return IdempotencyClaim(principal.org_id, key, digest)


def _answer_from(stored: StoredKey, claim: IdempotencyClaim) -> Response:
    if stored.fingerprint != claim.fingerprint:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was already used with a different request body or path",
            errors=[FieldError("header.idempotency-key", "reused", "use a new key for a different request")],
        )
    if stored.status != "done" or stored.response_status is None:
        raise KeyAlreadyClaimed("a request with this Idempotency-Key is still in progress; retry shortly")
    return Response(
        content=stored.response_body or b"",
        status_code=stored.response_status,
        media_type=stored.response_content_type,
        headers={"Idempotent-Replayed": "true"},
    )


def _problem_bytes(error: DomainError, request: Request) -> bytes:
    body = problem_body(
        status=error.status,
        code=error.code,
        title=error.title,
        detail=error.detail,
        instance=request.url.path,
        request_id=request.scope.get("state", {}).get("request_id"),
        errors=error.errors,
        extensions=error.extensions,
    )
    return json.dumps(body, separators=(",", ":")).encode()


Present = Callable[[object], tuple[int, BaseModel]]


def _json_answer(status: int, model: BaseModel) -> StoredAnswer:
    # pydantic writes the JSON itself (compact, by alias), as FastAPI's response would carry it, without
    # the generic walk of `jsonable_encoder` (about a hundred calls for an order of two lines).
    return StoredAnswer(status, model.model_dump_json(by_alias=True).encode(), "application/json")


def _replay(answer: StoredAnswer) -> Response:
    return Response(content=answer.body, status_code=answer.status, media_type=answer.content_type)


async def idempotent(
    request: Request,
    principal: Principal,
    effect: Effect,
    *,
    claim_first: bool = False,
    present: Present | None = None,
) -> Response:
    """Run `effect` at most once per key.

    By default the effect claims the key in its own first transaction (a key that is
    done or in flight is found then, without a lookup beforehand); with `claim_first`
    the key is claimed here, for effects idempotent by the key themselves. With
    `present` (domain result -> status and body), the effect returns its domain result,
    and can store its answer in its own last transaction
    (`idempotency.store.complete_with`), which is then replayed without presenting the
    result again; otherwise the result is presented here. An effect that
    returns status 202 without storing leaves the key in flight: its outcome is not
    known yet, and whoever settles it (recovery) stores the final answer.
    """
    db = database_of(request)
    claim = _claim(request, principal, await request.body())
    if present is not None:
        claim.answer = lambda outcome: (
            StoredAnswer(outcome.status, _problem_bytes(outcome, request), PROBLEM_MEDIA_TYPE)
            if isinstance(outcome, DomainError)
            else _json_answer(*present(outcome))
        )
    try:
        if claim_first:
            await claim_key(db, claim)
        status, result = await effect(claim)
    except KeyAlreadyClaimed:
        # The key is done, or another request holds it: answer as a retry would.
        stored = await find_key(db, claim.org_id, claim.key)
        if stored is None:
            raise
        return _answer_from(stored, claim)
    except DomainError as error:
        if claim.stored is not None:  # the effect stored this refusal with its own writes
            return _replay(claim.stored)
        # Store the refusal too when the effect had already claimed the key.
        payload = _problem_bytes(error, request)
        if await complete_key(db, claim.org_id, claim.key, error.status, payload, PROBLEM_MEDIA_TYPE):
            return Response(content=payload, status_code=error.status, media_type=PROBLEM_MEDIA_TYPE)
        raise
    if claim.stored is not None:
        return _replay(claim.stored)
    # Presented only now: an effect that stored its answer with its own writes (above) needs no model.
    model = present(result)[1] if present is not None else result
    if not isinstance(model, BaseModel):
        raise TypeError(f"an idempotent effect answered {type(model).__name__}, not a model")
    answer = _json_answer(status, model)
    if status != 202 or present is None:
        await complete_key(db, claim.org_id, claim.key, answer.status, answer.body, answer.content_type)
    return _replay(answer)
