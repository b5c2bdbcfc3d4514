"""Quoting and the SQL files: names are never spliced raw."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from jetbridge.fencing.quoting import (
    Quoted,
    join,
    my_account,
    my_grant_database,
    my_ident,
    my_literal,
    pg_ident,
    pg_literal,
    pg_text_array,
    render,
    sql_int,
)
from jetbridge.fencing.sqlfiles import parse, queries

REPO = Path(__file__).resolve().parents[3]


def test_postgres_quoting() -> None:
    assert pg_ident('a "b" ü') == '"a ""b"" ü"'
    assert pg_literal("it's \\ here") == "E'it''s \\\\ here'"
    with pytest.raises(ValueError):
        pg_ident("nul\x00")


def test_postgres_literals_of_a_fence_sent_as_one_query() -> None:
    """The fence's writes travel without bind parameters: every value is a literal."""
    assert pg_text_array(["a'b", "c\\"]) == "ARRAY[E'a''b', E'c\\\\']::text[]"
    assert pg_text_array([]) == "ARRAY[]::text[]"
    assert sql_int(42) == "42" and sql_int(-1) == "-1"
    for not_an_int in (True, "1; DROP TABLE x", 1.0):
        with pytest.raises(TypeError):
            sql_int(not_an_int)  # type: ignore[arg-type]


def test_mysql_quoting() -> None:
    assert my_ident("a`b c") == "`a``b c`"
    assert my_literal("it's \\") == "'it''s \\\\'"
    assert my_literal("it's \\", no_backslash_escapes=True) == "'it''s \\'"
    assert my_account("u'1", "%") == "'u''1'@'%'"
    assert my_grant_database("air_flow%") == "`air\\_flow\\%`"


def test_render_refuses_raw_strings_and_missing_placeholders() -> None:
    assert render("GRANT {a} TO {b}", a=pg_ident("x"), b=pg_ident("y")) == 'GRANT "x" TO "y"'
    with pytest.raises(TypeError):
        render("DROP ROLE {role}", role="robert'); DROP TABLE students;--")  # type: ignore[arg-type]
    with pytest.raises(KeyError):
        render("DROP ROLE {role}")
    assert join([pg_ident("a"), pg_ident("b")]) == '"a", "b"'
    with pytest.raises(TypeError):
        join(["a"])  # type: ignore[list-item]


def test_named_query_files_parse_and_placeholders_are_known() -> None:
    for dialect in ("postgresql", "mysql"):
        named = queries(dialect)
        assert named
        for sql in named.values():
            for placeholder in re.findall(r"\{([a-z_]+)\}", sql):
                assert placeholder in {
                    "role",
                    "password",
                    "data_role",
                    "data_role_literal",
                    "granted",
                    "grantee",
                    "database",
                    "owner",
                    "state",
                    "schema",
                    "account",
                    "epoch",
                    "side",
                    "deployment",
                    "databases",
                }
    with pytest.raises(ValueError, match="duplicate"):
        parse("-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;")


def test_customer_sql_in_the_docs_is_the_file_the_tests_run() -> None:
    """docs/database-fencing.md must include the customer SQL file verbatim."""
    sql = (REPO / "libs/fencing/jetbridge/fencing/sql/customer_setup_postgresql.sql").read_text()
    doc = (REPO / "docs/database-fencing.md").read_text()
    blocks = re.findall(r"```sql\n(.*?)```", doc, flags=re.DOTALL)
    assert sql in blocks, "docs/database-fencing.md's customer SQL differs from the .sql file"


def test_quoted_is_a_str() -> None:
    assert isinstance(pg_ident("x"), Quoted) and isinstance(pg_ident("x"), str)
