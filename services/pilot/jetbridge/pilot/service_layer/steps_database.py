"""Steps on the database side: the controlled drain and the fence.

The drain reads the Deployment's Airflow metadata database (``task_instance``) until
nothing is queued, running or deferred, or the drain timeout passes; either way it
then scales workers and the rest down and reports what was still running. The fence
goes through libs/fencing with the mission's epoch (idempotent per epoch).
"""

from __future__ import annotations

import asyncio

from jetbridge.pilot.domain.steps import Drained, ErrorCode, Fenced, StepFailure, transient
from jetbridge.pilot.service_layer.context import StepContext
from jetbridge.pilot.service_layer.steps_cluster import read_passwords, scale_down_rest

DEFAULT_DRAIN_TIMEOUT_S = 600


async def drain_tasks(ctx: StepContext) -> Drained:
    clock = ctx.ports.clock
    # 0 is a timeout (look once, then scale down), not "unset": every StartFlight
    # carries the request's value; only a flight row without the key takes the default.
    configured = ctx.params.get("drain_timeout_seconds")
    timeout = float(DEFAULT_DRAIN_TIMEOUT_S if configured is None else configured)
    if ctx.first_started_ms:  # a retry waits what is left of the timeout, not all of it
        spent = max(0.0, (clock.wall_ms() - ctx.first_started_ms) / 1000)
        timeout = max(0.0, timeout - spent)
    started = clock.monotonic()
    # Leave time before the attempt's deadline to scale down and report.
    until = min(started + timeout, ctx.deadline - 2 * ctx.config.poll_interval_s)
    try:
        by_state = await _wait_for_no_active_tasks(ctx, until)
    finally:
        await ctx.ports.tasks.release(ctx.spec.deployment_id)
    still = sum(n for n in by_state.values() if n > 0)
    await scale_down_rest(ctx)
    return Drained(
        still_running=still,
        timed_out=still > 0,
        by_state={k: v for k, v in by_state.items() if v > 0},
        waited_seconds=clock.monotonic() - started,
    )


async def _wait_for_no_active_tasks(ctx: StepContext, until: float) -> dict[str, int]:
    """Poll ``task_instance`` until nothing is active or ``until``; the last counts."""
    clock = ctx.ports.clock
    by_state: dict[str, int] = {}
    while True:
        failed: Exception | None = None
        try:
            by_state = await ctx.ports.tasks.active(ctx.spec.deployment_id)
        except StepFailure:
            raise
        except Exception as error:  # the metadata DB is down: retry inside the attempt
            failed = error
        if failed is None and sum(n for n in by_state.values() if n > 0) == 0:
            return by_state
        if clock.monotonic() >= until:
            if failed is not None:  # the last count failed: never a drain that ended
                raise transient(
                    ErrorCode.DATABASE_UNAVAILABLE, f"task_instance: {failed}"
                ) from failed
            return by_state
        await asyncio.sleep(min(ctx.config.poll_interval_s, max(0.0, until - clock.monotonic())))


async def fence_database(ctx: StepContext) -> Fenced:
    """Fence with the mission's epoch; a provisioning flight creates the roles instead
    (only this cluster's side may connect, epoch 0)."""
    fencer = ctx.ports.fencer
    if ctx.params.get("provision"):
        return await fencer.provision(ctx.spec.deployment_id, await read_passwords(ctx))
    return await fencer.fence(ctx.spec.deployment_id, ctx.flight.fencing_epoch)
