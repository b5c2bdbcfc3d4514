"""Print the runs of a ``bench_e2e.py`` results file as the Markdown table the docs use.

    .venv/bin/python bench/e2e/table.py bench/results/e2e.json

So the figures in docs/benchmarks.md are pasted from the committed results, not typed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

COLUMNS = (
    "adapter | Deployments | mode | Pilots + Dispatchers | status | wall (s) | Deployments/s "
    "(wall) | provisioning (s) | load before / max during | service CPU (s) | CPU ms per "
    "Deployment | PostgreSQL / Kafka / kube CPU (s) | machine busy (cores) | "
    "FENCE_DATABASE p50 (s) | mission p50 / max (s) | double executions | started (UTC)"
)


def row(run: dict[str, Any]) -> str:
    cpu = sum((run.get("cpu_s_by_service") or {}).values())
    fence = (run.get("steps") or {}).get("DESTINATION/FENCE_DATABASE", {}).get("p50_s")
    missions = run.get("missions") or {}
    checks = run.get("checks") or {}
    doubles = checks.get("double_executions")
    stack = run.get("cpu_s_stack") or {}  # runs before 2026-12-02 23:00 have none
    wall = run.get("wall_s")
    busy = stack["machine"] / wall if "machine" in stack and wall else None
    cells = [
        run["adapter"],
        f"{run['deployments']:,}",
        run["mode"].capitalize(),
        str(run["instances"]),
        _status(run, checks),
        _num(run.get("wall_s")),
        _num(run.get("deployments_per_s_wall")),
        _num(run.get("provisioning_s")),
        f"{run['loadavg_before'][0]:.1f} / {(run.get('loadavg_during') or {}).get('max', 0):.1f}",
        f"{cpu:.1f}",
        f"{1000 * cpu / run['deployments']:.0f}",
        f"{_num(stack.get('postgres15'))} / {_num(stack.get('kafka'))} / {_num(stack.get('kube'))}",
        "-" if busy is None else f"{busy:.2f}",
        _num(fence),
        f"{_num(missions.get('mission_p50_s'))} / {_num(missions.get('mission_max_s'))}",
        _doubles(doubles, checks.get("reruns_after_lost_lease")),
        run["started_at"][11:16],
    ]
    return "| " + " | ".join(cells) + " |"


CHECKS = (
    "request_succeeded",
    "missions_succeeded",
    "no_double_execution",
    "end_state_verified",
    "roles_fenced",
)


def _status(run: dict[str, Any], checks: dict[str, Any]) -> str:
    """The request's status, and which of the run's checks failed if any did."""
    failed = [name for name in CHECKS if name in checks and not checks[name]]
    status = str(run.get("status", "-"))
    return f"{status}, failed: {', '.join(failed)}" if failed else status


def _doubles(doubles: list[str] | None, reruns: int | None) -> str:
    """``none``, the offending steps, and the re-runs after a lost lease (not doubles)."""
    text = "none" if doubles == [] else str(doubles if doubles is not None else "-")
    return f"{text} ({reruns} re-run under a new claim)" if reruns else text


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def main(path: str) -> None:
    doc = json.loads(Path(path).read_text())
    runs = doc["runs"] if isinstance(doc, dict) else doc
    print("| " + COLUMNS + " |")
    print("|" + "---|" * len(COLUMNS.split(" | ")))
    for run in runs:
        print(row(run))


if __name__ == "__main__":
    main(sys.argv[1])
