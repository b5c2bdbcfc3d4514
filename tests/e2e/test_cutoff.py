"""A data plane cut off from the control plane (bench/chaos/cutoff.py), on real processes:
Forced completes with the source's cleanup pending and finishes it when the source comes
back; Controlled, cut off while its drains wait, fails at the drain's configured timeout
without ever fencing the source it could not drain, unless a Forced request to the same
destination takes it over (superseding)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.scenarios import run_scenario


def cutoff(scenario: str, *args: str) -> dict[str, Any]:
    return run_scenario("bench/chaos/cutoff.py", scenario, *args)


@pytest.mark.timeout(600)
def test_forced_succeeds_with_cleanup_pending_and_cleans_up_when_the_source_returns() -> None:
    result = cutoff("forced")
    checks = result["checks"]
    assert checks["request_succeeded"], result
    assert checks["cleanup_while_cut_off"] == ["PENDING"], result
    assert checks["namespaces_on_source_while_cut_off"] == 3, result
    assert checks["side_a_can_connect"] == 0 and checks["side_b_can_connect"] == 3, result
    assert checks["cleanup_after_return"] == ["COMPLETED"], result
    assert checks["namespaces_on_source_after_return"] == 0, result
    assert result["unreachable_s_after_cut"] <= 11.5, result  # 10 s threshold + 1 heartbeat
    assert result["ok"], result


@pytest.mark.timeout(600)
def test_controlled_cut_off_mid_drain_fails_at_its_timeout_and_never_fences() -> None:
    result = cutoff("controlled", "--drain-timeout", "10")
    checks = result["checks"]
    assert checks["request_failed"], result
    assert checks["missions"] == ["FAILED"], result
    assert all(checks["reasons"]), result
    assert checks["destination_fence_started"] == 0, result
    assert checks["side_a_can_still_connect"] == 3, result
    # the drain's deadline: its timeout (10 s) plus the Navigator's 120 s grace
    assert 100 <= result["ended_s_after_cut"] <= 200, result
    assert result["ok"], result


@pytest.mark.timeout(600)
def test_a_forced_failover_takes_over_a_controlled_one_cut_off_mid_drain() -> None:
    """Superseding, on real processes: the source dies while every drain waits (a 600 s
    drain timeout); a Forced request to the same destination moves everything within
    seconds, the Controlled one ends CANCELLED, and the source is cleaned up on return."""
    result = cutoff("takeover", "--drain-timeout", "600")
    checks = result["checks"]
    assert checks["controlled_status"] == "CANCELLED", result
    assert checks["controlled_missions"] == ["CANCELLED"], result
    assert checks["controlled_reasons"] == ["SUPERSEDED"], result
    assert checks["forced_status"] == "SUCCEEDED", result
    assert checks["forced_warnings"] == ["SUPERSEDES_CONTROLLED_FAILOVER"], result
    assert checks["side_a_can_connect"] == 0 and checks["side_b_can_connect"] == 3, result
    assert checks["cleanup_after_return"] == ["COMPLETED"], result
    assert checks["namespaces_on_source_after_return"] == 0, result
    # the cut is seen after 10 s (UNREACHABLE); nothing waits for the drain timeout
    assert result["succeeded_s_after_cut"] < 120, result
    assert result["ok"], result
