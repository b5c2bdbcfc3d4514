"""The SQL files and loaders: pure parsing, no server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from jetbridge.flightdeck import codec
from jetbridge.flightdeck.models import step_results_from_json
from jetbridge.flightdeck.mysql import mysql_connect_kwargs
from jetbridge.flightdeck.queries import (
    load_migrations,
    load_queries,
    parse_named_queries,
    split_statements,
)

PACKAGE = Path(codec.__file__).parent


def test_named_queries_split_on_name_markers() -> None:
    text = "-- header\n-- name: one\n-- doc\nSELECT 1;\n\n-- name: two\nSELECT\n  2;\n"
    assert parse_named_queries(text) == {"one": "SELECT 1", "two": "SELECT\n  2"}


def test_duplicate_query_names_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        parse_named_queries("-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;\n")


@pytest.mark.parametrize("dialect", ["postgresql", "mysql"])
def test_every_query_an_adapter_names_exists(dialect: str) -> None:
    source = (PACKAGE / f"{dialect}.py").read_text()
    used = set(re.findall(r'self\._q\["([a-z_]+)"\]', source))
    assert used, "adapter uses named queries"
    assert used <= set(load_queries(dialect)), used - set(load_queries(dialect))


def test_both_dialects_have_the_same_migration_versions() -> None:
    pg = [(m.version, m.name) for m in load_migrations("postgresql")]
    my = [(m.version, m.name) for m in load_migrations("mysql")]
    assert pg == my
    assert pg[0] == (1, "dp_flights")


def test_mysql_migration_splits_into_create_statements() -> None:
    migration, clearances, traceparent, finished, active = load_migrations("mysql")
    statements = split_statements(migration.sql)
    assert [s.split("(")[0].split()[-1] for s in statements] == [
        "`dp_flights`",
        "`dp_flight_outbox`",
    ]
    assert all(s.startswith("CREATE TABLE IF NOT EXISTS") for s in statements)
    # 0002: the re-runnable CREATE first, then ONE atomic ALTER (last, see its header).
    create, alter = split_statements(clearances.sql)
    assert create.startswith("CREATE TABLE IF NOT EXISTS `dp_flight_clearances`")
    assert alter.startswith("ALTER TABLE `dp_flights`") and "`claimable`" in alter
    # 0003: one atomic ALTER adding the column the Pilot continues the trace from.
    (add,) = split_statements(traceparent.sql)
    assert add.startswith("ALTER TABLE `dp_flights` ADD COLUMN `traceparent`")
    # 0004: one ALTER adding the index retention deletes by, oldest first.
    (add_key,) = split_statements(finished.sql)
    assert add_key.startswith("ALTER TABLE `dp_flights` ADD KEY `dp_flights_finished_idx`")
    # 0005: nothing on MySQL (its `state`-first key already serves the depth count).
    assert split_statements(active.sql) == []


def test_mysql_dsn_is_parsed_with_escapes() -> None:
    assert mysql_connect_kwargs("mysql://root:p%40ss@10.0.0.1:13306/fd") == {
        "host": "10.0.0.1",
        "port": 13306,
        "user": "root",
        "password": "p@ss",
        "database": "fd",
    }
    assert "database" not in mysql_connect_kwargs("mysql://root:x@127.0.0.1:3306/")
    with pytest.raises(ValueError):
        mysql_connect_kwargs("postgresql://x@y/z")


def test_headers_round_trip_arbitrary_bytes() -> None:
    headers = [("a", b"\x00\xff"), ("b", b""), ("a", b"dup")]
    assert codec.decode_headers(codec.encode_headers(headers)) == headers


def test_step_results_keys_become_ints() -> None:
    assert step_results_from_json({"0": {"ok": True}, "10": None}) == {0: {"ok": True}, 10: None}
    assert step_results_from_json(None) == {}
