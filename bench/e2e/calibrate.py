"""A fixed piece of pure-Python work, timed: how fast this machine runs Python now.

The same 1,000-Deployment failover took 42 to 57 CPU-seconds on this VM within an
hour (2026-12-05), the services no change touched moving as much as the rest: a
shared host's speed drifts. Each end-to-end run times this workload on the idle
machine just before its timed failover and records it, so two runs can be compared
with their machine's speed in view (the figure is in milliseconds of CPU: higher is
slower). Run alone, it prints the figure:

    .venv/bin/python bench/e2e/calibrate.py
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

# A report-like record: what the services encode, decode and fold all day.
_RECORD = {
    "flight_id": "fo-0123456789ab/dep-000123/destination",
    "mission_id": "fo-0123456789ab/dep-000123",
    "steps": ["CREATE_NAMESPACE", "APPLY_EXTERNAL_SECRETS", "FENCE_DATABASE"],
    "attempts": [1, 1, 2],
    "started_at": 1_764_900_000_000,
    "result": {"ready": True, "replicas": 3, "epoch": 7},
}


def workload(records: int = 5_000) -> int:
    """JSON round trips, a dict fold and a sort over ``records`` records."""
    folded: dict[str, dict[str, Any]] = {}
    for i in range(records):
        record = json.loads(json.dumps({**_RECORD, "flight_id": f"{i:06d}"}))
        state = folded.setdefault(record["flight_id"], {"steps": 0})
        state["steps"] += len(record["steps"])
        state["last"] = record["started_at"] + i
    return len(sorted(folded, key=lambda k: folded[k]["last"], reverse=True))


def calibrate(rounds: int = 7) -> dict[str, float]:
    """CPU milliseconds of one ``workload``: the best and the median of ``rounds``."""
    workload(500)  # warm up
    times = []
    for _ in range(rounds):
        started = time.process_time()
        workload()
        times.append(1000 * (time.process_time() - started))
    return {
        "python_ms_best": round(min(times), 1),
        "python_ms_median": round(statistics.median(times), 1),
    }


if __name__ == "__main__":
    print(calibrate())
