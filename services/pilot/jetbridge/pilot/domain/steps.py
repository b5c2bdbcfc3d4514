"""Step names, typed step failures and step outcomes.

A step either returns an outcome or raises :class:`StepFailure`. ``transient`` says
whether running the same step again may succeed without anyone changing anything
(a store that is down, an API server that timed out); a permanent failure names what
an operator must fix (an image in another registry, a stale fencing epoch).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from jetbridge.common.redaction import redact


class StepName(StrEnum):
    """The flight plan steps (the same symbols as the Navigator's and the Avro enum)."""

    CREATE_NAMESPACE = "CREATE_NAMESPACE"
    APPLY_EXTERNAL_SECRETS = "APPLY_EXTERNAL_SECRETS"
    FENCE_DATABASE = "FENCE_DATABASE"
    UPSERT_DEPLOYMENT = "UPSERT_DEPLOYMENT"
    WAIT_READY = "WAIT_READY"
    STOP_SCHEDULING = "STOP_SCHEDULING"
    DRAIN_TASKS = "DRAIN_TASKS"
    DELETE_DEPLOYMENT = "DELETE_DEPLOYMENT"


class ErrorCode(StrEnum):
    DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"
    IMAGE_PULL_FAILED = "IMAGE_PULL_FAILED"
    IMAGE_NOT_QUALIFIED = "IMAGE_NOT_QUALIFIED"
    INVALID_CONFIGURATION = "INVALID_CONFIGURATION"
    SECRET_STORE_UNAVAILABLE = "SECRET_STORE_UNAVAILABLE"
    SECRETS_NOT_READY = "SECRETS_NOT_READY"
    CLUSTER_UNAVAILABLE = "CLUSTER_UNAVAILABLE"
    CLUSTER_REFUSED = "CLUSTER_REFUSED"
    NOT_READY = "NOT_READY"
    FENCING_REFUSED = "FENCING_REFUSED"
    # A newer mission's flight wrote the object since (its epoch annotation is higher):
    # this flight is an older mission's, late, and must not overwrite it.
    TAKEN_OVER = "TAKEN_OVER"
    # The cluster's registry credentials (JETBRIDGE_PILOT_IMAGE_PULL_SECRET) are not
    # there to copy: an operator's to create; the step's retries find it once made.
    REGISTRY_CREDENTIALS_MISSING = "REGISTRY_CREDENTIALS_MISSING"
    FENCING_FAILED = "FENCING_FAILED"
    DATABASE_UNAVAILABLE = "DATABASE_UNAVAILABLE"
    DATABASE_READ_ONLY = "DATABASE_READ_ONLY"
    UNKNOWN_STEP = "UNKNOWN_STEP"
    INTERNAL = "INTERNAL"


class StepFailure(Exception):
    """A step attempt that failed; ``message`` is what an operator reads (no secrets).

    It goes into the step's outcome (Kafka, the Console, the audit log), and often
    quotes another library's exception, so credential-shaped parts are masked here.
    """

    def __init__(self, code: ErrorCode, message: str, *, transient: bool) -> None:
        message = redact(message)
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.transient = transient


def transient(code: ErrorCode, message: str) -> StepFailure:
    return StepFailure(code, message, transient=True)


def permanent(code: ErrorCode, message: str) -> StepFailure:
    return StepFailure(code, message, transient=False)


@dataclass(frozen=True)
class Succeeded:
    """A plain success; ``details`` go into the step result (no secret values)."""

    details: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Drained:
    """DRAIN_TASKS: nothing left (``still_running`` 0) or the timeout passed."""

    still_running: int
    timed_out: bool
    by_state: dict[str, int] = field(default_factory=dict)
    waited_seconds: float = 0.0


@dataclass(frozen=True)
class Fenced:
    """FENCE_DATABASE: only this cluster's role may connect, at ``epoch``."""

    epoch: int
    active_role: str
    fenced_role: str
    sessions_terminated: int
    already_applied: bool = False


@dataclass(frozen=True)
class FenceRefused:
    """A fencer with an older epoch than the stored one: nothing was changed."""

    attempted_epoch: int
    current_epoch: int
    requested_active_role: str
    current_active_role: str


StepOutcome = Succeeded | Drained | Fenced


class FencingRefusedFailure(StepFailure):
    """A stale epoch: permanent, and reported with ``FencingRefused`` beside it."""

    def __init__(self, refusal: FenceRefused, message: str) -> None:
        super().__init__(ErrorCode.FENCING_REFUSED, message, transient=False)
        self.refusal = refusal
