"""The Console's use cases: read through the ReadModel, change only by sending commands.

A start or cancel is checked first (malformed, unconfirmed, refused by the rules the
Navigator applies, or about something that does not exist): then nothing is sent and
the caller gets the reasons. Otherwise the command leaves with the operator as its
``actor`` and the call waits a few seconds for the Navigator's answer on the ledger.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from jetbridge.common.events import EventRecord, new_event
from jetbridge.console.domain.intents import Problem, StartIntent, check_start
from jetbridge.console.domain.progress import ACTIVE_REQUEST
from jetbridge.console.domain.roles import Action, Principal
from jetbridge.console.service_layer.ports import CommandSender, ReadModel
from jetbridge.console.service_layer.views import (
    ClusterView,
    CommandAccepted,
    PlanView,
    Reason,
    RequestDetail,
)

PRODUCER = "console"


class Forbidden(Exception):
    def __init__(self, principal: Principal, action: Action) -> None:
        super().__init__(f"{principal.role.value} {principal.subject!r} may not {action.value}")
        self.action = action


class NotFound(Exception):
    pass


class Invalid(Exception):
    """Malformed or unconfirmed: the problems name each field and the rule it broke."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = problems


class Refused(Exception):
    """Well-formed, but the fleet's state refuses it (eligibility, a finished request)."""

    def __init__(self, code: str, reasons: list[Reason]) -> None:
        super().__init__(f"{code}: " + "; ".join(r.message for r in reasons))
        self.code = code
        self.reasons = reasons


def clock_ms() -> int:
    return time.time_ns() // 1_000_000


def new_request_id() -> str:
    return f"fo-{uuid.uuid4().hex[:12]}"


