"""The Cluster aggregate: a registered data plane, its health and its facts.

Three small state machines live here: registration, health, and the failover switch.
Facts (versions, plane mode, secrets setup, inventory) are not states: the latest
snapshot simply replaces the previous one.
"""

from __future__ import annotations

from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.aggregate import Aggregate
from jetbridge.navigator.domain.statemachine import TransitionTable
from jetbridge.navigator.domain.vocabulary import (
    DatabaseEndpointStatus,
    FailoverSwitch,
    Health,
    PlaneMode,
    Registration,
)

REGISTRATION = TransitionTable[Registration](
    "Cluster.registration",
    {
        Registration.UNREGISTERED: frozenset({Registration.REGISTERED}),
        # again: a new endpoint, name or identity (its failover state stays as it was)
        Registration.REGISTERED: frozenset({Registration.REGISTERED, Registration.DEREGISTERED}),
        Registration.DEREGISTERED: frozenset(),
    },
)

_ALL_HEALTH = frozenset({Health.HEALTHY, Health.DEGRADED, Health.UNREACHABLE})
HEALTH = TransitionTable[Health](
    "Cluster.health",
    {Health.UNKNOWN: _ALL_HEALTH} | {h: _ALL_HEALTH - {h} for h in _ALL_HEALTH},
)

FAILOVER_SWITCH = TransitionTable[FailoverSwitch](
    "Cluster.failover",
    {
        FailoverSwitch.DISABLED: frozenset({FailoverSwitch.ENABLED}),
        FailoverSwitch.ENABLED: frozenset(),
    },
)


class Cluster(Aggregate):
    NAME = "Cluster"
    CREATED_BY = ev.ClusterRegistered

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.name = ""
        self.registration = Registration.UNREGISTERED
        self.health = Health.UNKNOWN
        self.registered_at: int | None = None
        self.endpoint = ""  # host:port of its agent, as registered
        self.certificate_identity = ""
        self.failover = FailoverSwitch.DISABLED
        self.failover_enabled_at: int | None = None
        # Inventory (as the data plane reports it) when failover was switched on.
        self.deployments_before_failover: tuple[str, ...] = ()
        # Switched on by its registration, before any inventory: the first one counts.
        self.awaiting_first_inventory = False
        # Facts, replaced wholesale by each ClusterFactsChanged.
        self.facts_observed_at: int | None = None
        self.jetbridge_version = ""
        self.plane_mode = PlaneMode.UNKNOWN
        self.external_secrets_enabled = False
        self.external_secret_manager_name: str | None = None
        self.cluster_secret_store_valid = False
        self.cluster_secret_store_authenticated = False
        self.cluster_secret_store_provider = ""
        self.log_sink_configured = False
        self.database_endpoint_status = DatabaseEndpointStatus.UNKNOWN
        self.deployment_ids: tuple[str, ...] = ()
        # Which login role of each Deployment the cluster's Pilot uses (None: unknown).
        self.database_side: str | None = None
        # host:port of the database server its Pilot fences on ("": not reported).
        self.database_endpoint = ""
        # An admin attested it is gone for good (who, why, when): copies left on it no
        # longer hold its database side.
        self.lost = False
        self.lost_attestation = ""
        self.declared_lost_by = ""
        self.declared_lost_at: int | None = None

    @property
    def cluster_id(self) -> str:
        return self.id

    @property
    def registered(self) -> bool:
        return self.registration is Registration.REGISTERED

    @property
    def failover_enabled(self) -> bool:
        return self.failover is FailoverSwitch.ENABLED

    @property
    def reachable(self) -> bool:
        """DP-Link currently has a stream to it (degraded still answers)."""
        return self.health in (Health.HEALTHY, Health.DEGRADED)

    @property
    def cluster_secret_store_ok(self) -> bool:
        return self.cluster_secret_store_valid and self.cluster_secret_store_authenticated

    def state_name(self) -> str:
        return f"{self.registration.value}/{self.health.value}/{self.failover.value}"

    def _recreated_by(self, event: ev.DomainEvent) -> bool:
        """A registered cluster is registered again for a new endpoint, name or
        certificate identity (a deregistered one never: its id is not reused)."""
        return self.registered

    def _when(self, event: ev.DomainEvent) -> None:
        match event:
            case ev.ClusterRegistered():
                REGISTRATION.check(
                    self.id, self.registration, Registration.REGISTERED, event.event_type()
                )
                again = self.registered
                self.registration = Registration.REGISTERED
                self.name = event.name
                self.endpoint = event.endpoint
                self.certificate_identity = event.certificate_identity
                if again:
                    return  # failover and inventory are not the registration's to reset
                self.registered_at = event.registered_at
                if event.failover_enabled:
                    self.failover = FailoverSwitch.ENABLED
                    self.failover_enabled_at = event.registered_at
                    self.awaiting_first_inventory = True
            case ev.ClusterDeclaredLost():
                self._require_registered(event)
                if self.lost:
                    raise self._illegal(event)
                self.lost = True
                self.lost_attestation = event.attestation
                self.declared_lost_by = event.declared_by
                self.declared_lost_at = event.declared_at
            case ev.ClusterDeregistered():
                REGISTRATION.check(
                    self.id, self.registration, Registration.DEREGISTERED, event.event_type()
                )
                self.registration = Registration.DEREGISTERED
            case ev.ClusterHealthChanged():
                self._require_registered(event)
                HEALTH.check(self.id, self.health, Health(event.current), event.event_type())
                self.health = Health(event.current)
            case ev.ClusterFactsChanged():
                self._require_registered(event)
                self._take_facts(event)
            case ev.FailoverEnabled():
                self._require_registered(event)
                FAILOVER_SWITCH.check(
                    self.id, self.failover, FailoverSwitch.ENABLED, event.event_type()
                )
                self.failover = FailoverSwitch.ENABLED
                self.failover_enabled_at = event.enabled_at
                self.deployments_before_failover = self.deployment_ids
            case ev.FailoverEnableRefused():
                self._require_registered(event)
            case _:
                raise self._illegal(event)

    def _require_registered(self, event: ev.DomainEvent) -> None:
        if not self.registered:
            raise self._illegal(event)

    def _take_facts(self, event: ev.ClusterFactsChanged) -> None:
        plane_mode = PlaneMode(event.plane_mode)
        db_status = DatabaseEndpointStatus(event.database_endpoint_status)
        self.facts_observed_at = event.observed_at
        self.jetbridge_version = event.jetbridge_version
        self.plane_mode = plane_mode
        self.external_secrets_enabled = event.external_secrets_enabled
        self.external_secret_manager_name = event.external_secret_manager_name
        self.cluster_secret_store_valid = event.cluster_secret_store_valid
        self.cluster_secret_store_authenticated = event.cluster_secret_store_authenticated
        self.cluster_secret_store_provider = event.cluster_secret_store_provider
        self.log_sink_configured = event.log_sink_configured
        self.database_endpoint_status = db_status
        self.deployment_ids = tuple(event.deployment_ids)
        self.database_side = event.database_side
        self.database_endpoint = event.database_endpoint
        if self.awaiting_first_inventory:
            # A cluster installed with failover on gets no EnableFailover and its check;
            # what it reports first is what it held when failover was switched on.
            self.awaiting_first_inventory = False
            self.deployments_before_failover = self.deployment_ids
