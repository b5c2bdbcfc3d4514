"""The Deployment aggregate: one Airflow Deployment, where it runs, who may write.

``origin_cluster_id`` never changes: eligibility asks whether the Deployment was born
under failover management on the cluster that created it, so a relocated Deployment
stays eligible for failback. ``fencing_epoch`` is the last epoch recorded as applied
to its databases; the next mission fences with one above it and above every epoch
whose fence was ever cleared to run (:func:`next_fencing_epoch`).
"""

from __future__ import annotations

from collections.abc import Mapping

from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.aggregate import Aggregate
from jetbridge.navigator.domain.configuration import ComponentConfig, configuration_of
from jetbridge.navigator.domain.statemachine import TransitionTable
from jetbridge.navigator.domain.vocabulary import DeployMechanism, DeploymentStatus

DEPLOYMENT = TransitionTable[DeploymentStatus](
    "Deployment",
    {
        DeploymentStatus.ACTIVE: frozenset({DeploymentStatus.DELETED}),
        DeploymentStatus.DELETED: frozenset(),
    },
)


class Deployment(Aggregate):
    NAME = "Deployment"
    CREATED_BY = ev.DeploymentCreated

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.status = DeploymentStatus.ACTIVE
        self.name = ""
        self.cluster_id = ""
        self.origin_cluster_id = ""
        self.deploy_mechanism = DeployMechanism.IMAGE
        self.image = ""
        # replicas and resources per component, applied on a failover's destination
        # (domain/configuration.py); empty: the data plane's defaults
        self.configuration: tuple[ComponentConfig, ...] = ()
        self.priority = 0
        self.created_at = 0
        self.fencing_epoch = 0
        self.writer_cluster_id = ""

    @property
    def deployment_id(self) -> str:
        return self.id

    @property
    def active(self) -> bool:
        return self.exists and self.status is DeploymentStatus.ACTIVE

    def state_name(self) -> str:
        return self.status.value

    def _when(self, event: ev.DomainEvent) -> None:
        match event:
            case ev.DeploymentCreated():
                mechanism = DeployMechanism(event.deploy_mechanism)
                configuration = configuration_of(event)  # checked before anything changes
                self.name = event.name
                self.cluster_id = event.cluster_id
                self.origin_cluster_id = event.cluster_id
                self.writer_cluster_id = event.cluster_id
                self.deploy_mechanism = mechanism
                self.image = event.image
                self.configuration = configuration
                self.priority = event.priority
                self.created_at = event.created_at
            case ev.DeploymentUpdated():
                self._require_active(event)
                mechanism = DeployMechanism(event.deploy_mechanism)
                configuration = configuration_of(event)
                self.deploy_mechanism = mechanism
                self.image = event.image
                self.configuration = configuration
                self.priority = event.priority
            case ev.DeploymentDeleted():
                DEPLOYMENT.check(self.id, self.status, DeploymentStatus.DELETED, event.event_type())
                self.status = DeploymentStatus.DELETED
            case ev.DeploymentFenced():
                self._require_active(event)
                if event.epoch <= self.fencing_epoch:  # epochs only ever grow
                    raise self._illegal(event)
                self.fencing_epoch = event.epoch
                self.writer_cluster_id = event.writer_cluster_id
            case ev.DeploymentRelocated():
                self._require_active(event)
                if event.from_cluster_id != self.cluster_id:
                    raise self._illegal(event)
                self.cluster_id = event.to_cluster_id
            case _:
                raise self._illegal(event)

    def _require_active(self, event: ev.DomainEvent) -> None:
        if self.status is not DeploymentStatus.ACTIVE:
            raise self._illegal(event)


def next_fencing_epoch(d: Deployment, spent_epochs: Mapping[str, int]) -> int:
    """The epoch the next mission of ``d`` fences with.

    ``spent_epochs`` (``Fleet.spent_epochs``): per Deployment, the highest epoch whose
    fence was ever cleared to run. A fence cleared may have run without its outcome
    being recorded (its mission cancelled by a takeover, or failed, before it came
    back): that epoch is a fencing token already presented. Above both, a late write of
    any earlier mission (its fence; its Kubernetes objects, where the Pilot compares the
    namespace's epoch) is always older than the next mission's, never equal to it.
    """
    return max(d.fencing_epoch, spent_epochs.get(d.deployment_id, 0)) + 1
