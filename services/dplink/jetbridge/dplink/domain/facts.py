"""Facts change detection: a stable digest, and the decision to publish.

The digest is computed over a deterministic serialisation of the facts (the adapter
passes canonical bytes), so equal facts always give equal digests and a heartbeat
that carries the same facts as the last one publishes nothing.
"""

from __future__ import annotations

import hashlib


def facts_digest(canonical: bytes, writer_version: int = 1) -> str:
    """The digest of the facts as one schema version writes them.

    A new writer version changes every digest, so each cluster's facts are published
    once more in it after an upgrade. Without that, a field an upgraded agent already
    sent (kept in the canonical bytes as an unknown field by the older DP-Link) would
    never reach an event: the bytes, hence the digest, would not change.
    """
    if writer_version > 1:  # v1 digests stay as they were: no republish for nothing
        canonical = f"ClusterFactsChanged.v{writer_version}\0".encode() + canonical
    return hashlib.sha256(canonical).hexdigest()


def facts_changed(last_digest: str | None, digest: str) -> bool:
    return last_digest != digest
