"""Requests each local API server served, by verb and resource, from its /metrics.

The clusters' CPU in a ``--adapter kubernetes`` run is partly Jetbridge's own requests
(the Pilot's step waits poll) and partly the clusters' controllers reacting to what
those requests changed. ``apiserver_request_total`` counts every request by verb,
resource and code, whoever sent it; watches are counted once, when opened. The
controllers read through watches, so the GET and LIST counts are nearly all clients'
polls (the Pilot's, the agent's and the ESO stand-in's), and the writes are both
Jetbridge's and the controllers'.

``requests_by_verb(kubeconfig)`` sums the counter by ``"VERB resource"``; a run takes
one sample before and one after, and ``delta`` subtracts them.
"""

from __future__ import annotations

import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "deploy" / "local" / "kube"))
from kubebootstrap import api_client

Counts = dict[str, float]


def parse(metrics_text: str) -> Counts:
    """``apiserver_request_total`` summed by ``"VERB resource[/subresource]"``."""
    counts: Counts = {}
    for family in text_string_to_metric_families(metrics_text):
        if family.name != "apiserver_request":  # the parser drops the _total suffix
            continue
        for sample in family.samples:
            if not sample.name.endswith("_total"):
                continue
            labels = sample.labels
            resource = labels.get("resource", "")
            if labels.get("subresource"):
                resource += "/" + labels["subresource"]
            key = f"{labels.get('verb', '?')} {resource or labels.get('component', '')}".strip()
            counts[key] = counts.get(key, 0.0) + sample.value
    return counts


def requests_by_verb(kubeconfig: Path) -> Counts:
    with api_client(kubeconfig) as api:
        method, url, headers, body, post = api.param_serialize(
            "GET", "/metrics", auth_settings=["BearerToken"]
        )
        response = api.call_api(method, url, headers, body, post, _request_timeout=10)
        return parse(response.read().decode())


def delta(before: Counts, after: Counts) -> Counts:
    """What was served between two samples, largest first; zero rows left out."""
    used = {key: after[key] - before.get(key, 0.0) for key in after}
    return dict(sorted(((k, v) for k, v in used.items() if v > 0), key=lambda kv: -kv[1]))
