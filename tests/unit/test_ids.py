from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ksuid import Ksuid

from emporium.platform.ids import is_id, ksuid_body, new_id


def test_new_ids_carry_their_prefix_and_are_unique() -> None:
    ids = {new_id("ord") for _ in range(10_000)}
    assert len(ids) == 10_000
    assert all(i.startswith("ord_") and len(i) == 4 + 27 for i in ids)
    assert all(is_id(i, "ord") for i in ids)


def test_an_id_of_another_kind_is_not_accepted() -> None:
    assert not is_id(new_id("pay"), "ord")


@pytest.mark.parametrize("prefix", ["", "O", "ord-x", "toolongprefix", "o1"])
def test_prefixes_are_short_lowercase_words(prefix: str) -> None:
    with pytest.raises(ValueError):
        new_id(prefix)


@given(st.text(max_size=40))
def test_arbitrary_text_is_never_mistaken_for_an_id(text: str) -> None:
    candidate = "ord_" + text
    if is_id(candidate, "ord"):
        assert len(text) == 27
        assert text.isascii() and text.isalnum()


@given(st.integers(min_value=1_400_000_000, max_value=1_400_000_000 + 2**32 - 1), st.binary(min_size=16, max_size=16))
def test_an_id_body_is_the_ksuid_of_its_time_and_random_bytes(timestamp: int, payload: bytes) -> None:
    reference = Ksuid.from_bytes((timestamp - 1_400_000_000).to_bytes(4, "big") + payload)
    assert ksuid_body(timestamp, payload) == str(reference)


def test_ids_sort_by_the_second_they_were_made() -> None:
    assert ksuid_body(1_800_000_000, b"\xff" * 16) < ksuid_body(1_800_000_001, b"\x00" * 16)
