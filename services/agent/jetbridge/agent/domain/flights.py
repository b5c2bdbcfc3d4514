"""StartFlight as a Flightdeck row, and what makes a repeated StartFlight the same flight.

The agent writes flights, the Pilot runs them: the row's ``plan`` is the contract
between the two. Each plan entry is one step with its deadline and the parameters the
step needs (the Deployment spec reference, the drain timeout), so the Pilot never has
to ask the control plane for them mid-flight.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jetbridge.flightdeck.models import PLAN_STEPS, Flight, NewFlight, Side

MODES = ("CONTROLLED", "FORCED")
# Flightdeck keys ids as VARCHAR(191) on MySQL (utf8mb4 index limit); PostgreSQL takes
# more, but one limit for both keeps a flight valid whichever store a cluster uses.
MAX_ID_CHARS = 191


class InvalidFlight(ValueError):
    """A StartFlight that cannot become a flight (missing ids, unknown mode...)."""


class InvalidClearance(ValueError):
    """A ClearSteps whose steps are not a contiguous run of the flight's plan."""


class MisaddressedFlight(Exception):
    """A StartFlight the control plane addressed to another cluster than this agent's."""


@dataclass(frozen=True, slots=True)
class PlanStep:
    name: str
    deadline_seconds: int = 0


@dataclass(frozen=True, slots=True)
class ComponentSpec:
    """One component's configuration, as the control plane planned it (the Pilot
    checks it against its manifests when it applies it)."""

    name: str
    replicas: int
    cpu: str
    memory: str


@dataclass(frozen=True, slots=True)
class DeploymentSpecRef:
    deployment_id: str
    image: str = ""
    uri: str = ""
    revision: str = ""
    components: tuple[ComponentSpec, ...] = ()  # the Deployment's configuration


