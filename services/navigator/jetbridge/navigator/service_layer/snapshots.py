"""The Navigator's state as of a store position, so a restart folds only what came after.

Why: recovery folded the whole store, about 1.3 s per failover of 1,000 Deployments
behind it (docs/benchmarks.md, "A Navigator's start"), unbounded, while the store must
keep every event for the auditors. A snapshot holds what recovery would rebuild:

- the fleet (every aggregate) as the domain folded it;
- the newest :data:`RECENT_IDS` folded event ids, so a late repeat of one of them is
  still dropped (the dedupe held the ids of the whole store before; a repeat older than
  this window is folded again, and the domain ignores or refuses a stale outcome);
- each running Mission's root span, so its later decisions stay in its trace.

The Reactor is not kept: ``Reactor(fleet)`` marks every request and mission to be asked,
which is where a full recovery leaves it too (nothing is asked while recovering).

The state is a pickle, which is why it is signed with the ledger key
(``PostgresEventStore.save_snapshot``) and only read back if it verifies, and why its
:data:`KIND` names the domain code that wrote it: a snapshot of other code (an upgrade)
is not read, and the store is folded whole, as before.
"""

from __future__ import annotations

import hashlib
import pickle
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from jetbridge.navigator import domain
from jetbridge.navigator.domain.fleet import Fleet

RECENT_IDS = 200_000
_PROTOCOL = 5


def _code_fingerprint() -> str:
    """What the pickled classes are: every source file of the domain package (its
    compiled files in an install that ships no sources; neither is an error, as the
    fingerprint would then tell no code from any other)."""
    digest = hashlib.sha256()
    root = Path(domain.__file__).resolve().parent
    files = sorted(root.rglob("*.py")) or sorted(root.rglob("*.pyc"))
    if not files:
        raise RuntimeError(f"no domain code found under {root} to fingerprint snapshots")
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


KIND = f"navigator-fleet/{_code_fingerprint()}/py{sys.version_info[0]}.{sys.version_info[1]}"


@runtime_checkable
class SnapshotStore(Protocol):
    async def last_position(self) -> int: ...

    async def save_snapshot(self, kind: str, position: int, state: bytes) -> None: ...

    async def latest_snapshot(self, kind: str) -> tuple[int, bytes] | None: ...


def dump(fleet: Fleet, recent_ids: list[str], roots: Mapping[str, tuple[int, int, int]]) -> bytes:
    state = {"fleet": fleet, "recent_ids": recent_ids, "roots": dict(roots)}
    return pickle.dumps(state, protocol=_PROTOCOL)


def load(blob: bytes) -> dict[str, Any]:
    """Only ever called on a state whose signature verified (see the module docstring)."""
    state = pickle.loads(blob)  # signed with the ledger key, and verified before this
    if not isinstance(state, dict) or not isinstance(state.get("fleet"), Fleet):
        raise ValueError("not a Navigator snapshot")
    return state
