"""bench/e2e's smallest configuration as one command: 5 Deployments, the in-memory
cluster adapter, one Pilot per cluster and one Dispatcher, a Forced failover; the JSON
result has its fields, the failover SUCCEEDED and no flight step ran twice."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.scenarios import ROOT, run_script

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
    assert checks["cleanup_s"] is not None, checks  # so every flight's claim is counted
    assert checks["roles_fenced"], checks
    assert checks["no_double_execution"] and not checks["double_executions"], checks
    assert checks["flights"] >= 5 and checks["step_successes"] >= 5 * 5  # 5 destination steps
    assert run["navigator_duration_s"] > 0 and run["wall_s"] >= run["navigator_duration_s"] - 1
    assert chart.stat().st_size > 1000  # a PNG was drawn
    # each flight went over with its first clearance, in batch calls and Flightdeck
    # batches, read from /metrics (a source clean-up's hand-over may come after the
    # request ended, and the scrape, so at most one item a flight is all that is
    # certain); a Forced plan has no second clearance, so no ClearSteps and no read of
    # a stored plan unless a step was retried
    batches = run["batches"]
    for kind in (
        "jetbridge_dispatch_batch_items StartFlights",
        "jetbridge_agent_flightdeck_batch_items admit",
        "jetbridge_agent_flightdeck_batch_items clear_many",
    ):
        assert 1 <= batches[kind]["items"] <= checks["flights"], (kind, batches)
        assert batches[kind]["items_per_call"] >= 1, (kind, batches)
    if checks["retried_attempts"] == 0:
        assert "jetbridge_dispatch_batch_items ClearStepsBatch" not in batches, batches
    # every destination step's result went through the Pilots' record_many (5 a flight)
    results = batches["jetbridge_pilot_flightdeck_batch_items record_many"]
    assert results["items"] >= 5 * 5 and results["items_per_call"] >= 1, batches
    assert run["calibration"]["python_ms_best"] > 0
    assert run["server_databases_before"] >= 1  # the maintenance database at least
    assert run["cpu_s_stack"]["machine_steal"] >= 0


@pytest.mark.timeout(90)
def test_the_kafka_floor_bench_moves_every_record_of_a_small_failover(tmp_path: Path) -> None:
    out = tmp_path / "floor.json"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "bench.kafka.bench_transport_floor"),
            *("--deployments", "5", "--readers", "2", "--tls", "--out", str(out)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=85,
        check=False,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    (run,) = json.loads(out.read_text())
    records = run["records"]
    # Forced: per Deployment one MissionSucceeded on the log, 5 steps answered + the fence
    assert records["log_per_deployment"]["MissionSucceeded"] == 1.0
    assert records["reports_per_deployment"]["FlightStepSucceeded"] == 5.0
    assert records["reports"] == 5 * 14
    assert records["handled"] == records["log"] * 3 + records["reports"] * 2
    assert set(run["phases"]) == {"produce", "read log (1)", "read log (2)", "read reports"}
    assert run["tls"] and run["decode"] and run["total_cpu_s"]["client"] > 0
