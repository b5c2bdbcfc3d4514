"""Request bodies of the API: each field's rule is in the OpenAPI document."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from jetbridge.console.domain.intents import MAX_DRAIN_TIMEOUT_S, REQUEST_ID, Mode, StartIntent
from jetbridge.navigator.domain import registering
from jetbridge.navigator.domain.lost_cluster import ATTESTATION_MAX, attestation_problem
from jetbridge.navigator.domain.registering import problems

CLUSTER_ID = registering.CLUSTER_ID.pattern  # the Navigator's rule, checked here first


class ClusterBody(BaseModel):
    """A data plane to register, or a registered one's new endpoint, name or identity.

    The Navigator checks the same rules again and decides: a repeat changes nothing;
    a registered cluster keeps its failover state (``failover_enabled`` counts only for
    a new one); a deregistered id is refused.
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    cluster_id: str = Field(pattern=CLUSTER_ID, examples=["dp-east"])
    endpoint: str = Field(
        min_length=3,
        max_length=260,
        examples=["jetbridge-agent.jetbridge.svc.example.com:8443"],
        description="host:port of the data-plane agent's gRPC server, as the control plane "
        "reaches it.",
    )
    name: str = Field("", max_length=253, description="Shown in the UI; the id when empty.")
    certificate_identity: str = Field(
        "",
        max_length=2048,
        examples=["spiffe://jetbridge/cluster/dp-east"],
        description="SAN URI the agent's certificate must carry; empty: "
        "spiffe://jetbridge/cluster/<cluster_id>.",
    )
    failover_enabled: bool = Field(
        False,
        description="Installed with failover on: its first inventory is then taken as what "
        "it held when failover was switched on. Register it before it holds any Deployment.",
    )

    @model_validator(mode="after")
    def _agent_can_answer(self) -> ClusterBody:
        """The Navigator's rules (host:port, a spiffe:// identity...), answered at once."""
        if found := problems(self.cluster_id, self.name, self.endpoint, self.certificate_identity):
            raise ValueError("; ".join(found))
        return self


class LostBody(BaseModel):
    """An admin's word that a silent data plane is gone for good (see the route)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    attestation: str = Field(
        max_length=ATTESTATION_MAX,
        examples=["region eu-1 destroyed in INC-4521; nodes terminated by the provider"],
        description="Why you are sure it will not come back: kept in the audit log.",
    )
    confirm_lost: bool = Field(
        description="Must be true: copies left there stop holding its database side."
    )

    @field_validator("attestation")
    @classmethod
    def _says_why(cls, attestation: str) -> str:
        if problem := attestation_problem(attestation):
            raise ValueError(problem)
        return attestation

    @field_validator("confirm_lost")
    @classmethod
    def _confirmed(cls, confirm_lost: bool) -> bool:
        if not confirm_lost:
            raise ValueError(
                "declaring a cluster lost lets its database side be fenced in elsewhere; if"
                " it comes back, its old copies could write: set confirm_lost to true"
            )
        return confirm_lost


class FailoverBody(BaseModel):
    """A failover to plan (dry run) or start.

    Strict: ``false`` is not a number and ``"5"`` is not an integer; an unknown field
    is an error, so a misspelt option never silently falls back to its default.
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    source_cluster_id: str = Field(pattern=CLUSTER_ID, examples=["east"])
    destination_cluster_id: str = Field(pattern=CLUSTER_ID, examples=["west"])
    mode: Mode = Field(
        strict=False,  # the JSON string names the member
        description="CONTROLLED drains the source first; FORCED does not.",
    )
    drain_timeout_seconds: int = Field(
        600, ge=0, le=MAX_DRAIN_TIMEOUT_S, description="Controlled: longest wait for tasks."
    )
    exclude_ineligible: bool = Field(
        False,
        description="Leave Deployments that cannot fail over behind instead of refusing; "
        "the request moves the others and ends FAILED, naming those left.",
    )
    confirm_forced: bool = Field(
        False, description="Required (true) to start a FORCED failover: running tasks are lost."
    )
    request_id: str | None = Field(
        None,
        pattern=REQUEST_ID.pattern,
        description="Optional id of your choosing: sending the same one twice starts one failover.",
    )
    max_concurrent_missions: int = Field(0, ge=0, le=100_000, description="0: no limit.")
    halt_failure_ratio: float = Field(
        1.0, gt=0.0, le=1.0, description="Stop starting missions once this share has failed."
    )
    max_attempts: int = Field(5, ge=1, le=100, description="Attempts of a transient failure.")

    def intent(self, request_id: str) -> StartIntent:
        return StartIntent(
            request_id=self.request_id or request_id,
            source_cluster_id=self.source_cluster_id,
            destination_cluster_id=self.destination_cluster_id,
            mode=self.mode,
            drain_timeout_seconds=self.drain_timeout_seconds,
            exclude_ineligible=self.exclude_ineligible,
            confirm_forced=self.confirm_forced,
            max_concurrent_missions=self.max_concurrent_missions,
            halt_failure_ratio=self.halt_failure_ratio,
            max_attempts=self.max_attempts,
        )


class ErrorBody(BaseModel):
    """Every 4xx: a code, a sentence, and each field with the rule it broke."""

    error: str
    message: str
    problems: list[dict[str, str]] = []
    reasons: list[dict[str, str]] = []


class ModeHelp(BaseModel):
    mode: Mode
    help: str
