from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emporium.bootstrap.authorization import role_permissions
from emporium.bootstrap.modules import INSTALLED
from emporium.modules.identity.domain import (
    OPERATOR_PERMISSIONS,
    PEOPLE_ROLES,
    Role,
    may_grant,
    may_manage,
)
from emporium.modules.identity.permissions import Perm
from emporium.platform.auth.api_keys import (
    KEY_LENGTH,
    display_prefix,
    generate_api_key,
    hash_api_key,
    is_well_formed_api_key,
)
from emporium.platform.auth.cache import PrincipalCache
from emporium.platform.auth.principal import ActorType, Principal
from tests.support.clock import FakeClock

ROLE_PERMISSIONS = role_permissions()


def test_every_role_is_granted_and_owner_holds_every_permission() -> None:
    """Every org permission; a platform operator's own (decision 035) no org role holds."""
    assert set(ROLE_PERMISSIONS) == {role.value for role in Role}
    operator_only = OPERATOR_PERMISSIONS - {"auth:whoami"}
    assert operator_only <= INSTALLED.permissions  # the names identity cannot import are declared
    assert ROLE_PERMISSIONS[Role.OWNER] == INSTALLED.permissions - operator_only
    assert not any(operator_only & held for held in ROLE_PERMISSIONS.values())


def test_storefront_keys_cannot_administer_identity() -> None:
    admin_perms = {Perm.USERS_READ, Perm.USERS_WRITE, Perm.API_KEYS_READ, Perm.API_KEYS_WRITE, Perm.AUDIT_READ}
    assert not admin_perms & ROLE_PERMISSIONS[Role.STOREFRONT]


def test_viewers_only_read() -> None:
    assert all(perm.endswith((":read", ":whoami")) for perm in ROLE_PERMISSIONS[Role.VIEWER])


@pytest.mark.parametrize(
    ("actor", "role", "allowed"),
    [
        (Role.OWNER, Role.OWNER, True),
        (Role.ADMIN, Role.OWNER, False),
        (Role.ADMIN, Role.ADMIN, True),
        (Role.ADMIN, Role.STOREFRONT, True),
        (Role.STAFF, Role.VIEWER, False),
        (Role.BACKOFFICE, Role.VIEWER, False),
        (Role.VIEWER, Role.VIEWER, False),
    ],
)
def test_who_may_grant_what(actor: Role, role: Role, allowed: bool) -> None:
    assert may_grant(actor.value, role) is allowed


@given(st.sampled_from(list(Role)), st.sampled_from(list(Role)))
def test_only_an_owner_may_grant_or_manage_an_owner(actor: Role, role: Role) -> None:
    if role is Role.OWNER:
        assert may_grant(actor.value, role) is (actor is Role.OWNER)
        assert may_manage(actor.value, role) is (actor is Role.OWNER)


def test_people_roles_exclude_key_roles() -> None:
    assert Role.STOREFRONT not in PEOPLE_ROLES
    assert Role.BACKOFFICE not in PEOPLE_ROLES


def test_generated_keys_are_recognisable_and_checksummed() -> None:
    keys = {generate_api_key() for _ in range(1000)}
    assert len(keys) == 1000
    for key in keys:
        assert key.startswith("emp_live_")
        assert len(key) == KEY_LENGTH
        assert is_well_formed_api_key(key)
        assert display_prefix(key) == key[:15]
        assert len(hash_api_key(key)) == 64


@given(st.integers(min_value=9, max_value=KEY_LENGTH - 1), st.sampled_from("0123456789abcXYZ"))
def test_a_single_changed_character_fails_the_checksum(position: int, replacement: str) -> None:
    key = generate_api_key()
    typo = key[:position] + replacement + key[position + 1 :]
    if typo != key:
        assert not is_well_formed_api_key(typo)


def test_truncated_or_foreign_keys_are_malformed() -> None:
    key = generate_api_key()
    assert not is_well_formed_api_key(key[:-1])
    assert not is_well_formed_api_key("emp_test_" + key[9:])
    assert not is_well_formed_api_key(key + "x")


def _principal(actor: str = "key_1") -> Principal:
    return Principal("org_1", ActorType.API_KEY, actor, "staff", frozenset())


def test_cache_entries_expire_after_the_ttl() -> None:
    clock = FakeClock()
    cache = PrincipalCache(ttl=5, clock=clock)
    cache.put("k", _principal())
    clock.now += 4.9
    assert cache.get("k") is not None
    clock.now += 0.2
    assert cache.get("k") is None


def test_cache_never_outlives_the_credential() -> None:
    clock = FakeClock()
    cache = PrincipalCache(ttl=5, clock=clock)
    cache.put("k", _principal(), valid_for=1)
    clock.now += 1.01
    assert cache.get("k") is None
    cache.put("expired", _principal(), valid_for=-3)
    assert cache.get("expired") is None


def test_forget_drops_every_entry_of_an_actor() -> None:
    cache = PrincipalCache(clock=FakeClock())
    cache.put("a", _principal("key_1"))
    cache.put("b", _principal("key_1"))
    cache.put("c", _principal("key_2"))
    cache.forget("key_1")
    assert cache.get("a") is None
    assert cache.get("b") is None
    assert cache.get("c") is not None


def test_cache_is_bounded() -> None:
    cache = PrincipalCache(max_entries=3, clock=FakeClock())
    for i in range(5):
        cache.put(str(i), _principal(str(i)))
    assert [cache.get(str(i)) is not None for i in range(5)] == [False, False, True, True, True]
