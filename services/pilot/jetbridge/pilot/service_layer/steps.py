"""The step table: plan step name -> the coroutine that performs it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from jetbridge.pilot.domain.steps import StepName, StepOutcome
from jetbridge.pilot.service_layer import steps_cluster as k8s
from jetbridge.pilot.service_layer import steps_database as db
from jetbridge.pilot.service_layer.context import StepContext

StepFn = Callable[[StepContext], Awaitable[StepOutcome]]

STEPS: Mapping[str, StepFn] = {
    StepName.CREATE_NAMESPACE: k8s.create_namespace,
    StepName.APPLY_EXTERNAL_SECRETS: k8s.apply_external_secrets,
    StepName.UPSERT_DEPLOYMENT: k8s.upsert_deployment,
    StepName.WAIT_READY: k8s.wait_ready,
    StepName.STOP_SCHEDULING: k8s.stop_scheduling,
    StepName.DRAIN_TASKS: db.drain_tasks,
    StepName.FENCE_DATABASE: db.fence_database,
    StepName.DELETE_DEPLOYMENT: k8s.delete_deployment,
}