@dataclass
class ConsoleService:
    read: ReadModel
    sender: CommandSender
    clock: Callable[[], int] = clock_ms
    answer_timeout_s: float = 5.0
    # Why the API cannot answer yet (Kafka not reached, the ledger not read), or None.
    # Until it can, an empty model would answer 404 for requests that exist.
    unavailable: Callable[[], str | None] = lambda: None

    @staticmethod
    def authorise(principal: Principal, action: Action) -> None:
        if not principal.may(action):
            raise Forbidden(principal, action)

    async def plan(self, principal: Principal, intent: StartIntent) -> PlanView:
        """The dry run: what the Navigator would decide and plan now; creates nothing."""
        self.authorise(principal, Action.PLAN)
        problems = [p for p in check_start(intent) if p.rule != "required_for_forced"]
        if problems:
            raise Invalid(problems)
        return await self.read.plan(intent, self.clock())

    async def start(self, principal: Principal, intent: StartIntent) -> CommandAccepted:
        self.authorise(principal, Action.START_FAILOVER)
        problems = check_start(intent)
        if problems:
            raise Invalid(problems)
        plan = await self.read.plan(intent, self.clock())
        if not plan.would_be_accepted:
            raise Refused("INELIGIBLE", plan.blocking_reasons)
        payload = {
            "request_id": intent.request_id,
            "source_cluster_id": intent.source_cluster_id,
            "destination_cluster_id": intent.destination_cluster_id,
            "mode": intent.mode.value,
            "exclude_ineligible": intent.exclude_ineligible,
            "drain_timeout_seconds": intent.drain_timeout_seconds,
            "max_attempts": intent.max_attempts,
            "max_concurrent_missions": intent.max_concurrent_missions,
            "halt_failure_ratio": intent.halt_failure_ratio,
        }
        command = self._command("RequestFailover", intent.request_id, payload, principal)
        return await self._send_and_wait(command, intent.request_id, principal)

    async def cancel(self, principal: Principal, request_id: str) -> CommandAccepted:
        self.authorise(principal, Action.CANCEL_FAILOVER)
        request = await self.read.request(request_id)
        if request is None:
            raise NotFound(f"no failover request {request_id!r}")
        if request.status not in ACTIVE_REQUEST:
            why = Reason(
                code="REQUEST_FINISHED",
                subject_id=request_id,
                message=f"Failover {request_id} already ended {request.status}.",
            )
            raise Refused("REQUEST_FINISHED", [why])
        command = self._command("CancelFailover", request_id, {"request_id": request_id}, principal)
        return await self._send_and_wait(command, request_id, principal, cancel=True)

    async def enable_failover(self, principal: Principal, cluster_id: str) -> CommandAccepted:
        self.authorise(principal, Action.ENABLE_FAILOVER)
        if await self.read.cluster(cluster_id) is None:
            raise NotFound(f"no cluster {cluster_id!r}")
        command = self._command("EnableFailover", cluster_id, {"cluster_id": cluster_id}, principal)
        await self.sender.send(command)
        return self._accepted(command, principal, None, None)

    async def register_cluster(
        self, principal: Principal, registration: Mapping[str, object]
    ) -> CommandAccepted:
        """Send RegisterCluster and wait for the Navigator's answer: a refusal (bad input,
        a deregistered id) comes back as one; otherwise accepted once the ledger shows the
        registration, or at the answer timeout (the decision may still come)."""
        self.authorise(principal, Action.REGISTER_CLUSTER)
        cluster_id = str(registration["cluster_id"])
        command = self._command("RegisterCluster", cluster_id, registration, principal)
        wanted = ("REGISTERED", registration["endpoint"])
        return await self._send_and_see(
            command,
            principal,
            lambda c: c is not None and (c.registration, c.endpoint) == wanted,
        )

    async def deregister_cluster(self, principal: Principal, cluster_id: str) -> CommandAccepted:
        """Send DeregisterCluster; answered as a registration is (refused while the
        cluster still holds Deployments or a failover, flight or clean-up needs it)."""
        self.authorise(principal, Action.REGISTER_CLUSTER)
        if await self.read.cluster(cluster_id) is None:
            raise NotFound(f"no cluster {cluster_id!r}")
        command = self._command(
            "DeregisterCluster", cluster_id, {"cluster_id": cluster_id}, principal
        )
        return await self._send_and_see(
            command, principal, lambda c: c is not None and c.registration == "DEREGISTERED"
        )

    async def declare_lost(
        self, principal: Principal, cluster_id: str, attestation: str
    ) -> CommandAccepted:
        """Send DeclareClusterLost; answered as a registration is (refused while the
        cluster answers heartbeats, holds Deployments, or a failover names it)."""
        self.authorise(principal, Action.DECLARE_CLUSTER_LOST)
        if await self.read.cluster(cluster_id) is None:
            raise NotFound(f"no cluster {cluster_id!r}")
        payload = {"cluster_id": cluster_id, "attestation": attestation}
        command = self._command("DeclareClusterLost", cluster_id, payload, principal)
        return await self._send_and_see(
            command, principal, lambda c: c is not None and c.declared_lost_at is not None
        )

    async def _send_and_see(
        self,
        command: EventRecord,
        principal: Principal,
        done: Callable[[ClusterView | None], bool],
    ) -> CommandAccepted:
        """Send a cluster command; answered by a refusal or once ``done`` holds for its
        cluster on the ledger, or not within the answer timeout."""
        cluster_id = command.envelope.aggregate_id
        seq = self.read.last_seq()
        await self.sender.send(command)
        deadline = time.monotonic() + self.answer_timeout_s
        while True:  # looked at once at least, however short the timeout
            refusal = await self.read.refusal(command.event_id)
            if refusal is not None:
                return self._accepted(command, principal, None, refusal)
            if done(await self.read.cluster(cluster_id)):
                return self._accepted(command, principal, None, None, answered=True)
            if (left := deadline - time.monotonic()) <= 0:
                return self._accepted(command, principal, None, None)
            seq = await self.read.wait_beyond(seq, min(left, 1.0))

    def _command(
        self, kind: str, subject: str, payload: Mapping[str, object], principal: Principal
    ) -> EventRecord:
        return new_event(
            kind,
            payload,
            aggregate_type="Command",
            aggregate_id=subject,
            producer=PRODUCER,
            schema_version=1,
            correlation_id=subject,
            actor=principal.subject,
        )

    async def _send_and_wait(
        self, command: EventRecord, request_id: str, principal: Principal, *, cancel: bool = False
    ) -> CommandAccepted:
        seq = self.read.last_seq()
        await self.sender.send(command)
        deadline = time.monotonic() + self.answer_timeout_s
        while (left := deadline - time.monotonic()) > 0:
            refusal = await self.read.refusal(command.event_id)
            if refusal is not None:
                return self._accepted(command, principal, None, refusal)
            request = await self.read.request(request_id)
            if request is not None and _answered(request, cancel):
                return self._accepted(command, principal, request, None)
            seq = await self.read.wait_beyond(seq, min(left, 1.0))
        return self._accepted(command, principal, await self.read.request(request_id), None)

    @staticmethod
    def _accepted(
        command: EventRecord,
        principal: Principal,
        request: RequestDetail | None,
        refusal: Reason | None,
        *,
        answered: bool = False,
    ) -> CommandAccepted:
        return CommandAccepted(
            command_id=command.event_id,
            command_type=command.event_type,
            subject_id=command.envelope.aggregate_id,
            actor=principal.subject,
            answered=answered or refusal is not None or request is not None,
            status=request.status if request is not None else None,
            refusal=refusal,
            rejection_reasons=request.rejection_reasons if request is not None else [],
        )


def _answered(request: RequestDetail, cancel: bool) -> bool:
    """The Navigator has decided: past PENDING for a start, cancel noted for a cancel."""
    if cancel:
        return request.cancel_requested_by is not None or request.status not in ACTIVE_REQUEST
    return request.status != "PENDING"
