"""The read model's rows, folded from ledger events (no database)."""

from __future__ import annotations

import json

from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.projections.fold import LedgerFold
from tests.unit.navigator.builders import T0, deployment, facts

# Columns of the clusters table, by their position in cluster_row.
INVENTORY, BEFORE_FAILOVER = 17, 18


def cluster_rows(events: list[ev.DomainEvent]) -> dict[str, tuple[object, ...]]:
    fold = LedgerFold()
    for offset, event in enumerate(events):
        fold.fold(f"e{offset}", event, ("ledger", 0, offset))
    return {row[0]: row for row in fold.take_rows()["clusters"]}  # type: ignore[misc]


def test_the_clusters_row_lists_only_the_deployments_that_taint_it() -> None:
    """A cluster installed with failover on reports, first, a Deployment the Navigator
    created there after the switch: it does not taint, so the UI must not list it."""
    registered = ev.ClusterRegistered(
        cluster_id="src", name="src", registered_at=T0, failover_enabled=True
    )
    row = cluster_rows(
        [
            registered,
            deployment("new", "src", created_at=T0 + 1),
            facts("src", at=T0 + 2, deployment_ids=["new", "legacy"]),
        ]
    )["src"]
    assert json.loads(str(row[INVENTORY])) == ["new", "legacy"]
    assert json.loads(str(row[BEFORE_FAILOVER])) == ["legacy"]


def test_a_deployment_folded_after_the_facts_updates_the_clusters_row() -> None:
    """The projector may fold a cluster's first inventory before the DeploymentCreated
    of one of its Deployments (another partition): the row is written again with it."""
    registered = ev.ClusterRegistered(
        cluster_id="src", name="src", registered_at=T0, failover_enabled=True
    )
    fold = LedgerFold()
    for offset, event in enumerate([registered, facts("src", at=T0 + 2, deployment_ids=["new"])]):
        fold.fold(f"e{offset}", event, ("ledger", 0, offset))
    (row,) = fold.take_rows()["clusters"]
    assert json.loads(str(row[BEFORE_FAILOVER])) == ["new"]  # unknown yet: it taints
    fold.fold("late", deployment("new", "src", created_at=T0 + 1), ("ledger", 1, 0))
    (row,) = fold.take_rows()["clusters"]
    assert json.loads(str(row[BEFORE_FAILOVER])) == []  # created after the switch
