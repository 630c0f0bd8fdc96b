"""Identity storage (service role): statements on the identity schema only, always scoped by org."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from emporium.modules.identity.domain import ApiKey, CaptureMode, Org, Role, User, UserStatus
from emporium.modules.identity.tables import api_key, operator_key, org, user
from emporium.platform.db.keyset import keyset_page_query, time_id_key
from emporium.platform.db.tx import Tx
from emporium.platform.pagination import Page, page_of
from emporium.platform.telemetry.tracing import traced

# --- orgs ---------------------------------------------------------------------------------------


def _org(row: Any) -> Org:
    return Org(id=row.id, name=row.name, capture_mode=CaptureMode(row.capture_mode), created_at=row.created_at)


@traced
async def insert_org(tx: Tx, org_id: str, name: str) -> Org:
    return _org((await tx.execute(insert(org).values(id=org_id, name=name).returning(*org.c))).one())


@traced
async def get_org(tx: Tx, org_id: str) -> Org | None:
    row = (await tx.execute(select(org).where(org.c.id == org_id))).one_or_none()
    return _org(row) if row else None


@traced
async def update_org(tx: Tx, org_id: str, **values: Any) -> Org | None:
    row = (await tx.execute(update(org).where(org.c.id == org_id).values(**values).returning(*org.c))).one_or_none()
    return _org(row) if row else None


@traced
async def lock_org(tx: Tx, org_id: str) -> None:
    """Serialize changes that must see every owner of the org (never leave it without one)."""
    await tx.execute(select(org.c.id).where(org.c.id == org_id).with_for_update())


_BOOTSTRAP_LOCK_ID = 0x64656D6F  # "demo": replicas starting together create one demo org


@traced
async def take_bootstrap_lock(tx: Tx) -> None:
    await tx.execute(select(func.pg_advisory_xact_lock(_BOOTSTRAP_LOCK_ID)))


@traced
async def org_count(tx: Tx) -> int:
    return int(await tx.scalar(select(func.count()).select_from(org)))


# --- users --------------------------------------------------------------------------------------


def _user(row: Any) -> User:
    data = dict(row._mapping)
    return User(**{**data, "role": Role(data["role"]), "status": UserStatus(data["status"])})


@traced
async def insert_user(
    tx: Tx, *, user_id: str, org_id: str, email: str, name: str, role: Role, status: UserStatus
) -> User | None:
    """None when the email is already a member of the org."""
    statement = (
        pg_insert(user)
        .values(id=user_id, org_id=org_id, email=email, name=name, role=role.value, status=status.value)
        .on_conflict_do_nothing(index_elements=["org_id", "email"])
        .returning(*user.c)
    )
    row = (await tx.execute(statement)).one_or_none()
    return _user(row) if row else None


@traced
async def get_user(tx: Tx, org_id: str, user_id: str) -> User | None:
    row = (await tx.execute(select(user).where(user.c.org_id == org_id, user.c.id == user_id))).one_or_none()
    return _user(row) if row else None


@traced
async def find_user_by_ref(tx: Tx, org_id: str, user_ref: str) -> User | None:
    """A token names its user by id (`usr_…`) or by email."""
    column = user.c.id if user_ref.startswith("usr_") else user.c.email
    value = user_ref if user_ref.startswith("usr_") else user_ref.strip().lower()
    row = (await tx.execute(select(user).where(user.c.org_id == org_id, column == value))).one_or_none()
    return _user(row) if row else None


@traced
async def list_users(tx: Tx, org_id: str, cursor: str | None, limit: int, status: UserStatus | None) -> Page[User]:
    query = select(user).where(user.c.org_id == org_id)
    if status is not None:
        query = query.where(user.c.status == status.value)
    query = keyset_page_query(query, user.c.created_at, user.c.id, cursor, limit)
    rows = [_user(r) for r in await tx.execute(query)]
    return page_of(rows, limit, lambda u: time_id_key(u.created_at, u.id))


@traced
async def update_user(
    tx: Tx,
    org_id: str,
    user_id: str,
    *,
    expected_version: int | None = None,
    **changes: Any,
) -> User | None:
    """Apply `changes` and bump the version; None when absent or (with expected_version) changed since read."""
    values = {k: (v.value if isinstance(v, Role | UserStatus) else v) for k, v in changes.items()}
    condition = and_(user.c.org_id == org_id, user.c.id == user_id)
    if expected_version is not None:
        condition = and_(condition, user.c.version == expected_version)
    statement = (
        update(user)
        .where(condition)
        .values(**values, version=user.c.version + 1, updated_at=func.now())
        .returning(*user.c)
    )
    row = (await tx.execute(statement)).one_or_none()
    return _user(row) if row else None


@traced
async def count_active_owners(tx: Tx, org_id: str) -> int:
    query = select(func.count()).where(
        user.c.org_id == org_id, user.c.role == Role.OWNER.value, user.c.status != UserStatus.DEACTIVATED.value
    )
    return int(await tx.scalar(query))


@traced
async def owner_emails(tx: Tx, org_id: str) -> list[str]:
    query = (
        select(user.c.email)
        .where(user.c.org_id == org_id, user.c.role == Role.OWNER.value, user.c.status != UserStatus.DEACTIVATED.value)
        .order_by(user.c.email)
    )
    return [str(email) for email in (await tx.execute(query)).scalars().all()]


@traced
async def activate_invited_user(tx: Tx, user_id: str) -> None:
    await tx.execute(
        update(user)
        .where(user.c.id == user_id, user.c.status == UserStatus.INVITED.value)
        .values(status=UserStatus.ACTIVE.value, updated_at=func.now(), version=user.c.version + 1)
    )


# --- API keys -----------------------------------------------------------------------------------

_KEY_COLUMNS = [c for c in api_key.c if c.name != "secret_hash"]


def _key(row: Any) -> ApiKey:
    data = dict(row._mapping)
    return ApiKey(**{**data, "role": Role(data["role"])})


@traced
async def insert_api_key(
    tx: Tx,
    *,
    key_id: str,
    org_id: str,
    name: str,
    role: Role,
    display_prefix: str,
    secret_hash: str,
    created_by: str,
    expires_at: datetime | None,
) -> ApiKey:
    statement = (
        insert(api_key)
        .values(
            id=key_id,
            org_id=org_id,
            name=name,
            role=role.value,
            display_prefix=display_prefix,
            secret_hash=secret_hash,
            created_by=created_by,
            expires_at=expires_at,
        )
        .returning(*_KEY_COLUMNS)
    )
    return _key((await tx.execute(statement)).one())


@traced
async def find_usable_key_by_hash(tx: Tx, secret_hash: str) -> ApiKey | None:
    query = select(*_KEY_COLUMNS).where(
        api_key.c.secret_hash == secret_hash,
        api_key.c.revoked_at.is_(None),
        or_(api_key.c.expires_at.is_(None), api_key.c.expires_at > func.now()),
    )
    row = (await tx.execute(query)).one_or_none()
    return _key(row) if row else None


@traced
async def touch_key_last_used(tx: Tx, key_id: str, every_seconds: int = 60) -> None:
    """Record use at most once a minute per key, so authentication is not a write per request."""
    await tx.execute(
        update(api_key)
        .where(
            api_key.c.id == key_id,
            or_(
                api_key.c.last_used_at.is_(None),
                api_key.c.last_used_at < func.now() - func.make_interval(0, 0, 0, 0, 0, 0, every_seconds),
            ),
        )
        .values(last_used_at=func.now())
    )


@traced
async def list_api_keys(tx: Tx, org_id: str, cursor: str | None, limit: int) -> Page[ApiKey]:
    query = select(*_KEY_COLUMNS).where(api_key.c.org_id == org_id)
    query = keyset_page_query(query, api_key.c.created_at, api_key.c.id, cursor, limit)
    rows = [_key(r) for r in await tx.execute(query)]
    return page_of(rows, limit, lambda k: time_id_key(k.created_at, k.id))


@traced
async def get_api_key(tx: Tx, org_id: str, key_id: str) -> ApiKey | None:
    row = (
        await tx.execute(select(*_KEY_COLUMNS).where(api_key.c.org_id == org_id, api_key.c.id == key_id))
    ).one_or_none()
    return _key(row) if row else None


@traced
async def revoke_api_key(tx: Tx, org_id: str, key_id: str) -> ApiKey | None:
    """Revoke if not yet revoked; None when absent or already revoked."""
    statement = (
        update(api_key)
        .where(api_key.c.org_id == org_id, api_key.c.id == key_id, api_key.c.revoked_at.is_(None))
        .values(revoked_at=func.now())
        .returning(*_KEY_COLUMNS)
    )
    row = (await tx.execute(statement)).one_or_none()
    return _key(row) if row else None


# --- platform operators' keys -------------------------------------------------------------------


@traced
async def insert_operator_key(
    tx: Tx, *, key_id: str, name: str, display_prefix: str, secret_hash: str, created_by: str
) -> str:
    await tx.execute(
        insert(operator_key).values(
            id=key_id, name=name, display_prefix=display_prefix, secret_hash=secret_hash, created_by=created_by
        )
    )
    return key_id


@traced
async def find_usable_operator_key(tx: Tx, secret_hash: str) -> str | None:
    query = select(operator_key.c.id).where(
        operator_key.c.secret_hash == secret_hash, operator_key.c.revoked_at.is_(None)
    )
    return (await tx.execute(query)).scalar_one_or_none()


@traced
async def revoke_operator_key(tx: Tx, key_id: str) -> bool:
    statement = (
        update(operator_key)
        .where(operator_key.c.id == key_id, operator_key.c.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )
    return bool((await tx.execute(statement)).rowcount)
