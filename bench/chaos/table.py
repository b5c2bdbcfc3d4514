"""Print a chaos series (the ``--out`` file of ``chaos.py``) as docs/reliability.md's table.

    .venv/bin/python bench/chaos/table.py bench/results/chaos-20-series9.json

One row per run, then the faults of the whole series by target, so the figures in the
docs are pasted from the committed results, not typed.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

HEADER = (
    "| seed | mode | faults | during | PostgreSQL restart, s | broker restart, s | "
    "failover, s | run, s | exits restarted by the supervisor | A / B wrote | result |"
)


def restart_took(run: dict[str, Any], what: str) -> str:
    took = [f["took_s"] for f in run.get("faults") or [] if f["what"] == what]
    return ", ".join(f"{t:g}" for t in took) or "-"


def failed_checks(checks: dict[str, Any]) -> list[str]:
    bad = [name for name in ("succeeded", "read_model_equals_replay") if not checks.get(name)]
    bad += [
        name
        for name in (
            "mission_failures",
            "cleanup_not_settled",
            "duplicated_effects",
            "split_brain",
            "secrets_leaked",
        )
        if checks.get(name)
    ]
    bad += [
        f"unpublished {k}" for k, v in (checks.get("unpublished_outbox_rows") or {}).items() if v
    ]
    return bad


def row(run: dict[str, Any]) -> str:
    probe = run.get("probe_writes") or {}
    checks = run.get("checks") or {}
    if run.get("ok"):
        result = "**all held**"
    elif "error" in run:  # the run broke before its checks
        result = f"**FAILED**: {run['error']}"
    else:
        result = "**FAILED**: " + ", ".join(failed_checks(checks))
    cells = [
        str(run["seed"]),
        run["mode"].capitalize(),
        str(len(run.get("faults") or [])),
        str(sum(1 for f in run.get("faults") or [] if f.get("during"))),
        restart_took(run, "postgres"),
        restart_took(run, "kafka"),
        f"{run.get('failover_s', '-')}",
        f"{run.get('run_s', '-')}",
        str(len(run.get("crashed_and_restarted") or [])),
        f"{probe.get('A wrote', 0):,} / {probe.get('B wrote', 0):,}",
        result,
    ]
    return "| " + " | ".join(cells) + " |"


def main(path: str) -> None:
    runs = json.loads(Path(path).read_text())
    print(HEADER)
    print("|" + "---|" * (HEADER.count("|") - 1))
    for run in runs:
        print(row(run))
    by_target = Counter(f["what"] for run in runs for f in run.get("faults") or [])
    passed = sum(1 for run in runs if run.get("ok"))
    print(
        f"\n{len(runs)} runs, {passed} passed; {sum(by_target.values())} faults: "
        + ", ".join(f"{what} {n}" for what, n in sorted(by_target.items()))
    )


if __name__ == "__main__":
    main(sys.argv[1])
