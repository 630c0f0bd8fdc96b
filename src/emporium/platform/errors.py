"""The domain error hierarchy. Business code raises these; the HTTP edge maps
them once to RFC 9457 problem details (`platform.http.problems`).

Each class carries a stable machine-readable `code` and the HTTP status it
answers with, so no code below a handler knows about HTTP exceptions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class FieldError:
    """One rule a field broke: `field` is a dotted/indexed path such as `lines[0].quantity`."""

    field: str
    rule: str
    message: str


class DomainError(Exception):
    code: ClassVar[str] = "domain_error"
    status: ClassVar[int] = 400
    title: ClassVar[str] = "Request cannot be completed"

    def __init__(self, detail: str, *, errors: Sequence[FieldError] = (), **extensions: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = tuple(errors)
        self.extensions = extensions


class ValidationFailed(DomainError):
    code = "validation_failed"
    status = 422
    title = "The request is not valid"


class BadRequest(DomainError):
    code = "bad_request"
    status = 400
    title = "Bad request"


class Unauthenticated(DomainError):
    code = "unauthenticated"
    status = 401
    title = "Authentication required"


class Forbidden(DomainError):
    code = "forbidden"
    status = 403
    title = "Not allowed"


class NotFound(DomainError):
    code = "not_found"
    status = 404
    title = "Not found"


class Conflict(DomainError):
    code = "conflict"
    status = 409
    title = "Conflict with the current state"


class InvalidTransition(Conflict):
    code = "invalid_transition"
    title = "This state change is not allowed"

    def __init__(self, entity: str, current: str, target: str, *, hint: str = "") -> None:
        detail = f"{entity} cannot go from {current!r} to {target!r}" + (f"; {hint}" if hint else "")
        super().__init__(detail, current_state=current, target_state=target)


class PaymentDeclined(DomainError):
    code = "payment_declined"
    status = 402
    title = "The payment was declined"


class PreconditionFailed(DomainError):
    code = "precondition_failed"
    status = 412
    title = "The resource changed since you read it"


class Unavailable(DomainError):
    code = "unavailable"
    status = 503
    title = "Temporarily unavailable"

    def __init__(self, detail: str, *, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
