"""Named queries from ``sql/<dialect>.sql`` (``-- name: foo`` starts a block).

Static SQL takes bind parameters; DDL blocks hold ``{placeholders}`` that only
``quoting.render`` fills, with quoted identifiers.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

_SQL_DIR = Path(__file__).resolve().parent / "sql"
_NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$")


def parse(text: str) -> dict[str, str]:
    """``{name: sql}``; comment lines inside a block are dropped, blank edges trimmed."""
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        match = _NAME.match(line.strip())
        if match:
            if match.group(1) in blocks:
                raise ValueError(f"duplicate query name {match.group(1)!r}")
            current = blocks[match.group(1)] = []
        elif current is not None and not line.lstrip().startswith("--"):
            current.append(line)
    queries = {name: "\n".join(lines).strip() for name, lines in blocks.items()}
    empty = [name for name, sql in queries.items() if not sql]
    if empty:
        raise ValueError(f"empty queries: {empty}")
    return queries


@cache
def queries(dialect: str) -> dict[str, str]:
    return parse((_SQL_DIR / f"{dialect}.sql").read_text(encoding="utf-8"))
