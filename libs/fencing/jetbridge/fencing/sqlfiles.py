"""Named queries from ``sql/<dialect>.sql`` (``-- name: foo`` starts a block).

Static SQL takes bind parameters; DDL blocks hold ``{placeholders}`` that only
``quoting.render`` fills, with quoted identifiers.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jetbridge.common.sql import parse_named_queries

_SQL_DIR = Path(__file__).resolve().parent / "sql"


def parse(text: str) -> dict[str, str]:
    """``{name: sql}`` (``jetbridge.common.sql``); an empty block is a mistake here."""
    queries = parse_named_queries(text)
    empty = [name for name, sql in queries.items() if not sql]
    if empty:
        raise ValueError(f"empty queries: {empty}")
    return queries


@cache
def queries(dialect: str) -> dict[str, str]:
    return parse((_SQL_DIR / f"{dialect}.sql").read_text(encoding="utf-8"))
