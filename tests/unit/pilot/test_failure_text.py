"""What an unexpected exception becomes in a step's outcome."""

from __future__ import annotations

from jetbridge.pilot.domain.steps import ErrorCode, transient
from jetbridge.pilot.service_layer.context import failure_text


def test_a_step_failure_quoting_a_driver_masks_credentials() -> None:
    """An unexpected exception's text becomes the step's outcome (Kafka, Console)."""
    error = RuntimeError("(1064, \"... near 'IDENTIFIED BY 'hunter2'' at line 1\")")
    failure = transient(ErrorCode.INTERNAL, failure_text(error))
    assert "hunter2" not in failure.message and "hunter2" not in str(failure)
    assert failure.message.startswith("RuntimeError: (1064")
