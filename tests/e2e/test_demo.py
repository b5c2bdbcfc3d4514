"""`make demo`'s exit-when-done form on 3 Deployments: every service as its own process,
a Controlled failover started through the Console API, the end state verified on the
real clusters and database server (what CI runs)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

VERIFIED = (
    "VERIFY PASS failover SUCCEEDED",
    "VERIFY PASS 3/3 Deployments Ready on dp-west",
    "VERIFY PASS 3/3 Deployments gone from dp-east",
    "VERIFY PASS source role (dp-east, side A) cannot connect",
    "VERIFY PASS destination role (dp-west, side B) can connect",
    "VERIFY PASS 2 running tasks drained",
    "VERIFICATION PASSED",
)


@pytest.mark.timeout(240)
def test_demo_moves_three_deployments_and_verifies_the_end_state() -> None:
    done = subprocess.run(
        [sys.executable, "deploy/local/demo.py", "--deployments", "3", "--exit-when-done"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=230,
        check=False,
        env=os.environ | {"COLUMNS": "200"},  # one verification line per line
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    for line in VERIFIED:
        assert line in out, f"missing {line!r} in:\n{out[-4000:]}"
    assert "VERIFY FAIL" not in out
    assert "FAILED" not in out.split("==> verification")[-1]
