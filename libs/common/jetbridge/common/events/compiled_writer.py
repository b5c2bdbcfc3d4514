"""Avro binary writers compiled to Python code, one per schema, that validate as they write.

``EventCodec.encode`` used to run fastavro's ``validate`` and then its
``schemaless_writer``: two walks of the schema per event, 36 us together against 6.4 us
compiled (``bench/common/bench_codec.py``). Every event is encoded once, on the path of a
decision (the Navigator) or a report (the Pilot). A compiled writer walks once, in
straight-line code, and refuses a datum by raising :class:`Unfit`; the codec then asks
fastavro to name the field that does not fit (or, should fastavro accept the datum,
writes it with fastavro: this module can only ever refuse more slowly, never differ).

Scope: the types the event schemas use (null, boolean, int, long, double, string,
enum, record, array, map, named references, and unions of ``null`` with one other
type), with the logical types ``uuid`` and ``timestamp-millis``. Any other schema
raises :class:`NotCompiled` and the codec keeps fastavro for it.

What is accepted is fastavro's ``validate`` exactly, and the bytes are its
``schemaless_writer``'s: ``tests/unit/common/test_compiled_writer.py`` checks both on
generated datums of every schema version, and on the same datums with each field
missing or replaced by values of every wrong kind.
"""

from __future__ import annotations

import array
import struct
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from numbers import Integral, Real
from typing import Any

from fastavro.logical_writers import LOGICAL_WRITERS

from jetbridge.common.events.compiled_reader import CodeEmitter

Writer = Callable[[Mapping[str, Any]], bytes]

INT_RANGE = (-(2**31), 2**31 - 1)
LONG_RANGE = (-(2**63), 2**63 - 1)
_PRIMITIVES = {"null", "boolean", "int", "long", "double", "string"}


class Unfit(ValueError):
    """The datum does not fit the schema; ``path`` names where (fastavro explains it)."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


class NotCompiled(ValueError):
    """The schema uses a type this module does not write: fastavro writes it instead."""


def _varint(out: bytearray, z: int) -> None:
    """The zig-zagged value ``z`` (>= 128; smaller ones are appended inline)."""
    while z >= 128:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)


def _integral(x: Any, low: int, high: int, path: str) -> int:
    """fastavro's int/long check for anything that is not a plain ``int``."""
    if isinstance(x, bool) or not isinstance(x, Integral) or not low <= int(x) <= high:
        raise Unfit(path)
    return int(x)


