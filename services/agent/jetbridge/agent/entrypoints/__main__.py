"""Wire and run the data-plane agent until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import signal

from jetbridge.agent.adapters.facts_static import StaticFactsSource
from jetbridge.agent.adapters.grpc_server import AgentServer, DataPlaneServicer
from jetbridge.agent.adapters.inventory_kube import KubeInventoryReader
from jetbridge.agent.adapters.metrics import FLIGHTDECK_BATCH_ITEMS, sample_queue_depth
from jetbridge.agent.adapters.secret_store_kube import KubeSecretStoreReader
from jetbridge.agent.entrypoints.settings import AgentSettings
from jetbridge.agent.service_layer.flights import FlightService
from jetbridge.agent.service_layer.observed_facts import ObservedFactsSource
from jetbridge.agent.service_layer.observed_inventory import ObservedInventory
from jetbridge.agent.service_layer.ports import FactsSource
from jetbridge.common import runtime
from jetbridge.common.cancellation import stop_tasks
from jetbridge.common.logs import configure_logging
from jetbridge.common.metrics import batch_observer, start_metrics_server
from jetbridge.common.telemetry import setup_tracing
from jetbridge.common.tls import TlsLayout
from jetbridge.flightdeck import open_when_reachable


async def run(settings: AgentSettings) -> None:
    flightdeck = await open_when_reachable(settings.flightdeck_dsn)  # an outage: waited out
    facts = (
        StaticFactsSource.from_file(settings.facts_file)
        if settings.facts_file
        else StaticFactsSource()
    )
    if settings.database_side:  # one Helm value feeds this and the Pilot's side
        facts.update(database_side=settings.database_side.upper())
    if settings.database_endpoint:  # the same Helm value as the Pilot's, which checks it
        facts.update(database_endpoint=settings.database_endpoint.lower())
    source: FactsSource = facts
    inventory: ObservedInventory | None = None
    if settings.inventory_from == "cluster":
        inventory = ObservedInventory(
            source,
            KubeInventoryReader(settings.kubeconfig),
            refresh_s=settings.inventory_refresh_s,
        )
        await inventory.start()  # returns once the cluster was read
        source = inventory
    observed: ObservedFactsSource | None = None
    if settings.secret_store:
        reader = KubeSecretStoreReader(settings.kubeconfig)
        observed = ObservedFactsSource(
            source, reader, settings.secret_store, refresh_s=settings.secret_store_refresh_s
        )
        await observed.start()
        source = observed
    servicer = DataPlaneServicer(
        settings.cluster_id,
        FlightService(flightdeck, batch_observer(FLIGHTDECK_BATCH_ITEMS, settings.cluster_id)),
        source,
        heartbeat_interval=settings.heartbeat_interval_s,
    )
    server = AgentServer(
        servicer, TlsLayout(settings.tls_dir).cluster(settings.cluster_id), settings.listen
    )
    await server.start()
    sampler = asyncio.create_task(
        sample_queue_depth(settings.cluster_id, settings.flightdeck_dsn), name="queue-depth"
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await stop_tasks(sampler)
        for observer in (observed, inventory):
            if observer is not None:
                await observer.stop()
        await server.stop(grace=2.0)
        await flightdeck.close()


def main() -> None:
    settings = AgentSettings()  # type: ignore[call-arg]  # required fields come from env
    configure_logging("agent", settings.log_level)
    tracing = setup_tracing("agent", attributes={"jetbridge.cluster": settings.cluster_id})
    start_metrics_server()
    try:
        runtime.run(run(settings))
    finally:
        tracing.shutdown()


if __name__ == "__main__":
    main()
