"""bench/e2e's smallest configuration as one command: 5 Deployments, the in-memory
cluster adapter, one Pilot per cluster and one Dispatcher, a Forced failover; the JSON
result has its fields, the failover SUCCEEDED and no flight step ran twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.scenarios import run_script

FIELDS = (
    "config",
    "adapter",
    "deployments",
    "mode",
    "instances",
    "status",
    "navigator_duration_s",
    "wall_s",
    "deployments_per_s_wall",
    "deployments_per_s_navigator",
    "loadavg_before",
    "loadavg_during",
    "cpu_s_by_service",
    "steps",
    "checks",
    "ok",
)


@pytest.mark.timeout(90)
def test_the_smallest_bench_run_succeeds_without_double_execution(tmp_path: Path) -> None:
    out, chart = tmp_path / "e2e.json", tmp_path / "e2e.png"
    done = run_script(
        "bench/e2e/bench_e2e.py",
        *("--adapter", "memory", "--sizes", "5", "--modes", "FORCED", "--instances", "1"),
        *("--out", str(out), "--chart", str(chart)),
        "--reuse-stack",  # the suite's stack is up (.state/stack.env)
        timeout_s=85,
    )
    log = (done.stdout + done.stderr)[-4000:]
    assert done.returncode == 0, log
    document = json.loads(out.read_text())
    assert document["machine"]["cpus"] >= 1
    (run,) = document["runs"]
    for name in FIELDS:
        assert name in run, f"{name} missing from {sorted(run)}"
    assert (run["adapter"], run["deployments"], run["instances"]) == ("memory", 5, 1)
    assert run["status"] == "SUCCEEDED" and run["ok"], log
    checks = run["checks"]
    assert checks["request_succeeded"] and checks["missions_succeeded"]
    assert checks["roles_fenced"], checks
    assert checks["no_double_execution"] and not checks["double_executions"], checks
    assert checks["flights"] >= 5 and checks["step_successes"] >= 5 * 5  # 5 destination steps
    assert run["navigator_duration_s"] > 0 and run["wall_s"] >= run["navigator_duration_s"] - 1
    assert chart.stat().st_size > 1000  # a PNG was drawn
