"""Avro binary readers compiled to Python code, one per writer schema, for speed.

fastavro's ``schemaless_reader`` interprets the schema for every datum; an audit
replay, a Navigator's recovery and every consumer decode hundreds of thousands of
records of a few dozen schemas, so it pays to turn each schema into straight-line code
once: a varint of one byte (every length under 64, every small int) takes one index and
one test, and a field the caller does not need (the envelope's producer, trace
context, ...) is skipped without building a value. ``bench/audit``'s decode-only
figure went from ~51,000 to 87,000-100,000 records per CPU-second with it, and
``EventCodec.decode`` (every service) from 23 to 9 us a record (docs/benchmarks.md).

Scope: the writer schema only (no schema resolution: callers fall back to fastavro
when the reader's version differs), logical types ignored (uuid stays a string,
timestamp-millis an int), every Avro type the event schemas use plus bytes, float and
fixed. The datum is fastavro's shape exactly (records and maps as dicts, enums as their
symbol, unions as the branch's value); ``tests/unit/common/test_compiled_reader.py``
compares the two on generated datums of every schema. Malformed input raises
``ValueError`` naming the problem (a record too short, a negative length, a union
or enum index out of range, a varint over 10 bytes), never a value made up from a
record that is too short.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

Reader = Callable[[bytes, int], tuple[dict[str, Any], int]]
Keep = Callable[[str], bool]

_PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


def without_logical_types(schema: Any) -> Any:
    """The schema with every ``logicalType`` dropped: ids stay strings, times epoch ms."""
    if isinstance(schema, dict):
        return {k: without_logical_types(v) for k, v in schema.items() if k != "logicalType"}
    if isinstance(schema, list):
        return [without_logical_types(v) for v in schema]
    return schema


def _varint(data: bytes, pos: int, first: int) -> tuple[int, int]:
    """The rest of a varint whose first byte ``first`` (continuation bit set) was read."""
    value, shift = first & 0x7F, 7
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 10 bytes")


def _too_short(pos: int, size: int) -> ValueError:
    return ValueError(f"record too short: it ends at byte {size}, its fields need {pos} or more")


def _negative(what: str, n: int) -> ValueError:
    return ValueError(f"negative {what} {n}")


class CodeEmitter:
    """Lines of a generated function, fresh local names, and the constants it uses."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.constants: dict[str, Any] = {}
        self.named: dict[str, Any] = {}  # named types, by full name, as they are met
        self._n = 0

    def fresh(self, stem: str) -> str:
        self._n += 1
        return f"{stem}{self._n}"

    def constant(self, stem: str, value: Any) -> str:
        name = self.fresh(stem)
        self.constants[name] = value
        return name

    def emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)


