"""Event contracts: declared shape, generated documents, and consumer-driven contract checks."""

from __future__ import annotations

import json
from typing import ClassVar

import pytest
from pydantic import BaseModel

from emporium.bootstrap import bus
from emporium.bootstrap.contracts import render_module_event_contracts
from emporium.platform.db.engine import Database
from emporium.platform.events.contracts import Event, subject_of
from emporium.platform.events.schema_docs import contract_violations, render_event_contracts
from emporium.platform.events.subscriptions import Delivery, Subscription
from tests.services import ROOT
from tests.support.bus import ThingHappened, ThingHappenedV2


class Line(BaseModel):  # a nested part of a payload
    sku: str
    quantity: int


class BasketPriced(Event):
    event_name: ClassVar[str] = "testshop.basket_priced"
    event_version: ClassVar[int] = 1
    aggregate_type: ClassVar[str] = "basket"
    aggregate_field: ClassVar[str] = "basket_id"

    basket_id: str
    lines: list[Line]
    coupon: str | None = None


async def _noop(db: Database, delivery: Delivery) -> None:
    return None


def _reader(reads: dict[tuple[str, int], frozenset[str]]) -> Subscription:
    return Subscription("testmail.receipts", _noop, reads)


def test_a_malformed_contract_fails_when_the_class_is_defined() -> None:
    with pytest.raises(TypeError, match="event_name"):

        class Bad(Event):
            event_name: ClassVar[str] = "NoModule"
            aggregate_type: ClassVar[str] = "x"
            aggregate_field: ClassVar[str] = "x_id"
            x_id: str

    with pytest.raises(TypeError, match="aggregate_field"):

        class NoAggregate(Event):
            event_name: ClassVar[str] = "testshop.no_aggregate"
            aggregate_type: ClassVar[str] = "x"
            aggregate_field: ClassVar[str] = "missing"
            x_id: str


def test_subjects_follow_module_event_version() -> None:
    assert subject_of("orders.order_created", 2) == "emporium.orders.order_created.v2"
    assert ThingHappened(thing_id="t1", n=1).aggregate_id == "t1"


def test_documents_hold_a_json_schema_per_version_and_an_asyncapi_channel_per_subject() -> None:
    files = render_event_contracts([ThingHappened, ThingHappenedV2, BasketPriced], "1.2.3")
    assert sorted(files) == [
        "asyncapi.yaml",
        "events/testbus.thing_happened.v1.json",
        "events/testbus.thing_happened.v2.json",
        "events/testshop.basket_priced.v1.json",
    ]
    v2 = json.loads(files["events/testbus.thing_happened.v2.json"])
    assert v2["x-event-version"] == 2 and v2["x-aggregate-field"] == "thing_id"
    assert set(v2["required"]) == {"thing_id", "n", "label"}
    assert v2["additionalProperties"] is False
    asyncapi = files["asyncapi.yaml"]
    assert '"address": "emporium.testshop.basket_priced.v1"' in asyncapi
    assert '"$ref": "events/testbus.thing_happened.v2.json"' in asyncapi
    assert files == render_event_contracts([ThingHappened, ThingHappenedV2, BasketPriced], "1.2.3")  # stable


def test_the_same_contract_declared_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="declared twice"):
        render_event_contracts([ThingHappened, ThingHappened], "1")


def test_a_consumer_reading_provided_fields_passes_including_nested_ones() -> None:
    reader = _reader({BasketPriced.key(): frozenset({"basket_id", "lines.sku", "lines.quantity"})})
    assert contract_violations([BasketPriced], [reader]) == []


def test_a_producer_dropping_or_loosening_a_field_a_consumer_reads_breaks_the_contract() -> None:
    reader = _reader(
        {BasketPriced.key(): frozenset({"basket_id", "lines.price", "coupon"}), ThingHappened.key(): frozenset({"n"})}
    )
    problems = contract_violations([BasketPriced], [reader])
    assert problems == [
        "testmail.receipts reads testbus.thing_happened v1, which no module publishes",
        "testmail.receipts reads testshop.basket_priced v1 field 'coupon', which the contract does not provide",
        "testmail.receipts reads testshop.basket_priced v1 field 'lines.price', which the contract does not provide",
    ]


def test_a_new_version_keeps_old_readers_only_while_the_old_version_is_published() -> None:
    old_reader = _reader({ThingHappened.key(): frozenset({"thing_id", "n"})})
    assert contract_violations([ThingHappened, ThingHappenedV2], [old_reader]) == []
    assert contract_violations([ThingHappenedV2], [old_reader]) != []  # v1 retired while still read


def test_every_module_subscriber_reads_only_what_producers_provide() -> None:
    assert contract_violations(bus.event_types(), bus.subscriptions()) == []


def test_committed_event_contracts_match_the_code() -> None:
    rendered = render_module_event_contracts()
    committed = {
        str(path.relative_to(ROOT / "contracts")): path.read_text()
        for path in [*(ROOT / "contracts" / "events").glob("*.json"), ROOT / "contracts" / "asyncapi.yaml"]
        if path.exists()
    }
    assert committed == rendered, "event contracts are stale: run `make contracts` and commit them"
