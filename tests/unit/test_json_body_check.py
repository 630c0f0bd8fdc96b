"""The body check's shortcut: a body `needs_document_check` lets through unwalked breaks no rule of the walk."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emporium.platform.http.input_policy import (
    MAX_JSON_DEPTH,
    _Refused,
    check_json_body,
    check_json_document,
    needs_document_check,
)

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()  # includes NUL and lone surrogates
)
_documents = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=40,
)


def _refused(document: Any) -> bool:
    try:
        check_json_document(document)
    except _Refused:
        return True
    return False


@settings(max_examples=600, deadline=None)
@given(_documents, st.booleans())
def test_a_body_the_shortcut_lets_through_breaks_no_rule(document: Any, ascii_only: bool) -> None:
    body = json.dumps(document, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    if not needs_document_check(body):
        assert not _refused(json.loads(body))


@pytest.mark.parametrize(
    "body",
    [
        b'{"name": "a\\u0000b"}',
        b'{"name": "\\ud800"}',
        '{"name": "\udc80"}'.encode("utf-8", "surrogatepass"),
        b'{"amount": 9223372036854775808}',
        b'{"amount": -9223372036854775809}',
        b'{"amount": 1e400}',
        b'{"amount": 1E19}',
        b"[" * (MAX_JSON_DEPTH + 2) + b"]" * (MAX_JSON_DEPTH + 2),
    ],
)
def test_every_kind_of_breach_is_still_refused(body: bytes) -> None:
    assert needs_document_check(body)
    with pytest.raises(_Refused) as refused:
        check_json_body(body)
    assert refused.value.status == 422 and refused.value.errors[0].field.startswith("body")


def test_an_ordinary_checkout_body_is_not_walked() -> None:
    body = json.dumps(
        {
            "lines": [{"sku": "SKU-1", "quantity": 2}],
            "customer": {"email": "ada@example.com", "name": "Ada"},
            "payment": {"provider": "sandbox", "card_token": "tok_success"},
            "shipping_amount": 490,
        }
    ).encode()
    assert not needs_document_check(body)
