"""Quoting identifiers and literals, and rendering DDL templates safely.

DDL (CREATE ROLE, GRANT, ALTER USER ...) cannot take bind parameters, so names must be
spliced in. They are spliced ONLY as ``Quoted`` values, which only the functions here
produce: ``render`` refuses a plain ``str``, so a raw name can never reach the SQL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


class Quoted(str):
    """A fragment already quoted for one SQL dialect."""

    __slots__ = ()


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError(f"NUL character in SQL name or literal: {value!r}")
    return value


def pg_ident(name: str) -> Quoted:
    """PostgreSQL identifier: double quotes, embedded double quotes doubled."""
    return Quoted('"' + _no_nul(name).replace('"', '""') + '"')


def pg_literal(value: str) -> Quoted:
    """PostgreSQL string literal in E'' form: correct whatever standard_conforming_strings."""
    escaped = _no_nul(value).replace("\\", "\\\\").replace("'", "''")
    return Quoted("E'" + escaped + "'")


def pg_text_array(values: Sequence[str]) -> Quoted:
    """A PostgreSQL ``text[]`` literal of string literals (``ARRAY[]::text[]`` if none)."""
    return Quoted("ARRAY[" + ", ".join(pg_literal(v) for v in values) + "]::text[]")


def sql_int(value: int) -> Quoted:
    """An integer literal; anything but an ``int`` (a bool, a numeric string) is refused."""
    if type(value) is not int:
        raise TypeError(f"an integer literal must be an int, got {type(value).__name__}")
    return Quoted(str(value))


def my_ident(name: str) -> Quoted:
    """MySQL/MariaDB identifier: backticks, embedded backticks doubled."""
    return Quoted("`" + _no_nul(name).replace("`", "``") + "`")


def my_grant_database(name: str) -> Quoted:
    """A database name in GRANT/REVOKE ... ON db.*, where ``_`` and ``%`` are wildcards:
    escaped so that the grant covers exactly this database and no look-alike."""
    escaped = _no_nul(name).replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")
    return my_ident(escaped)


def my_literal(value: str, *, no_backslash_escapes: bool = False) -> Quoted:
    """MySQL/MariaDB string literal; backslashes escaped unless NO_BACKSLASH_ESCAPES."""
    escaped = _no_nul(value)
    if not no_backslash_escapes:
        escaped = escaped.replace("\\", "\\\\")
    return Quoted("'" + escaped.replace("'", "''") + "'")


def my_account(user: str, host: str, *, no_backslash_escapes: bool = False) -> Quoted:
    """``'user'@'host'`` with both parts quoted as string literals."""
    return Quoted(
        my_literal(user, no_backslash_escapes=no_backslash_escapes)
        + "@"
        + my_literal(host, no_backslash_escapes=no_backslash_escapes)
    )


def render(template: str, **parts: Quoted) -> str:
    """Fill ``{name}`` placeholders with quoted fragments; every placeholder is required."""
    for key, value in parts.items():
        if not isinstance(value, Quoted):
            raise TypeError(f"{key} must be quoted (pg_ident, my_ident, ...), got raw str")

    def sub(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in parts:
            raise KeyError(f"no value for placeholder {{{key}}}")
        return parts[key]

    return _PLACEHOLDER.sub(sub, template)


def join(fragments: Mapping[int, Quoted] | list[Quoted] | tuple[Quoted, ...]) -> Quoted:
    """A comma-separated list of quoted fragments (e.g. several roles in one GRANT)."""
    items = list(fragments.values()) if isinstance(fragments, Mapping) else list(fragments)
    if not items or not all(isinstance(item, Quoted) for item in items):
        raise TypeError("join needs at least one Quoted fragment and nothing else")
    return Quoted(", ".join(items))
