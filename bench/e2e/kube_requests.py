"""Requests each local API server served, by verb and resource, from its /metrics.

The clusters' CPU in a ``--adapter kubernetes`` run is partly Jetbridge's own requests
(the Pilot's step waits poll) and partly the clusters' controllers reacting to what
those requests changed. ``apiserver_request_total`` counts every request by verb,
resource and code, whoever sent it; watches are counted once, when opened. The
controllers read through watches, so the GET and LIST counts are nearly all clients'
polls (the Pilot's, the agent's and the ESO stand-in's), and the writes are both
Jetbridge's and the controllers'.

``requests_by_verb(kubeconfig)`` sums the counter by ``"VERB resource"``; a run takes
one sample before and one after, and ``delta`` subtracts them. ``served(kubeconfig)``
reads, from the same scrape, the counts and what they cost the API server: the seconds
spent answering (``apiserver_request_duration_seconds``: latency, so time spent waiting
for a CPU is in it; WATCH and CONNECT are left out, their duration is how long they were
held open) and the bytes of the responses (``apiserver_response_sizes``), each by the
same key. A LIST of every object of a kind costs in proportion to how many
there are; a GET does not: counts alone hide that.
"""

from __future__ import annotations

import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "deploy" / "local" / "kube"))
from kubebootstrap import api_client

Counts = dict[str, float]
# what served() reads: the metric family (as the parser names it) and its sample suffix
LONG_RUNNING = ("WATCH", "WATCHLIST", "CONNECT")  # not work: left out of "seconds"
MEASURES = {
    "requests": ("apiserver_request", "_total"),  # the parser drops the _total suffix
    "seconds": ("apiserver_request_duration_seconds", "_sum"),
    "response_bytes": ("apiserver_response_sizes", "_sum"),
}


def parse(metrics_text: str, measure: str = "requests") -> Counts:
    """One of ``MEASURES`` summed by ``"VERB resource[/subresource]"``."""
    family_name, suffix = MEASURES[measure]
    counts: Counts = {}
    for family in text_string_to_metric_families(metrics_text):
        if family.name != family_name:
            continue
        for sample in family.samples:
            if not sample.name.endswith(suffix):
                continue
            labels = sample.labels
            if measure == "seconds" and labels.get("verb") in LONG_RUNNING:
                continue
            resource = labels.get("resource", "")
            if labels.get("subresource"):
                resource += "/" + labels["subresource"]
            key = f"{labels.get('verb', '?')} {resource or labels.get('component', '')}".strip()
            counts[key] = counts.get(key, 0.0) + sample.value
    return counts


def _scrape(kubeconfig: Path) -> str:
    with api_client(kubeconfig) as api:
        method, url, headers, body, post = api.param_serialize(
            "GET", "/metrics", auth_settings=["BearerToken"]
        )
        response = api.call_api(method, url, headers, body, post, _request_timeout=10)
        return str(response.read().decode())


def requests_by_verb(kubeconfig: Path) -> Counts:
    return parse(_scrape(kubeconfig))


def served(kubeconfig: Path) -> dict[str, Counts]:
    """Every one of ``MEASURES`` from one scrape."""
    text = _scrape(kubeconfig)
    return {measure: parse(text, measure) for measure in MEASURES}


def delta(before: Counts, after: Counts) -> Counts:
    """What was served between two samples, largest first; zero rows left out."""
    used = {key: after[key] - before.get(key, 0.0) for key in after}
    return dict(sorted(((k, v) for k, v in used.items() if v > 0), key=lambda kv: -kv[1]))
