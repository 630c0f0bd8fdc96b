"""The MongoDB adapter's pure parts: filters as MongoDB queries, the indexes a resource needs."""

from __future__ import annotations

from datetime import UTC, datetime

from emporium.modules.catalog.resources import category_resource, product_resource
from emporium.platform.crud.filters import parse_list_query
from emporium.platform.crud.mongo import mongo_filter, now, required_indexes
from emporium.platform.crud.resource import Condition, Op


def test_filters_become_one_mongodb_condition_each_and_prefixes_are_escaped_anchored_regexes() -> None:
    query = parse_list_query(
        product_resource,
        [
            ("price[gte]", "100"),
            ("price[lt]", "200"),
            ("sku[in]", "A,B"),
            ("name[prefix]", "a.b*"),
            ("status", "active"),
        ],
    )
    assert mongo_filter(query.conditions) == {
        "$and": [
            {"price_amount": {"$gte": 100}},
            {"price_amount": {"$lt": 200}},
            {"sku": {"$in": ["A", "B"]}},
            {"name": {"$regex": "^a\\.b\\*"}},
            {"active": True},
        ]
    }
    assert mongo_filter([Condition("category_id", Op.NE, "c")]) == {"$and": [{"category_id": {"$ne": "c"}}]}
    assert mongo_filter([]) == {}


def test_every_filter_and_sort_has_an_org_scoped_index_and_the_live_sku_is_unique() -> None:
    indexes = {m.document["name"]: m.document for m in required_indexes(product_resource)}
    columns = {s.column for s in product_resource.filter_specs.values()} | set(product_resource.sortable.values())
    for column in columns:
        assert list(indexes[f"ix_product_org_{column}"]["key"]) == ["org_id", column, "_id"]
    unique = indexes["uq_product_org_sku_live"]
    assert (unique["unique"], unique["partialFilterExpression"]) == (True, {"live": True})
    category = {m.document["name"] for m in required_indexes(category_resource)}
    assert category == {"ix_category_org_name", "ix_category_org_parent_id", "ix_category_org_created_at"}


def test_timestamps_are_cut_to_mongodb_precision() -> None:
    moment = now()
    assert moment.tzinfo is UTC
    assert moment.microsecond % 1000 == 0
    assert abs((datetime.now(UTC) - moment).total_seconds()) < 5
