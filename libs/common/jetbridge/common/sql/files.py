"""Loading SQL from files: named queries and versioned migrations.

SQL stays in ``.sql`` files so it can be read, linted and diffed as SQL; in a queries
file, ``-- name: foo`` starts the block that ``load_queries(path)["foo"]`` returns.
Migrations are ``NNNN_what.sql`` files applied in version order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

_NAME = re.compile(r"^--\s*name:\s*([A-Za-z_][A-Za-z0-9_]*)\s*$")
_MIGRATION = re.compile(r"^(\d{4})_([A-Za-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def parse_named_queries(text: str) -> dict[str, str]:
    """Split a file into ``{name: sql}``; comment lines inside a block are dropped."""
    queries: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        match = _NAME.match(line.strip())
        if match:
            name = match.group(1)
            if name in queries:
                raise ValueError(f"duplicate query name {name!r}")
            current = queries[name] = []
        elif current is not None and not line.lstrip().startswith("--"):
            current.append(line)
    return {name: "\n".join(lines).strip().rstrip(";") for name, lines in queries.items()}


@cache
def load_queries(path: Path) -> dict[str, str]:
    return parse_named_queries(path.read_text())


@cache
def load_migrations(directory: Path) -> tuple[Migration, ...]:
    """Migrations of one folder in version order; versions must be unique."""
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _MIGRATION.match(path.name)
        if not match:
            raise ValueError(f"bad migration file name {path.name!r} (want NNNN_name.sql)")
        found.append(Migration(int(match.group(1)), match.group(2), path.read_text()))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"duplicate migration versions in {directory}: {versions}")
    if not found:
        raise FileNotFoundError(f"no migrations in {directory}")
    return tuple(found)


def split_statements(sql: str) -> list[str]:
    """Statements of a migration for drivers that run one at a time (MySQL).

    Our migrations end each statement with ``;`` at the end of a line and never put
    ``;`` at a line end inside literals, which keeps this split correct.
    """
    statements: list[str] = []
    buf: list[str] = []
    for line in sql.splitlines():
        if line.lstrip().startswith("--") and not buf:
            continue
        buf.append(line)
        if line.rstrip().endswith(";"):
            statement = "\n".join(buf).strip().rstrip(";").strip()
            if statement:
                statements.append(statement)
            buf = []
    tail = "\n".join(buf).strip()
    if tail:
        statements.append(tail)
    return statements
