"""Kubernetes status conditions, read the one way every reader here needs.

The Pilot (is an ExternalSecret or PushSecret synced?), the agent (is the
ClusterSecretStore valid and authenticated?) and the local ESO stand-in all look for
``status.conditions[type=<kind>]`` on objects whose status may be missing, partly
written or not a mapping yet. Pure: no client, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def condition(obj: Mapping[str, Any], kind: str = "Ready") -> Mapping[str, Any] | None:
    """The object's condition of type ``kind``, or None if it has none (yet)."""
    status = obj.get("status")
    conditions = status.get("conditions") if isinstance(status, Mapping) else None
    for cond in conditions if isinstance(conditions, list) else []:
        if isinstance(cond, Mapping) and cond.get("type") == kind:
            return cond
    return None
