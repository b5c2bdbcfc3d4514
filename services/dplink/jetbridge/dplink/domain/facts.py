"""Facts change detection: a stable digest, and the decision to publish.

The digest is computed over a deterministic serialisation of the facts (the adapter
passes canonical bytes), so equal facts always give equal digests and a heartbeat
that carries the same facts as the last one publishes nothing.
"""

from __future__ import annotations

import hashlib


def facts_digest(canonical: bytes) -> str:
    return hashlib.sha256(canonical).hexdigest()


def facts_changed(last_digest: str | None, digest: str) -> bool:
    return last_digest != digest
