"""`make demo`'s exit-when-done form on 3 Deployments: every service as its own process,
a Controlled failover started through the Console API, the end state verified on the
real clusters and database server (what CI runs)."""

from __future__ import annotations

import pytest

from tests.e2e.scenarios import run_script

VERIFIED = (
    "VERIFY PASS failover SUCCEEDED",
    "VERIFY PASS 3/3 Deployments Ready on dp-west",
    # replicas, cpu and memory as created on dp-east (spec: "applies each Deployment's
    # configuration"), read from dp-west's API server
    "VERIFY PASS 3/3 with their configuration on dp-west (replicas, cpu, memory)",
    "VERIFY PASS 3/3 Deployments gone from dp-east",
    "VERIFY PASS source role (dp-east, side A) cannot connect",
    "VERIFY PASS destination role (dp-west, side B) can connect",
    "VERIFY PASS 2 running tasks drained",
    "VERIFICATION PASSED",
    "Kafka: every service over mutual TLS",  # the services' clients on the SSL listener
)


@pytest.mark.timeout(240)
def test_demo_moves_three_deployments_and_verifies_the_end_state() -> None:
    done = run_script(  # 200 columns: one verification line per line
        "deploy/local/demo.py", "--deployments", "3", "--exit-when-done", timeout_s=230
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    for line in VERIFIED:
        assert line in out, f"missing {line!r} in:\n{out[-4000:]}"
    assert "VERIFY FAIL" not in out
    assert "FAILED" not in out.split("==> verification")[-1]