class _Compiler(CodeEmitter):
    """Emits the body of ``read(b, p)``; ``b`` the bytes, ``p`` the position."""

    def long(self, indent: int, target: str) -> None:
        x = self.fresh("x")
        self.emit(indent, f"{x} = b[p]; p += 1")
        self.emit(indent, f"if {x} & 128: {x}, p = _varint(b, p, {x})")
        self.emit(indent, f"{target} = ({x} >> 1) ^ -({x} & 1)")

    def length(self, indent: int, target: str, what: str) -> None:
        self.long(indent, target)
        self.emit(indent, f"if {target} < 0: raise _negative({what!r}, {target})")

    def resolve(self, schema: Any) -> Any:
        if isinstance(schema, str) and schema not in _PRIMITIVES:
            return self.named[schema]
        if isinstance(schema, dict) and schema.get("type") in _PRIMITIVES:
            return schema["type"]  # {"type": "string"} and friends (logical types dropped)
        return schema

    def read(self, schema: Any, indent: int, target: str, path: str, keep: Keep) -> None:
        """Code that leaves the value of ``schema`` in ``target`` (or skips it)."""
        schema = self.resolve(schema)
        wanted = keep(path)
        if schema == "null":
            if wanted:
                self.emit(indent, f"{target} = None")
        elif schema == "boolean":
            self.emit(indent, f"{target} = b[p] == 1; p += 1" if wanted else "p += 1")
        elif schema in ("int", "long"):
            if wanted:
                self.long(indent, target)
            else:
                self.emit(indent, "while b[p] & 128: p += 1")
                self.emit(indent, "p += 1")
        elif schema in ("float", "double"):
            size, fmt = (4, "<f") if schema == "float" else (8, "<d")
            unpack = self.fresh("unpack")
            self.constants[unpack] = struct.Struct(fmt).unpack_from
            if wanted:
                self.emit(indent, f"{target} = {unpack}(b, p)[0]")
            self.emit(indent, f"p += {size}")
        elif schema in ("string", "bytes"):
            n = self.fresh("n")
            self.length(indent, n, f"{schema} length")
            if wanted:
                value = f"b[p:p + {n}]" + (".decode()" if schema == "string" else "")
                self.emit(indent, f"{target} = {value}")
            self.emit(indent, f"p += {n}")
        elif isinstance(schema, list):
            self.union(schema, indent, target, path, keep)
        elif schema["type"] == "record":
            self.record(schema, indent, target, path, keep)
        elif schema["type"] == "enum":
            self.enum(schema, indent, target)
        elif schema["type"] == "fixed":
            self.named.setdefault(schema["name"], schema)
            if wanted:
                self.emit(indent, f"{target} = b[p:p + {schema['size']}]")
            self.emit(indent, f"p += {schema['size']}")
        elif schema["type"] in ("array", "map"):
            self.blocks(schema, indent, target, path, keep)
        else:
            raise ValueError(f"no compiled reader for Avro type {schema!r}")

    def enum(self, schema: dict[str, Any], indent: int, target: str) -> None:
        self.named.setdefault(schema["name"], schema)
        i = self.fresh("i")
        self.long(indent, i)
        symbols = self.fresh("symbols")
        self.constants[symbols] = tuple(schema["symbols"])
        self.emit(indent, f"if {i} < 0: raise _negative('enum index', {i})")
        self.emit(indent, f"if {i} >= {len(schema['symbols'])}:")
        self.emit(indent + 1, f"raise ValueError(f'enum index {{{i}}} out of range')")
        self.emit(indent, f"{target} = {symbols}[{i}]")

    def union(self, branches: list[Any], indent: int, target: str, path: str, keep: Keep) -> None:
        i = self.fresh("i")
        self.long(indent, i)
        for index, branch in enumerate(branches):
            self.emit(indent, f"{'if' if index == 0 else 'elif'} {i} == {index}:")
            before = len(self.lines)
            self.read(branch, indent + 1, target, path, keep)
            if len(self.lines) == before:
                self.emit(indent + 1, "pass")
        self.emit(indent, f"else: raise ValueError(f'union index {{{i}}} out of range')")

    def record(
        self, schema: dict[str, Any], indent: int, target: str, path: str, keep: Keep
    ) -> None:
        if "name" in schema:
            self.named.setdefault(schema["name"], schema)
        kept: list[tuple[str, str]] = []
        for f in schema["fields"]:
            name = f["name"]
            inner = f"{path}.{name}" if path else name
            local = self.fresh("f")
            self.read(f["type"], indent, local, inner, keep)
            if keep(inner):
                kept.append((name, local))
        if keep(path):
            items = ", ".join(f"{name!r}: {local}" for name, local in kept)
            self.emit(indent, f"{target} = {{{items}}}")

    def blocks(
        self, schema: dict[str, Any], indent: int, target: str, path: str, keep: Keep
    ) -> None:
        """Arrays and maps: blocks of ``count`` items, a negative count followed by a size."""
        is_map, wanted = schema["type"] == "map", keep(path)
        n, item, key = self.fresh("n"), self.fresh("item"), self.fresh("key")
        if wanted:
            self.emit(indent, f"{target} = {{}}" if is_map else f"{target} = []")
        self.emit(indent, "while True:")
        self.long(indent + 1, n)
        self.emit(indent + 1, f"if {n} == 0: break")
        self.emit(indent + 1, f"if {n} < 0:")
        self.emit(indent + 2, f"{n} = -{n}")
        self.read("long", indent + 2, self.fresh("size"), path + ".size", lambda _: False)
        self.emit(indent + 1, f"for _ in range({n}):")
        if is_map:
            self.read("string", indent + 2, key, path + ".key", lambda _: wanted)
        inner = path + ".item"
        self.read(
            schema["values" if is_map else "items"], indent + 2, item, inner, lambda _: wanted
        )
        if wanted:
            self.emit(
                indent + 2, f"{target}[{key}] = {item}" if is_map else f"{target}.append({item})"
            )


def compile_reader(schema: dict[str, Any], keep: Keep | None = None) -> Reader:
    """A reader of one parsed writer schema (a record): ``read(data, pos) -> (datum, end)``.

    ``keep(path)`` (dotted field names: ``"envelope.event_id"``) says which fields the
    datum holds; the others are skipped. By default every field is kept.
    """
    wanted = keep or (lambda _: True)
    compiler = _Compiler()
    compiler.read(schema, 1, "datum", "", lambda path: path == "" or wanted(path))
    body = "\n".join("    " + line for line in compiler.lines)
    source = (
        "def read(b, p):\n"
        "    try:\n"
        f"{body}\n"
        "    except (IndexError, _struct_error) as error:\n"
        "        raise _too_short(len(b) + 1, len(b)) from error\n"
        "    if p > len(b): raise _too_short(p, len(b))\n"
        "    return datum, p\n"
    )
    scope: dict[str, Any] = {
        "_varint": _varint,
        "_too_short": _too_short,
        "_negative": _negative,
        "_struct_error": struct.error,
        **compiler.constants,
    }
    exec(compile(source, f"<avro reader {schema.get('name', '?')}>", "exec"), scope)
    reader: Reader = scope["read"]
    return reader
