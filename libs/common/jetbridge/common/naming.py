"""Names derived from Deployment ids that never collide: one id, one name.

Kubernetes names and database identifiers allow few characters and little length, so a
Deployment id is folded into them. Folding alone is not injective: ``Team A/Prod`` and
``team-a prod`` fold alike, ids that share their first 40 characters truncate alike,
and every id of only non-ASCII letters folds to nothing. Two Deployments sharing a
namespace or a database would let a failover of one fence and delete the other.

So an id that is already a valid name, and short enough, is used as it is (readable),
and any other id keeps a readable prefix plus 8 hex digits of its SHA-256: distinct ids
then give distinct names (up to a 32-bit hash collision between two ids both needing
it). Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import re

HASH_DIGITS = 8


def folded_name(text: str, *, allowed: str, separator: str, limit: int) -> str:
    """``text`` as a name of ``[allowed]`` characters, at most ``limit`` long.

    ``allowed`` is a regex character class body (e.g. ``a-z0-9-``); ``separator`` is the
    one character runs of anything else become, and never starts or ends a name.
    """
    if limit <= HASH_DIGITS + 1:
        raise ValueError(f"limit must exceed {HASH_DIGITS + 1}, got {limit}")
    folded = re.sub(f"[^{allowed}]+", separator, text.lower()).strip(separator)
    if folded == text and 0 < len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_DIGITS]
    head = folded[: limit - HASH_DIGITS - 1].strip(separator)
    return f"{head}{separator}{digest}" if head else digest
