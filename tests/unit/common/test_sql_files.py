from __future__ import annotations

from pathlib import Path

import pytest

from jetbridge.common.sql import load_migrations, parse_named_queries, split_statements

TEXT = """
-- name: first
-- a comment inside the block is dropped
SELECT 1;

-- name: second
UPDATE t SET a = 1
WHERE b = 2;
"""


def test_named_queries_are_split_by_name() -> None:
    assert parse_named_queries(TEXT) == {
        "first": "SELECT 1",
        "second": "UPDATE t SET a = 1\nWHERE b = 2",
    }


def test_duplicate_query_names_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicate query name 'first'"):
        parse_named_queries(TEXT + "\n-- name: first\nSELECT 2;")


def test_statements_split_at_line_ends() -> None:
    assert split_statements("-- c\nCREATE TABLE a (x int);\nINSERT INTO a VALUES (1);\n") == [
        "CREATE TABLE a (x int)",
        "INSERT INTO a VALUES (1)",
    ]


def test_migrations_load_in_order_and_bad_names_are_refused(tmp_path: Path) -> None:
    (tmp_path / "0002_more.sql").write_text("B;")
    (tmp_path / "0001_first.sql").write_text("A;")
    assert [m.version for m in load_migrations(tmp_path)] == [1, 2]
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "first.sql").write_text("A;")
    with pytest.raises(ValueError, match=r"NNNN_name\.sql"):
        load_migrations(bad)
