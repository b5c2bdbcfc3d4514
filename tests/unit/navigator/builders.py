"""Event builders for the Navigator domain tests: a valid world, then break one thing."""

from __future__ import annotations

from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.vocabulary import DatabaseEndpointStatus, Health, PlaneMode

T0 = 1_700_000_000_000  # epoch ms; every test time is relative to it


def cluster_events(
    cluster_id: str,
    *,
    at: int = T0,
    failover_enabled: bool = True,
    health: Health = Health.HEALTHY,
    version: str = "2.0.0",
    plane_mode: PlaneMode = PlaneMode.DATA,
    external_secrets: bool = True,
    secret_manager: str | None = "aws-secrets-manager",
    store_valid: bool = True,
    store_authenticated: bool = True,
    log_sink: bool = True,
    db: DatabaseEndpointStatus = DatabaseEndpointStatus.PRIMARY,
    deployment_ids: list[str] | None = None,
    database_side: str | None = None,
    provider: str = "",
    database_endpoint: str = "db.example:5432",
) -> list[ev.DomainEvent]:
    """A registered cluster with a full facts snapshot and a health transition (every
    one on the same database server unless ``database_endpoint`` says otherwise)."""
    out: list[ev.DomainEvent] = [
        ev.ClusterRegistered(
            cluster_id=cluster_id,
            name=cluster_id,
            registered_at=at,
            failover_enabled=failover_enabled,
        ),
        facts(
            cluster_id,
            at=at,
            version=version,
            plane_mode=plane_mode,
            external_secrets=external_secrets,
            secret_manager=secret_manager,
            store_valid=store_valid,
            store_authenticated=store_authenticated,
            log_sink=log_sink,
            db=db,
            deployment_ids=deployment_ids or [],
            database_side=database_side,
            provider=provider,
            database_endpoint=database_endpoint,
        ),
    ]
    if health is not Health.UNKNOWN:
        out.append(
            ev.ClusterHealthChanged(
                cluster_id=cluster_id, previous=Health.UNKNOWN.value, current=health.value
            )
        )
    return out


def facts(
    cluster_id: str,
    *,
    at: int = T0,
    version: str = "2.0.0",
    plane_mode: PlaneMode = PlaneMode.DATA,
    external_secrets: bool = True,
    secret_manager: str | None = "aws-secrets-manager",
    store_valid: bool = True,
    store_authenticated: bool = True,
    log_sink: bool = True,
    db: DatabaseEndpointStatus = DatabaseEndpointStatus.PRIMARY,
    deployment_ids: list[str] | None = None,
    database_side: str | None = None,
    provider: str = "",
    database_endpoint: str = "",
) -> ev.ClusterFactsChanged:
    return ev.ClusterFactsChanged(
        cluster_id=cluster_id,
        observed_at=at,
        jetbridge_version=version,
        plane_mode=plane_mode.value,
        external_secrets_enabled=external_secrets,
        external_secret_manager_name=secret_manager,
        cluster_secret_store_valid=store_valid,
        cluster_secret_store_authenticated=store_authenticated,
        log_sink_configured=log_sink,
        database_endpoint_status=db.value,
        deployment_ids=deployment_ids or [],
        database_side=database_side,
        cluster_secret_store_provider=provider,
        database_endpoint=database_endpoint,
    )


def deployment(
    deployment_id: str,
    cluster_id: str,
    *,
    created_at: int = T0 + 1_000,
    priority: int = 0,
    mechanism: str = "IMAGE",
    image: str | None = None,
) -> ev.DeploymentCreated:
    return ev.DeploymentCreated(
        deployment_id=deployment_id,
        cluster_id=cluster_id,
        name=deployment_id,
        deploy_mechanism=mechanism,
        image=image if image is not None else f"org/{deployment_id}:1.0",
        priority=priority,
        created_at=created_at,
    )


def health(cluster_id: str, previous: Health, current: Health) -> ev.ClusterHealthChanged:
    return ev.ClusterHealthChanged(
        cluster_id=cluster_id, previous=previous.value, current=current.value
    )
