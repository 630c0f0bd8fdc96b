from __future__ import annotations

from emporium.platform.http.problems import validation_errors


def test_validation_error_locations_become_field_paths() -> None:
    errors = validation_errors(
        [
            {"loc": ("body", "lines", 0, "quantity"), "type": "greater_than", "msg": "Input should be greater than 0"},
            {"loc": ("query", "limit"), "type": "int_parsing", "msg": "Input should be a valid integer"},
            {"loc": ("body",), "type": "json_invalid", "msg": "JSON decode error"},
        ]
    )
    assert [(e.field, e.rule) for e in errors] == [
        ("lines[0].quantity", "greater_than"),
        ("query.limit", "int_parsing"),
        ("body", "json_invalid"),
    ]
