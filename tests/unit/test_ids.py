from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emporium.platform.ids import is_id, new_id


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
