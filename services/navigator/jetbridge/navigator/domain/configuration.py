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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from jetbridge.common.components import component_problem
from jetbridge.navigator.domain.errors import DomainError


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
        if (problem := component_problem(name, count, c, m)) is not None:
            raise InvalidConfiguration(problem)
        out.append(ComponentConfig(name, count, c, m))
    return tuple(out)
