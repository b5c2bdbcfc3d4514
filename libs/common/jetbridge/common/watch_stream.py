"""The events of a Kubernetes watch response: newline-separated JSON objects.

Shared by the Pilot's watches (services/pilot adapters/kube_watch.py) and the local ESO
stand-in's (deploy/local/kube/eso_kube.py): both read the raw stream of the kubernetes
client's ``ApiClient``, whose chunks do not follow the lines.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any


def json_lines(chunks: Iterator[bytes]) -> Iterator[dict[str, Any]]:
    """Objects from a stream of newline-separated JSON, however it was chunked."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if line.strip():
                yield json.loads(line)
    if pending.strip():
        yield json.loads(pending)
