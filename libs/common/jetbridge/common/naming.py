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


def release_name(deployment_id: str, limit: int = 40) -> str:
    """The Deployment's Kubernetes release name (its namespace is ``airflow-<this>``):
    a DNS-1123 label fragment (lower case alphanumerics and '-')."""
    return folded_name(deployment_id, allowed="a-z0-9-", separator="-", limit=limit)


def database_slug(deployment_id: str) -> str:
    """The part of the Deployment's database and role names its id gives."""
    return folded_name(deployment_id, allowed="a-z0-9_", separator="_", limit=40)


def derived_names(deployment_id: str) -> tuple[str, str]:
    """Every name derived from a Deployment id that two Deployments must never share:
    (release, database slug). Distinct ids give distinct names except when one id,
    a valid name used as it is, equals another's hashed form (``prod_5f56359e`` and
    ``Prod``): the Navigator refuses to move such Deployments."""
    return release_name(deployment_id), database_slug(deployment_id)
