"""A resource's business rules, in three steps the engine's workflows call in order.

    validate(ctx, changes)          before any transaction: checks that need no row lock and may be slow
                                    (a DNS lookup, a remote call) run here, so they never hold one open
    before_write(tx, ctx, changes)  inside the transaction, rows locked: checks against stored state
    after_write(tx, ctx, changes)   inside the transaction, after the write: rows that go with it

Every step sees a batch (one change for the single-item routes, many for a bulk upsert), so a rule
that reads the database does it once per batch. A rule rejects one change with `change.reject(...)`
(a 422 naming the field for a single item, a failed item for a bulk), or the whole call by raising a
`DomainError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from emporium.platform.auth.principal import Principal
from emporium.platform.db.tx import Tx
from emporium.platform.errors import FieldError, ValidationFailed

Row = dict[str, Any]


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    UPSERT = "upsert"  # a bulk item: create or update by a natural key, known only after the write


@dataclass(frozen=True, slots=True)
class RuleContext:
    principal: Principal
    port: Any = None  # the module's store port the workflows were built with (e.g. the catalog's store)

    @property
    def org_id(self) -> str:
        return self.principal.org_id


@dataclass(slots=True)
class Change:
    """One write: the columns to store, the row before (update, delete) and after it (once written)."""

    action: Action
    values: Row = field(default_factory=dict)
    current: Row | None = None
    row: Row | None = None
    errors: list[FieldError] = field(default_factory=list)

    def reject(self, field_name: str, rule: str, message: str) -> None:
        self.errors.append(FieldError(field_name, rule, message))

    @property
    def created(self) -> bool:
        return self.action is Action.CREATE

    def raise_if_rejected(self) -> None:
        if self.errors:
            raise ValidationFailed("; ".join(e.message for e in self.errors), errors=list(self.errors))


class Rules:
    """No rules: every step accepts. Subclass and override the steps a resource needs."""

    async def validate(self, ctx: RuleContext, changes: Sequence[Change]) -> None:
        return None

    async def before_write(self, tx: Tx, ctx: RuleContext, changes: Sequence[Change]) -> None:
        return None

    async def after_write(self, tx: Tx, ctx: RuleContext, changes: Sequence[Change]) -> None:
        return None


def accepted(changes: Sequence[Change]) -> list[Change]:
    return [c for c in changes if not c.errors]
