from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from emporium.config import SETTINGS, Config, ConfigError, load_config


def test_empty_environment_gives_the_defaults() -> None:
    assert load_config({}) == Config()


def test_declared_defaults_parse_to_the_dataclass_defaults() -> None:
    config = load_config({s.env: s.default for s in SETTINGS if s.default})
    assert config == Config()


def test_every_config_field_has_exactly_one_setting() -> None:
    declared = sorted(s.attr for s in SETTINGS)
    assert declared == sorted(f.name for f in fields(Config))
    assert len({s.env for s in SETTINGS}) == len(SETTINGS)


def test_values_are_parsed_into_their_types() -> None:
    config = load_config(
        {
            "PORT": "9001",
            "DATABASE_URL": "postgresql://u@db.internal:5432/shop",
            "DATA_DIR": "/var/lib/emporium",
            "SHUTDOWN_TIMEOUT": "2.5",
            "MIGRATE_ON_START": "no",
            "LOG_FORMAT": "JSON",
        }
    )
    assert config.port == 9001
    assert config.database_url == "postgresql://u@db.internal:5432/shop"
    assert config.data_dir == Path("/var/lib/emporium")
    assert config.shutdown_timeout == 2.5
    assert config.migrate_on_start is False
    assert config.log_format == "json"
    assert not config.uses_embedded_database


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("PORT", "abc", "an integer from 1 to 65535"),
        ("PORT", "70000", "an integer from 1 to 65535"),
        ("PORT", "0", "an integer from 1 to 65535"),
        ("WORKERS", "-1", "an integer from 1 to 64"),
        ("DATABASE_URL", "mysql://root@localhost/x", "a postgresql://"),
        ("DATABASE_URL", "postgresql:///nohost", "a postgresql://"),
        ("SHUTDOWN_TIMEOUT", "soon", "a number of seconds"),
        ("SHUTDOWN_TIMEOUT", "nan", "a number of seconds"),
        ("DB_POOL_TIMEOUT", "0", "a number of seconds"),
        ("MIGRATE_ON_START", "maybe", "one of true/false"),
        ("LOG_LEVEL", "loud", "one of debug, info, warning, error"),
        ("HOST", "has space", "a host name"),
    ],
)
def test_a_bad_value_names_the_variable_and_the_expected_form(name: str, value: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config({name: value})
    message = str(caught.value)
    assert message.startswith(f"{name}: expected {expected}")
    assert repr(value) in message
    assert "\n" not in message
