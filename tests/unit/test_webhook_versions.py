"""Which version of an event a webhook endpoint receives, and how an event's owner keeps earlier versions renderable."""

from __future__ import annotations

from typing import ClassVar

import pytest

from emporium.modules.notifications.domain import chosen_version, renditions, unrenderable_pins
from emporium.modules.orders.events import OrderCancelled, OrderPaid
from emporium.platform.events.contracts import Event, contract_of
from emporium.platform.events.schema_docs import render_event_contracts

PAID = {
    "order_id": "ord_1",
    "order_number": 1,
    "payment_id": "pay_1",
    "customer_email": "c@example.com",
    "customer_name": None,
    "customer_phone": None,
    "currency": "EUR",
    "subtotal_minor": 900,
    "shipping_minor": 100,
    "total_minor": 1000,
    "lines": [],
}


@pytest.mark.parametrize(
    ("event_types", "expected"),
    [
        (["*"], 2),
        (["OrderPaid"], 2),
        (["OrderPaid.v2"], 2),
        (["OrderPaid.v1"], 1),
        (["OrderPaid", "OrderPaid.v1"], 2),  # unpinned wins: one delivery, the current version
        (["*", "OrderPaid.v1"], 2),
        (["OrderPaid.v1", "OrderPaid.v2"], 2),  # the newest pinned version
        (["OrderShipped", "OrderPaid.v3"], None),
        (["OrderCreated.v1"], None),
    ],
)
def test_an_endpoint_gets_one_version_of_each_event(event_types: list[str], expected: int | None) -> None:
    assert chosen_version(event_types, "OrderPaid", (2, 1)) == expected


def test_renditions_list_the_current_version_first_and_each_earlier_one_by_its_pin() -> None:
    assert renditions("OrderPaid", (2, 1)) == [(2, ["*", "OrderPaid", "OrderPaid.v2"]), (1, ["OrderPaid.v1"])]
    assert renditions("OrderShipped", (1,)) == [(1, ["*", "OrderShipped", "OrderShipped.v1"])]


def test_pins_are_checked_against_what_each_type_renders() -> None:
    catalog = {"OrderPaid": (2, 1), "OrderShipped": (1,)}
    assert unrenderable_pins(["*", "OrderPaid", "OrderPaid.v1", "OrderPaid.v2", "OrderShipped.v1"], catalog) == []
    assert unrenderable_pins(["OrderPaid.v7", "OrderShipped.v2", "Nothing.v1", "Nothing"], catalog) == [
        "OrderPaid.v7",
        "OrderShipped.v2",
        "Nothing.v1",
    ]


def test_the_owner_renders_earlier_versions_as_projections_of_the_current_payload() -> None:
    assert OrderPaid.renderable_versions() == (2, 1)
    assert OrderPaid.render(PAID, 2) == PAID
    assert OrderPaid.render(PAID, 1) == {
        "order_id": "ord_1",
        "order_number": 1,
        "payment_id": "pay_1",
        "currency": "EUR",
        "total_minor": 1000,
    }
    with pytest.raises(ValueError, match="v3"):
        OrderPaid.render(PAID, 3)
    assert OrderCancelled.renderable_versions() == (2, 1)
    assert contract_of("orders.order_paid") is OrderPaid


def test_earlier_versions_must_be_below_the_current_one_and_name_its_fields() -> None:
    with pytest.raises(TypeError, match="below the current"):

        class Ahead(Event):
            event_name: ClassVar[str] = "testpins.ahead"
            event_version: ClassVar[int] = 2
            aggregate_type: ClassVar[str] = "thing"
            aggregate_field: ClassVar[str] = "thing_id"
            earlier_versions: ClassVar[dict[int, tuple[str, ...]]] = {2: ("thing_id",)}

            thing_id: str

    with pytest.raises(TypeError, match="some of its fields"):

        class Unknown(Event):
            event_name: ClassVar[str] = "testpins.unknown"
            event_version: ClassVar[int] = 2
            aggregate_type: ClassVar[str] = "thing"
            aggregate_field: ClassVar[str] = "thing_id"
            earlier_versions: ClassVar[dict[int, tuple[str, ...]]] = {1: ("thing_id", "gone")}

            thing_id: str


def test_the_contracts_carry_a_schema_for_each_rendered_earlier_version() -> None:
    files = render_event_contracts([OrderPaid, OrderCancelled], "1")
    assert {"events/orders.order_paid.v1.json", "events/orders.order_cancelled.v1.json"} <= files.keys()
    assert "orders.order_paid.v1" not in files["asyncapi.yaml"]  # rendered for consumers, not published on the bus
