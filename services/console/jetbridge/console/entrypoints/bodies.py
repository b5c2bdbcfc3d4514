"""Request bodies of the API: each field's rule is in the OpenAPI document."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from jetbridge.console.domain.intents import MAX_DRAIN_TIMEOUT_S, REQUEST_ID, Mode, StartIntent

CLUSTER_ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"


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
        False, description="Leave Deployments that cannot fail over behind instead of refusing."
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