class _Compiler(CodeEmitter):
    """Emits the body of ``write(d)``: appends to the bytearray ``out``."""

    def zigzag(self, indent: int, value: str) -> None:
        z = self.fresh("z")
        self.emit(indent, f"{z} = ({value} << 1) ^ ({value} >> 63)")
        self.emit(indent, f"if {z} < 128: out.append({z})")
        self.emit(indent, f"else: _varint(out, {z})")

    def unfit(self, path: str) -> str:
        return f"raise _Unfit({path!r})"

    def write(self, schema: Any, indent: int, x: str, path: str) -> None:
        """Code that checks the value in local ``x`` against ``schema`` and writes it."""
        logical = schema.get("logicalType") if isinstance(schema, dict) else None
        if isinstance(schema, dict) and schema.get("type") in _PRIMITIVES:
            schema = schema["type"]
        if isinstance(schema, str) and schema not in _PRIMITIVES:
            if schema not in self.named:
                raise NotCompiled(f"unknown named type {schema!r}")
            schema = self.named[schema]
        if isinstance(schema, str):
            self.primitive(schema, logical, indent, x, path)
        elif isinstance(schema, list):
            self.union(schema, indent, x, path)
        elif schema.get("type") == "record":
            self.record(schema, indent, x, path)
        elif schema.get("type") == "enum":
            self.enum(schema, indent, x, path)
        elif schema.get("type") in ("array", "map"):
            self.blocks(schema, indent, x, path)
        else:
            raise NotCompiled(f"Avro type {schema!r}")

    def primitive(self, schema: str, logical: str | None, indent: int, x: str, path: str) -> None:
        if logical not in (None, "uuid", "timestamp-millis"):
            raise NotCompiled(f"logical type {logical!r}")
        if schema == "null":
            self.emit(indent, f"if {x} is not None: {self.unfit(path)}")
        elif schema == "boolean":
            self.emit(indent, f"if {x} is True: out.append(1)")
            self.emit(indent, f"elif {x} is False: out.append(0)")
            self.emit(indent, f"else: {self.unfit(path)}")
        elif schema in ("int", "long"):
            low, high = INT_RANGE if schema == "int" else LONG_RANGE
            if logical == "timestamp-millis":
                self.emit(indent, f"if isinstance({x}, _datetime): {x} = _timestamp({x}, None)")
            self.emit(indent, f"if {x}.__class__ is not int or not {low} <= {x} <= {high}:")
            self.emit(indent + 1, f"{x} = _integral({x}, {low}, {high}, {path!r})")
            self.zigzag(indent, x)
        elif schema == "double":
            pack = self.constant("pack", struct.Struct("<d").pack)
            self.emit(indent, f"if {x}.__class__ is not float:")
            self.emit(indent + 1, f"if isinstance({x}, bool) or not isinstance({x}, _Real):")
            self.emit(indent + 2, self.unfit(path))
            self.emit(indent, f"out += {pack}(float({x}))")
        else:  # string
            if logical == "uuid":
                self.emit(indent, f"if isinstance({x}, _UUID): {x} = str({x})")
            self.emit(indent, f"if not isinstance({x}, str): {self.unfit(path)}")
            encoded, n = self.fresh("s"), self.fresh("n")
            self.emit(indent, f"{encoded} = {x}.encode()")
            self.emit(indent, f"{n} = len({encoded})")
            self.zigzag(indent, n)
            self.emit(indent, f"out += {encoded}")

    def enum(self, schema: dict[str, Any], indent: int, x: str, path: str) -> None:
        self.named.setdefault(schema["name"], schema)
        index = self.constant("symbols", {s: i for i, s in enumerate(schema["symbols"])})
        i = self.fresh("i")
        self.emit(indent, f"try: {i} = {index}[{x}]")
        self.emit(indent, f"except (KeyError, TypeError): {self.unfit(path)}")
        self.zigzag(indent, i)

    def union(self, branches: list[Any], indent: int, x: str, path: str) -> None:
        """Only ``["null", T]``: None is branch 0, anything else must fit T (branch 1)."""
        if len(branches) != 2 or branches[0] != "null" or branches[1] == "null":
            raise NotCompiled(f"union {branches!r}")
        self.emit(indent, f"if {x} is None: out.append(0)")
        self.emit(indent, "else:")
        self.emit(indent + 1, "out.append(2)")
        self.write(branches[1], indent + 1, x, path)

    def record(self, schema: dict[str, Any], indent: int, x: str, path: str) -> None:
        self.named.setdefault(schema["name"], schema)
        self.emit(indent, f"if not isinstance({x}, _Mapping): {self.unfit(path)}")
        name = schema["name"]
        self.emit(indent, f"if '-type' in {x} and {x}['-type'] != {name!r}: {self.unfit(path)}")
        for field in schema["fields"]:
            value = self.fresh("v")
            default = self.constant("default", field.get("default"))
            self.emit(indent, f"{value} = {x}.get({field['name']!r}, {default})")
            inner = f"{path}.{field['name']}" if path else field["name"]
            self.write(field["type"], indent, value, inner)

    def blocks(self, schema: dict[str, Any], indent: int, x: str, path: str) -> None:
        """One block of every item (fastavro's layout), then the empty block."""
        is_map = schema["type"] == "map"
        if is_map:
            self.emit(indent, f"if not isinstance({x}, _Mapping): {self.unfit(path)}")
        else:
            self.emit(indent, f"if not isinstance({x}, _Sequence) or isinstance({x}, str):")
            self.emit(indent + 1, self.unfit(path))
        n, item = self.fresh("n"), self.fresh("item")
        self.emit(indent, f"{n} = len({x})")
        self.emit(indent, f"if {n}:")
        self.zigzag(indent + 1, n)
        if is_map:
            key = self.fresh("key")
            self.emit(indent + 1, f"for {key}, {item} in {x}.items():")
            self.write("string", indent + 2, key, path + ".key")
            self.write(schema["values"], indent + 2, item, path)
        else:
            self.emit(indent + 1, f"for {item} in {x}:")
            self.write(schema["items"], indent + 2, item, path)
        self.emit(indent, "out.append(0)")


def compile_writer(schema: dict[str, Any]) -> Writer:
    """A writer of one parsed schema (a record): ``write(datum) -> bytes``.

    Raises :class:`NotCompiled` for a schema outside this module's scope.
    """
    if schema.get("type") != "record":
        raise NotCompiled("only records are compiled")
    compiler = _Compiler()
    compiler.write(schema, 1, "d", "")
    body = "\n".join(compiler.lines)
    source = f"def write(d):\n    out = bytearray()\n{body}\n    return bytes(out)\n"
    scope: dict[str, Any] = {
        "_varint": _varint,
        "_integral": _integral,
        "_Unfit": Unfit,
        "_Mapping": Mapping,
        "_Sequence": (Sequence, array.array),
        "_Real": Real,
        "_UUID": uuid.UUID,
        "_datetime": datetime,
        "_timestamp": LOGICAL_WRITERS["long-timestamp-millis"],  # fastavro's own
        **compiler.constants,
    }
    exec(compile(source, f"<avro writer {schema.get('name', '?')}>", "exec"), scope)
    writer: Writer = scope["write"]
    return writer
