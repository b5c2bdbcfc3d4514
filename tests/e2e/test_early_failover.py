"""A Controlled failover started before the database replica was promoted
(bench/chaos/early_failover.py), on real processes: the destination refuses to prepare
while the server is read-only, so the source never stops; once it is promoted, the same
request succeeds."""

from __future__ import annotations

import pytest

from tests.e2e.scenarios import run_scenario


@pytest.mark.timeout(600)
def test_a_failover_before_the_promotion_waits_without_stopping_the_source() -> None:
    result = run_scenario("bench/chaos/early_failover.py")
    checks = result["checks"]
    assert checks["destination_still_preparing"] == 2, result
    assert checks["pilot_retries_logged"] >= 2 and checks["refusal_names_the_cause"], result
    assert checks["source_stop_started_while_refused"] == 0, result
    assert checks["source_scheduler_replicas_while_refused"] == [1, 1], result
    assert checks["side_a_connects_while_refused"] == 2, result
    assert checks["status_after_promotion"] == "SUCCEEDED", result
    assert checks["side_a_connects_after"] == 0 and checks["side_b_connects_after"] == 2, result
    assert result["ok"], result