@dataclass(frozen=True, slots=True)
class StartFlight:
    flight_id: str
    mission_id: str
    request_id: str
    deployment_id: str
    side: Side
    mode: str
    fencing_epoch: int
    steps: Sequence[PlanStep]
    deployment_spec: DeploymentSpecRef
    drain_timeout_seconds: int = 0
    traceparent: str | None = None  # the caller's trace, stored for the Pilot to continue
    cluster_id: str = ""  # whom the control plane addressed ("": an older Dispatcher)
    # The flight's first clearance, sent with it (None: it waits for a ClearSteps).
    clearance: ClearSteps | None = None

    def validate(self) -> None:
        for name in ("flight_id", "mission_id", "request_id", "deployment_id"):
            check_id(name, getattr(self, name))
        if self.mode not in MODES:
            raise InvalidFlight(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.fencing_epoch < 1:
            raise InvalidFlight("fencing_epoch must be >= 1")
        if not self.steps:
            raise InvalidFlight("a flight needs at least one step")
        if any(not step.name for step in self.steps):
            raise InvalidFlight("every step needs a name")
        if unknown := sorted({s.name for s in self.steps} - PLAN_STEPS):
            raise InvalidFlight(
                f"this data plane runs no step {', '.join(unknown)} (it knows "
                f"{', '.join(sorted(PLAN_STEPS))}): upgrade it before the control plane"
            )
        if self.drain_timeout_seconds < 0:
            raise InvalidFlight("drain_timeout_seconds must be >= 0")
        spec_id = self.deployment_spec.deployment_id
        if spec_id and spec_id != self.deployment_id:
            # The Pilot names the namespace and fences the databases after the spec's
            # id: a flight of one Deployment must not act on another's.
            raise InvalidFlight(
                f"deployment_spec.deployment_id {spec_id!r} is not the flight's"
                f" deployment_id {self.deployment_id!r}"
            )


def check_id(name: str, value: str) -> None:
    """An id Flightdeck can key on either dialect."""
    if not value:
        raise InvalidFlight(f"{name} is required")
    if len(value) > MAX_ID_CHARS or "\x00" in value:
        raise InvalidFlight(
            f"{name} must be at most {MAX_ID_CHARS} characters without NUL,"
            f" got {len(value)} characters"
        )


def check_addressee(command: StartFlight, own_cluster_id: str) -> None:
    """Refuse a flight meant for another cluster (a wrong or forged registration).

    Checked before anything is written: such a flight would create or delete a
    Deployment on the wrong cluster.
    """
    if command.cluster_id and command.cluster_id != own_cluster_id:
        raise MisaddressedFlight(
            f"flight {command.flight_id} is addressed to cluster {command.cluster_id!r};"
            f" this agent serves {own_cluster_id!r}"
        )


def plan_of(command: StartFlight) -> list[dict[str, Any]]:
    """The ``plan`` column: one JSON object per step, in order."""
    spec = command.deployment_spec
    params = {
        "deployment_spec": {
            "deployment_id": spec.deployment_id or command.deployment_id,
            "image": spec.image,
            "uri": spec.uri,
            "revision": spec.revision,
            "components": [
                {"name": c.name, "replicas": c.replicas, "cpu": c.cpu, "memory": c.memory}
                for c in spec.components
            ],
        },
        "drain_timeout_seconds": command.drain_timeout_seconds,
    }
    return [
        {"name": step.name, "deadline_seconds": step.deadline_seconds, "params": params}
        for step in command.steps
    ]


def new_flight(command: StartFlight) -> NewFlight:
    command.validate()
    return NewFlight(
        flight_id=command.flight_id,
        mission_id=command.mission_id,
        request_id=command.request_id,
        deployment_id=command.deployment_id,
        side=command.side,
        mode=command.mode,
        plan=plan_of(command),
        fencing_epoch=command.fencing_epoch,
        cleared_through=-1,  # nothing runs before Navigator clears it (with it, or ClearSteps)
        traceparent=command.traceparent,
    )


@dataclass(frozen=True, slots=True)
class ClearSteps:
    flight_id: str
    steps: Sequence[str]
    clearance_id: str
    not_before_ms: int = 0
    attempts: Sequence[int] = ()  # Navigator's number of each step's attempt (or none)


def clearance_range(flight: Flight, command: ClearSteps) -> tuple[int, int]:
    """Plan indexes (first, last) of the cleared steps, checked against the plan.

    Step names are unique within a plan, so the first name fixes the position; the
    rest must follow it in plan order.
    """
    return plan_range(step_names(flight), command)


def first_clearance_range(command: StartFlight) -> tuple[int, int] | None:
    """The plan range of the clearance a StartFlight carries, checked before anything is
    written (None: it carries none)."""
    clearance = command.clearance
    if clearance is None:
        return None
    if clearance.flight_id != command.flight_id:
        raise InvalidClearance(
            f"the clearance names flight {clearance.flight_id!r}, not {command.flight_id!r}"
        )
    return plan_range([step.name for step in command.steps], clearance)


def plan_range(names: Sequence[str], command: ClearSteps) -> tuple[int, int]:
    """``clearance_range`` against the plan's step ``names``."""
    names = list(names)
    if not command.clearance_id:
        raise InvalidClearance("clearance_id is required")
    if not command.steps:
        raise InvalidClearance("a clearance names at least one step")
    if command.steps[0] not in names:
        raise InvalidClearance(f"{command.steps[0]!r} is not in the plan {names}")
    first = names.index(command.steps[0])
    last = first + len(command.steps) - 1
    if names[first : last + 1] != list(command.steps):
        raise InvalidClearance(f"{list(command.steps)} is not a run of the plan {names}")
    if command.attempts and len(command.attempts) != len(command.steps):
        raise InvalidClearance(
            f"{len(command.attempts)} attempt numbers for {len(command.steps)} steps"
        )
    if any(a < 1 for a in command.attempts):
        raise InvalidClearance(f"attempt numbers start at 1: {list(command.attempts)}")
    return first, last


def conflict(existing: Flight, command: StartFlight) -> str | None:
    """Why ``command`` is not a repeat of the stored flight with the same id (None: it is).

    A retried StartFlight carries the same mission, side and epoch; anything else
    reusing the id is a bug upstream and must not silently alias the stored flight.
    """
    differences = [
        f"{name} {have!r} != {want!r}"
        for name, have, want in (
            ("mission_id", existing.mission_id, command.mission_id),
            ("deployment_id", existing.deployment_id, command.deployment_id),
            ("side", existing.side, command.side),
            ("fencing_epoch", existing.fencing_epoch, command.fencing_epoch),
        )
        if have != want
    ]
    return "; ".join(differences) or None


def step_names(flight: Flight) -> list[str]:
    return [
        str(step.get("name", "")) if isinstance(step, dict) else str(step) for step in flight.plan
    ]
