"""Malformed records on every event topic in mid-failover (bench/chaos/poison.py): each
consumer group that reads a topic dead-letters them unchanged and goes on; the failover
still succeeds and no service exits."""

from __future__ import annotations

import pytest

from tests.e2e.scenarios import run_scenario


@pytest.mark.timeout(600)
def test_malformed_records_on_every_topic_are_dead_lettered_and_the_failover_succeeds() -> None:
    result = run_scenario("bench/chaos/poison.py", "--deployments", "2")
    assert result["status"] == "SUCCEEDED", result
    assert result["poisoned"] == 12, result  # 2 records x 6 topics (4 + each cluster's reports)
    assert result["missing_dead_letters"] == {}, result
    assert result["bytes_and_reason_kept"], result
    assert result["services_exited"] == [], result
    assert result["ok"], result
