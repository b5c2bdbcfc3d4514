"""The bench reads the API servers' request counters by verb and resource."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench" / "e2e"))
from kube_requests import delta, parse


def _served(code: int, resource: str, subresource: str, verb: str, count: int) -> str:
    labels = f'code="{code}",component="apiserver",resource="{resource}"'
    return f'apiserver_request_total{{{labels},subresource="{subresource}",verb="{verb}"}} {count}'


def _seconds(scope: str, verb: str, total: float) -> str:
    labels = f'resource="namespaces",scope="{scope}",verb="{verb}"'
    return f"apiserver_request_duration_seconds_sum{{{labels}}} {total}"


METRICS = "\n".join(
    [
        "# HELP apiserver_request_total [STABLE] Counter of apiserver requests.",
        "# TYPE apiserver_request_total counter",
        _served(200, "namespaces", "", "GET", 40),
        _served(404, "namespaces", "", "GET", 2),
        _served(200, "deployments", "scale", "PATCH", 5),
        _served(200, "", "", "GET", 3),
        "# HELP apiserver_request_duration_seconds Response latency.",
        "# TYPE apiserver_request_duration_seconds histogram",
        'apiserver_request_duration_seconds_bucket{le="0.1",resource="namespaces",verb="GET"} 42',
        'apiserver_request_duration_seconds_count{resource="namespaces",verb="GET"} 42',
        _seconds("cluster", "LIST", 1.5),
        _seconds("resource", "GET", 0.25),
        _seconds("namespace", "LIST", 0.5),
        _seconds("cluster", "WATCH", 300.0),  # held open for 5 minutes: not work
        "# HELP apiserver_response_sizes Response size distribution in bytes.",
        "# TYPE apiserver_response_sizes histogram",
        'apiserver_response_sizes_sum{resource="secrets",scope="cluster",verb="LIST"} 5e+06',
        'apiserver_response_sizes_count{resource="secrets",scope="cluster",verb="LIST"} 2',
        "",
    ]
)


def test_counts_are_summed_over_codes_and_keep_subresources_apart() -> None:
    assert parse(METRICS) == {
        "GET namespaces": 42.0,
        "PATCH deployments/scale": 5.0,
        "GET apiserver": 3.0,  # a non-resource URL (/metrics, /healthz): by component
    }


def test_seconds_and_response_bytes_are_read_by_the_same_key() -> None:
    assert parse(METRICS, "seconds") == {"LIST namespaces": 2.0, "GET namespaces": 0.25}
    assert parse(METRICS, "response_bytes") == {"LIST secrets": 5e6}


def test_delta_keeps_what_was_served_in_between_largest_first() -> None:
    before = {"GET namespaces": 40.0, "LIST pods": 7.0}
    after = {"GET namespaces": 52.0, "LIST pods": 7.0, "POST namespaces": 20.0}
    assert list(delta(before, after).items()) == [
        ("POST namespaces", 20.0),
        ("GET namespaces", 12.0),
    ]
