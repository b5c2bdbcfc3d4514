"""A data plane cannot speak for another cluster; each cluster has exactly one DP-Link owner."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiokafka.partitioner import DefaultPartitioner

from jetbridge.dplink.domain.health import Health
from jetbridge.dplink.entrypoints.app import DPLink
from jetbridge.flightdeck import Flightdeck
from tests.integration.dplink.helpers import events_of, publish, registered, settings, wait_until
from tests.integration.kafka_tools import create_topic
from tests.integration.planes import make_tls, running_agent, unique_cluster


async def test_a_data_plane_with_another_clusters_certificate_is_refused(
    kafka_bootstrap: str, deck: Flightdeck, tmp_path: Path
) -> None:
    cluster_a, cluster_b, cluster_c = (unique_cluster(p) for p in "abc")
    tls = make_tls(tmp_path, cluster_a, cluster_b, cluster_c)
    topic = await create_topic(kafka_bootstrap, "dplink-identity")
    # Registered as A, but the agent there presents B's certificate: the TLS handshake
    # fails (the server name DP-Link pins is A's).
    # Registered as C, the agent there holds C's certificate but its heartbeats say B:
    # the payload check drops the stream.
    async with (
        running_agent(cluster_b, tls, deck) as impostor_by_cert,
        running_agent(cluster_b, tls, deck, certificate_of=cluster_c) as impostor_by_payload,
    ):
        await publish(
            kafka_bootstrap,
            topic,
            registered(cluster_a, impostor_by_cert.endpoint),
            registered(cluster_c, impostor_by_payload.endpoint),
        )
        app = DPLink(settings(kafka_bootstrap, topic, tls.root))
        await app.start()
        try:
            await wait_until(
                lambda: {cluster_a, cluster_c} <= set(app.monitor.watched()), 30, "both watched"
            )
            await wait_until(
                lambda: (
                    app.monitor.health(cluster_a) is Health.UNREACHABLE
                    and app.monitor.health(cluster_c) is Health.UNREACHABLE
                ),
                10,
                "both UNREACHABLE",
            )
            link_a, link_c = app.links[cluster_a], app.links[cluster_c]
            # The links keep trying (and keep failing) however slowly the machine runs.
            await wait_until(
                lambda: link_a.stats.failures >= 3 and link_c.stats.identity_mismatches >= 3,
                30,
                "three failed attempts on each link",
            )
            assert "UNAVAILABLE" in link_a.stats.last_error
            assert app.monitor.heartbeats == 0  # not one impostor heartbeat counted
            await app.sink.flush()
        finally:
            await app.stop()
    for cluster in (cluster_a, cluster_c):
        events = await events_of(kafka_bootstrap, topic, "ClusterHealthChanged", cluster, 2)
        assert [e.payload["current"] for e in events] == ["DEGRADED", "UNREACHABLE"]
        assert not await events_of(kafka_bootstrap, topic, "ClusterFactsChanged", cluster, 0)


def clusters_on_every_partition(*, partitions: int, each: int) -> list[str]:
    """Random cluster ids, ``each`` of them keyed to every partition (Kafka's default
    partitioner, as the producer places them): whichever partitions a replica gets, it
    owns clusters, so the split below cannot miss by chance (random ids all land on
    one replica's partitions once in 128 runs)."""
    partitioner, chosen = DefaultPartitioner(), {p: list[str]() for p in range(partitions)}
    every = list(range(partitions))
    while any(len(ids) < each for ids in chosen.values()):
        cluster = unique_cluster("o")
        ids = chosen[partitioner(cluster.encode(), every, every)]
        if len(ids) < each:
            ids.append(cluster)
    return [c for ids in chosen.values() for c in ids]


async def test_each_cluster_has_one_owner_and_ownership_moves_when_a_replica_leaves(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    clusters = clusters_on_every_partition(partitions=4, each=2)
    tls = make_tls(tmp_path, *clusters)
    topic = await create_topic(kafka_bootstrap, "dplink-owners", partitions=4)
    # Nobody listens at these endpoints: the links keep retrying, ownership is what counts.
    await publish(
        kafka_bootstrap,
        topic,
        *[registered(c, f"127.0.0.1:{9 + i}") for i, c in enumerate(clusters)],
    )
    config = settings(kafka_bootstrap, topic, tls.root, unreachable_after_s=30.0)
    first, second = DPLink(config), DPLink(config)
    await first.start()
    await wait_until(lambda: first.supervisor.owned() == set(clusters), 30, "first owns all")
    await second.start()
    try:
        await wait_until(
            lambda: (
                first.supervisor.owned() | second.supervisor.owned() == set(clusters)
                and bool(first.supervisor.owned())
                and bool(second.supervisor.owned())
            ),
            30,
            "clusters split across both replicas",
        )
        for _ in range(10):  # and stay split: never one cluster owned twice
            assert not first.supervisor.owned() & second.supervisor.owned()
            await asyncio.sleep(0.05)
        assert len(first.ownership.owned_partitions) + len(second.ownership.owned_partitions) == 4
        await first.stop()
        await wait_until(
            lambda: second.supervisor.owned() == set(clusters), 30, "second owns all after leave"
        )
        assert len(second.ownership.owned_partitions) == 4
    finally:
        await second.stop()
