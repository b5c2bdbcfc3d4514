"""A Forced request that takes over a Controlled one whose source became unreachable.

Why: a Controlled failover drains on the source and deletes there (not a clean-up in
that mode). If the source dies mid-way (a regional outage), none of its missions can
finish: each ends FAILED only after the drain timeout and every retry, and all that
time the request holds the source (SOURCE_FAILOVER_IN_PROGRESS) from the Forced
failover the spec names for an unreachable source.

The rule: a Forced request from source S is judged as if a Controlled request R in
progress from S did not hold the clusters when S is not reachable now (UNREACHABLE, or
declared lost) and the Forced request names R's destination. R's missions may have
made namespaces and secrets there and fenced databases to it; another destination
would leave those half-made. Accepted, R is superseded (``FailoverSuperseded``): every
mission of R not ended is cancelled, started ones too (``SUPERSEDED``), and R ends
CANCELLED. The Forced request's scope is every Deployment still recorded on S, so the
Deployments of R's unfinished missions are planned again, in Forced mode:

- a fence of R's mission that was cleared to run, recorded (``DeploymentFenced``) or
  not (still running, or its outcome folded in the same batch as the takeover): the
  Forced mission fences with the next epoch (``deployment.next_fencing_epoch``), so a
  late fence of R's is refused as stale and a late Kubernetes write of R's (an upsert
  still running on the destination) ranks below the Forced mission's;
- one never cleared (R's drain still ran): the same epoch, never presented;
- a mission of R cancelled after its fence was cleared says so
  (``fence_may_have_run``): a copy may run on the destination, and it is guarded as
  after a failed fenced mission (``deployment_eligibility.stale_copies_on_side``) until
  a mission of the Deployment succeeds there;
- the destination's other steps converge (namespace, secrets, upsert, wait);
- a step of R's running on a reachable cluster is left to end (the mission's
  wind-down) and decides nothing more; one running on the dead source is abandoned at
  once (``FlightCancelled.abandoned_step``), so the source is not held busy for it.

A mission of R that already ended keeps its outcome: a SUCCEEDED one moved its
Deployment off S, so the Forced request does not see it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from jetbridge.navigator.domain.cluster import Cluster
from jetbridge.navigator.domain.failover_request import FailoverRequest
from jetbridge.navigator.domain.reasons import Code, Finding, finding
from jetbridge.navigator.domain.vocabulary import FailoverMode, RequestStatus


def supersedable(
    source_id: str, clusters: Mapping[str, Cluster], requests: Iterable[FailoverRequest]
) -> FailoverRequest | None:
    """The Controlled request a Forced request from ``source_id`` would take over now
    (None: there is none, or the source is reachable and it can still finish)."""
    source = clusters.get(source_id)
    if source is None or source.reachable:
        return None
    for r in requests:
        if (
            r.status is RequestStatus.IN_PROGRESS
            and r.mode is FailoverMode.CONTROLLED
            and r.source_cluster_id == source_id
            and r.superseded_by is None
        ):
            return r
    return None


@dataclass(frozen=True)
class Takeover:
    """How a new request is judged against the running ones."""

    holding: list[FailoverRequest]  # the requests that hold clusters for this judgement
    superseded: FailoverRequest | None  # the Controlled request it takes over, if any
    blockers: list[Finding]  # why it may not take one over that it otherwise would


def takeover(
    mode: FailoverMode,
    source_id: str,
    destination_id: str,
    clusters: Mapping[str, Cluster],
    requests: Iterable[FailoverRequest],
) -> Takeover:
    """A Forced request may take over a Controlled one from an unreachable source, to
    the same destination only (module docstring)."""
    holding = list(requests)
    candidate = supersedable(source_id, clusters, holding) if mode is FailoverMode.FORCED else None
    if candidate is None:
        return Takeover(holding, None, [])
    if destination_id != candidate.destination_cluster_id:
        detail = f"{candidate.id} (destination {candidate.destination_cluster_id})"
        why = finding(Code.SUPERSEDING_NEEDS_SAME_DESTINATION, source_id, detail)
        return Takeover(holding, None, [why])
    return Takeover([r for r in holding if r is not candidate], candidate, [])
