"""A Deployment's configuration: what a failover applies on the destination besides the
image and the secrets.

The spec: a failover "applies each Deployment's configuration and secrets to the
destination cluster". The control plane holds the configuration (it came with
``DeploymentCreated``/``DeploymentUpdated``); each destination flight is planned with
the configuration of that moment (``FlightPlanned``), so the data plane never needs
the source to learn it (a Forced failover's source may be gone). It is per component
(scheduler, api-server, triggerer, dag-processor, worker): replicas, and the CPU and
memory of its container. A component the configuration does not name gets the data
plane's defaults; an empty configuration is all defaults (events before v2).

Events carry it as four arrays in the same order (``component_names``, ``_replicas``,
``_cpu``, ``_memory``), the shape every other list in the catalogue has.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from jetbridge.navigator.domain.errors import DomainError

# A Kubernetes quantity as the Pilot writes it into a container's resources: a decimal
# number with an optional SI or binary suffix (250m, 0.5, 512Mi, 2G).
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")
MAX_REPLICAS = 50  # the Pilot's namespace quota holds 50 pods
# The components an Airflow Deployment has on a data plane (the Pilot's manifests):
# a name outside them would fail the destination's UPSERT_DEPLOYMENT after the fence.
COMPONENTS = ("scheduler", "api-server", "triggerer", "dag-processor", "worker")


class InvalidConfiguration(DomainError, ValueError):
    """A configuration that names its problem; the event carrying it changes nothing."""


@dataclass(frozen=True)
class ComponentConfig:
    name: str
    replicas: int
    cpu: str
    memory: str


class CarriesConfiguration(Protocol):
    @property
    def component_names(self) -> list[str]: ...
    @property
    def component_replicas(self) -> list[int]: ...
    @property
    def component_cpu(self) -> list[str]: ...
    @property
    def component_memory(self) -> list[str]: ...


def configuration_of(event: CarriesConfiguration) -> tuple[ComponentConfig, ...]:
    """The configuration an event carries, checked; ``InvalidConfiguration`` names
    what is wrong."""
    return components(
        event.component_names, event.component_replicas, event.component_cpu, event.component_memory
    )


def components(
    names: Sequence[str], replicas: Sequence[int], cpu: Sequence[str], memory: Sequence[str]
) -> tuple[ComponentConfig, ...]:
    sizes = {len(names), len(replicas), len(cpu), len(memory)}
    if len(sizes) != 1:
        raise InvalidConfiguration(
            "component_names, component_replicas, component_cpu and component_memory must"
            f" have one entry per component: lengths {len(names)}, {len(replicas)},"
            f" {len(cpu)}, {len(memory)}"
        )
    if len(set(names)) != len(names):
        raise InvalidConfiguration(f"a component is named twice in {list(names)}")
    out = []
    for name, count, c, m in zip(names, replicas, cpu, memory, strict=True):
        if name not in COMPONENTS:
            raise InvalidConfiguration(f"component {name!r} is not one of {', '.join(COMPONENTS)}")
        if not 0 <= count <= MAX_REPLICAS:
            raise InvalidConfiguration(
                f"component {name!r}: replicas {count} is not between 0 and {MAX_REPLICAS}"
            )
        for what, quantity in (("cpu", c), ("memory", m)):
            if not _QUANTITY.match(quantity):
                raise InvalidConfiguration(
                    f"component {name!r}: {what} {quantity!r} is not a Kubernetes quantity"
                    " (such as 250m, 1, 512Mi)"
                )
        out.append(ComponentConfig(name, count, c, m))
    return tuple(out)
