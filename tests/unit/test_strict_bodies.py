"""Request bodies are strict, except that an integral JSON number is an integer (decision 016)."""

from __future__ import annotations

import copy

import pytest
from pydantic import ValidationError

from emporium.platform.http.schemas import Body


class Line(Body):
    sku: str
    quantity: int


class Order(Body):
    lines: list[Line]
    shipping_amount: int
    metadata: dict[str, object]


def test_an_integral_number_is_an_integer_at_any_depth() -> None:
    order = Order.model_validate(
        {"lines": [{"sku": "A", "quantity": 2.0}], "shipping_amount": 490.0, "metadata": {"n": [1.0, 2.5]}}
    )

    assert order.lines[0].quantity == 2 and type(order.lines[0].quantity) is int
    assert type(order.shipping_amount) is int
    assert order.metadata == {"n": [1, 2.5]} and type(order.metadata["n"][0]) is int  # type: ignore[index]


@pytest.mark.parametrize("quantity", [2.5, "2", True, 1e30])
def test_a_fraction_a_string_a_boolean_or_a_huge_number_is_refused(quantity: object) -> None:
    with pytest.raises(ValidationError) as refused:
        Order.model_validate({"lines": [{"sku": "A", "quantity": quantity}], "shipping_amount": 0, "metadata": {}})

    assert refused.value.errors()[0]["loc"][:3] == ("lines", 0, "quantity")


def test_the_caller_s_data_is_not_changed() -> None:
    data = {"lines": [{"sku": "A", "quantity": 2.0}], "shipping_amount": 1.0, "metadata": {"n": 3.0}}
    sent = copy.deepcopy(data)

    Order.model_validate(data)

    assert data == sent and type(data["shipping_amount"]) is float
    assert type(data["lines"][0]["quantity"]) is float  # type: ignore[index]
