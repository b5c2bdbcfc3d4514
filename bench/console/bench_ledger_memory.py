"""What a Console holds in memory as the ledger grows, with and without its audit window.

Why: every Console replica folds the whole ledger (``jetbridge.failover.events``, kept
for ever) into its read model. The fleet it folds grows with the history, and until
2026-12-07 so did the audit trail it serves (one entry per event). This measures both,
and the CPU of the fold, on a realistic ledger: the in-process decision loop of
``bench_navigator.py`` (1,000 Deployments by default, ``rounds`` Controlled failovers
east -> west each with a Forced failback), each event encoded and decoded as the
Console's follower does.

For each ``--kept`` (audit entries held; 0 = all, the old behaviour) one pass is timed
(process CPU, no tracing) and one measured with ``tracemalloc``: the bytes the read
model holds after the fold, and of them the entries' (the bytes freed when they are
dropped). No broker: the follower's Kafka reads are not what is measured.

    PYTHONPATH=. .venv/bin/python bench/console/bench_ledger_memory.py --rounds 1 3 \
        --kept 0 100000 --out bench/results/console-ledger-memory.json
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
import tracemalloc
from pathlib import Path
from typing import Any

from bench.common.results import header, publish
from bench.navigator.bench_navigator import run as decide
from jetbridge.common.events import EventCodec, default_registry
from jetbridge.console.adapters.ledger import LedgerReadModel
from jetbridge.console.domain.audit import RecentEntries
from jetbridge.navigator.adapters.event_mapping import EventMapper

ALL = 10**12  # --kept 0: hold every entry


def fold(values: list[bytes], kept: int) -> LedgerReadModel:
    codec = EventCodec()
    model = LedgerReadModel(EventMapper(default_registry(), producer="bench"), lambda: 0, "", kept)
    for offset, value in enumerate(values):
        model.ingest(codec.decode(value), 0, offset)
    return model


def timed(values: list[bytes], kept: int) -> dict[str, Any]:
    gc.collect()
    cpu = time.process_time()
    model = fold(values, kept)
    return {"fold_cpu_s": round(time.process_time() - cpu, 2), "last_seq": model.last_seq()}


def measured(values: list[bytes], kept: int) -> dict[str, Any]:
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        model = fold(values, kept)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - base
        entries = len(model.entries)
        model.entries = RecentEntries(1)
        gc.collect()
        without_entries = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    return {
        "entries_held": entries,
        "held_mib": round(held / 2**20, 1),
        "entries_mib": round((held - without_entries) / 2**20, 1),
        "rest_mib": round(without_entries / 2**20, 1),
        "bytes_per_entry": round((held - without_entries) / max(entries, 1)),
    }


async def one(deployments: int, rounds: int, kept_values: list[int]) -> list[dict[str, Any]]:
    made = await decide(deployments, False, True, rounds)
    codec = EventCodec()
    values = [codec.encode(e) for e in made["log"].events]
    del made
    runs = []
    for kept in kept_values:
        held = kept or ALL
        runs.append(
            {
                "deployments": deployments,
                "failovers": 2 * rounds,
                "events": len(values),
                "kept": kept or "all",
                **timed(values, held),
                **measured(values, held),
            }
        )
    return runs


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deployments", type=int, default=1000)
    parser.add_argument("--rounds", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--kept", type=int, nargs="+", default=[0, 100_000])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = header("console ledger memory")
    result["runs"] = [
        run for rounds in args.rounds for run in await one(args.deployments, rounds, args.kept)
    ]
    publish(result, args.out)


if __name__ == "__main__":
    asyncio.run(main())
