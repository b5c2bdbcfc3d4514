"""The data-plane side of the DP-Link benchmark: many real agents' Link servers, one process.

Each cluster is the agent's own ``DataPlaneServicer`` behind its own mTLS ``AgentServer``
on a loopback port (its own certificate, so DP-Link's identity check runs as in
production), heartbeating at ``--interval``. The Link stream never touches Flightdeck,
so the flight service gets a store that refuses to be used. Prints one JSON line
``{"ports": {cluster_id: port}}`` once every server listens, then serves until killed.

    python bench/dplink/fleet.py --tls-dir DIR --interval 1.0 CLUSTER_ID ...
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from jetbridge.agent.adapters.facts_static import StaticFactsSource
from jetbridge.agent.adapters.grpc_server import AgentServer, DataPlaneServicer
from jetbridge.agent.domain.facts import ClusterFacts, SecretStoreStatus
from jetbridge.agent.service_layer.flights import FlightService
from jetbridge.common.tls import TlsLayout

FACTS = ClusterFacts(
    jetbridge_version="2.0.0",
    plane_mode="DATA",
    external_secrets_enabled=True,
    external_secret_manager_name="aws-secrets-manager",
    cluster_secret_store=SecretStoreStatus("jetbridge", True, True, "Valid"),
    failover_enabled=True,
    failover_enabled_at_ms=1_700_000_000_000,
    log_sink_configured=True,
    database_endpoint_status="PRIMARY",
)


class NoFlightdeck:
    """The benchmark sends no flights; any use is a bug in the benchmark."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"the DP-Link benchmark fleet has no Flightdeck ({name})")


async def serve(tls_dir: Path, interval: float, cluster_ids: list[str]) -> None:
    tls = TlsLayout(tls_dir)
    flights = FlightService(NoFlightdeck())  # type: ignore[arg-type]
    servers = []
    for cluster_id in cluster_ids:
        servicer = DataPlaneServicer(
            cluster_id, flights, StaticFactsSource(FACTS), heartbeat_interval=interval
        )
        servers.append(AgentServer(servicer, tls.cluster(cluster_id)))
    ports = {s.servicer.cluster_id: await s.start() for s in servers}
    print(json.dumps({"ports": ports}), flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tls-dir", type=Path, required=True)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("cluster_ids", nargs="+")
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.tls_dir, args.interval, args.cluster_ids))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
