"""An Airflow Deployment's components and what their configuration may say.

Shared by the control plane, which refuses a configuration it cannot apply where it
enters (the Navigator's ``domain/configuration.py``), and the Pilot, which builds the
manifests from it and checks again (``pilot/domain/airflow.py``): one rule, so neither
accepts what the other would refuse.
"""

from __future__ import annotations

import re

# The components the Pilot's manifests make for every Deployment.
COMPONENTS = ("scheduler", "api-server", "triggerer", "dag-processor", "worker")
MAX_REPLICAS = 50  # the Pilot's namespace quota holds 50 pods
# A Kubernetes quantity as a container's resources take it: a decimal number with an
# optional SI or binary suffix (250m, 0.5, 512Mi, 2G).
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")


def component_problem(name: str, replicas: object, cpu: object, memory: object) -> str | None:
    """What is wrong with one component's entry, in words (None: nothing)."""
    if name not in COMPONENTS:
        return f"component {name!r} is not one of {', '.join(COMPONENTS)}"
    if not isinstance(replicas, int) or isinstance(replicas, bool):
        return f"component {name!r}: replicas {replicas!r} is not a number"
    if not 0 <= replicas <= MAX_REPLICAS:
        return f"component {name!r}: replicas {replicas} not in 0..{MAX_REPLICAS}"
    for what, quantity in (("cpu", cpu), ("memory", memory)):
        if not isinstance(quantity, str) or not _QUANTITY.match(quantity):
            return (
                f"component {name!r}: {what} {quantity!r} is not a Kubernetes quantity"
                " (such as 250m, 1, 512Mi)"
            )
    return None
