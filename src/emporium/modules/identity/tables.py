"""Identity's tables, in the `identity` schema. Every org-owned row carries `org_id`."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Table,
    Text,
    UniqueConstraint,
    func,
)

from emporium.modules.identity.domain import PEOPLE_ROLES, Role, UserStatus
from emporium.platform.db.schema import metadata


def _one_of(column: str, values: Iterable[StrEnum]) -> str:
    quoted = ", ".join(f"'{v.value}'" for v in sorted(values))
    return f"{column} IN ({quoted})"


org = Table(
    "org",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("capture_mode", Text, nullable=False, server_default="immediate"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("capture_mode IN ('immediate', 'on_fulfillment')", name="capture_mode"),
    schema="identity",
)

user = Table(
    "user",
    metadata,
    Column("id", Text, primary_key=True),
    Column("org_id", Text, ForeignKey("identity.org.id"), nullable=False),
    Column("email", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("org_id", "email"),
    CheckConstraint(_one_of("role", PEOPLE_ROLES), name="role"),
    CheckConstraint(_one_of("status", UserStatus), name="status"),
    CheckConstraint("email = lower(email)", name="email_lowercase"),
    Index("ix_user_org_created", "org_id", "created_at", "id"),
    schema="identity",
)

api_key = Table(
    "api_key",
    metadata,
    Column("id", Text, primary_key=True),
    Column("org_id", Text, ForeignKey("identity.org.id"), nullable=False),
    Column("name", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("display_prefix", Text, nullable=False),
    Column("secret_hash", Text, nullable=False, unique=True),
    Column("created_by", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True)),
    Column("last_used_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    CheckConstraint(_one_of("role", Role), name="role"),
    CheckConstraint("secret_hash ~ '^[0-9a-f]{64}$'", name="secret_hash_is_sha256"),
    Index("ix_api_key_org_created", "org_id", "created_at", "id"),
    schema="identity",
)

# A platform operator's keys (decision 035): the same secret format as an org's, in no org.
operator_key = Table(
    "operator_key",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("display_prefix", Text, nullable=False),
    Column("secret_hash", Text, nullable=False, unique=True),
    Column("created_by", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("revoked_at", DateTime(timezone=True)),
    CheckConstraint("secret_hash ~ '^[0-9a-f]{64}$'", name="secret_hash_is_sha256"),
    schema="identity",
)
