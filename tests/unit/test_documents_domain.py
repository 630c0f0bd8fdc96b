"""Documents' pure rules: the state machine, the storage key, numbers and amounts, and the PDF's text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emporium.modules.documents.domain import (
    TRANSITIONS,
    Content,
    Document,
    DocumentKind,
    DocumentState,
    Line,
    check_transition,
    display_number,
    format_amount,
    storage_key,
)
from emporium.modules.documents.providers.pdf import latin1, render_pdf
from emporium.platform.errors import InvalidTransition
from tests.support.documents import pdf_text

S = DocumentState


def test_the_lifecycle_moves_forward_only() -> None:
    for current, target in [(S.REQUESTED, S.RENDERING), (S.RENDERING, S.STORED), (S.STORED, S.VOIDED)]:
        check_transition(current, target)
    check_transition(S.RENDERING, S.RENDERING)  # a render retried after a crash
    for current, target in [
        (S.REQUESTED, S.STORED),  # never stored without rendering
        (S.STORED, S.RENDERING),
        (S.STORED, S.REQUESTED),
        (S.VOIDED, S.STORED),
        (S.VOIDED, S.REQUESTED),
    ]:
        with pytest.raises(InvalidTransition) as refused:
            check_transition(current, target)
        assert refused.value.extensions == {"current_state": current.value, "target_state": target.value}


@given(st.lists(st.sampled_from(list(DocumentState)), max_size=8))
def test_every_path_through_the_table_never_leaves_voided(path: list[DocumentState]) -> None:
    state = S.REQUESTED
    for target in path:
        if target in TRANSITIONS[state]:
            check_transition(state, target)
            assert state is not S.VOIDED
            state = target
        else:
            with pytest.raises(InvalidTransition):
                check_transition(state, target)


def test_the_storage_key_is_derived_from_org_month_kind_and_number_in_utc() -> None:
    late_in_berlin = datetime(2027, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1)))  # still 2026-12 in UTC
    assert storage_key("org_1", late_in_berlin, DocumentKind.CREDIT_NOTE, 7) == "org_1/2026/12/credit_note/7.pdf"
    assert (
        storage_key("org_1", datetime(2026, 3, 5, tzinfo=UTC), DocumentKind.INVOICE, 12)
        == "org_1/2026/03/invoice/12.pdf"
    )
    for bad in [("org_1", 0), ("a/b", 1), ("", 1)]:
        with pytest.raises(ValueError):
            storage_key(bad[0], late_in_berlin, DocumentKind.INVOICE, bad[1])
    with pytest.raises(ValueError):
        storage_key("org_1", datetime(2026, 1, 1), DocumentKind.INVOICE, 1)  # naive: which month?


def test_numbers_and_amounts_as_printed() -> None:
    assert display_number(DocumentKind.INVOICE, 42) == "INV-000042"
    assert display_number(DocumentKind.PACKING_SLIP, 1_234_567) == "PCK-1234567"
    assert format_amount(123_456, "EUR") == "1234.56 EUR"
    assert format_amount(1200, "JPY") == "1200 JPY"  # exponent 0
    assert format_amount(1500, "KWD") == "1.500 KWD"  # exponent 3
    assert format_amount(-5, "USD") == "-0.05 USD"


def test_text_outside_latin1_is_folded_not_dropped() -> None:
    assert latin1("Dvořák, Łódź, 5 €") == "Dvorák, ?ódz, 5 ?"


def test_the_rendered_pdf_shows_number_lines_and_totals_escaped() -> None:
    content = Content(
        order_number=1042, currency="EUR", customer_email="ada@example.com", customer_name="Ada <script>",
        lines=(Line("SHIRT-1", "Shirt <b>bold</b>", 2, 1500, 3000), Line("MUG-1", "Mug", 1, 799, 799)),
        subtotal_minor=3799, shipping_minor=490, total_minor=4289, refunded_minor=799, total_refunded_minor=799,
    )  # fmt: skip
    doc = Document(
        "doc_1", "org_1", DocumentKind.CREDIT_NOTE, 3, "ord_1", S.RENDERING, datetime(2026, 12, 7, tzinfo=UTC), content
    )
    body = render_pdf(doc)
    assert render_pdf(doc) == body  # deterministic: a retried render writes the same bytes
    text = pdf_text(body)
    expectations = [
        "Credit note CRN-000003",
        "Order #1042",
        "SHIRT-1",
        "Shirt <b>bold</b>",
        "30.00 EUR",
        "7.99 EUR",
        "Subtotal: 37.99 EUR",
        "Shipping: 4.90 EUR",
        "Total: 42.89 EUR",
        "Refunded: 7.99 EUR",
    ]
    for expected in expectations:
        assert expected in text, (expected, text)
