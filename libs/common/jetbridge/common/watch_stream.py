"""The events of a Kubernetes watch response: newline-separated JSON objects, the
query that opens a watch, and what its ERROR events mean.

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


class ExpiredWatch(Exception):
    """The resourceVersion a watch resumed from is gone from the server's history (410):
    list again for a current one."""


def watch_query(version: str, seconds: int) -> list[tuple[str, str]]:
    """A watch from ``version``, with bookmarks, that the server ends after ``seconds``."""
    return [
        ("watch", "true"),
        ("allowWatchBookmarks", "true"),
        ("resourceVersion", version),
        ("timeoutSeconds", str(seconds)),
    ]


def raise_if_error(event: dict[str, Any]) -> None:
    """An ERROR event: ``ExpiredWatch`` for 410, ``ValueError`` for any other."""
    if event.get("type") == "ERROR":
        status = event.get("object") or {}
        if status.get("code") == 410:
            raise ExpiredWatch(status.get("message", ""))
        raise ValueError(f"watch error: {status.get('message') or status}")
