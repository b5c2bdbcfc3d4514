"""One step attempt's deadlines: what the failure says when the hard deadline strikes."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from jetbridge.common.backoff import Backoff
from jetbridge.pilot.adapters.clock import SystemClock
from jetbridge.pilot.domain.decisions import RunStep
from jetbridge.pilot.domain.steps import ErrorCode, StepFailure, StepOutcome, Succeeded
from jetbridge.pilot.service_layer.context import PilotConfig, Ports, StepContext
from jetbridge.pilot.service_layer.runner import FlightRunner

from .test_domain import flight

# A 1 s budget: the attempt ends at 1.0 s, its waits at 0.9 s (the margins are a tenth).
ACTION = RunStep(index=0, name="APPLY_EXTERNAL_SECRETS", attempt=1, deadline_seconds=1)


async def attempt(step: Any, action: RunStep = ACTION) -> StepOutcome | StepFailure:
    ports = Ports(None, None, None, SystemClock())  # type: ignore[arg-type]
    config = PilotConfig(poll_interval_s=0.05)
    backoff = Backoff(0.01, 0.01)  # a retry would fit before the hard deadline
    runner = FlightRunner(
        None,  # type: ignore[arg-type]
        ports,
        None,  # type: ignore[arg-type]
        config,
        lease_seconds=30,
        backoff=backoff,
    )
    return await runner._attempt(flight(), action, step)


async def test_a_wait_that_fails_at_its_end_is_not_tried_again() -> None:
    """A try begun after the waits' end could only fail its first wait or be cut short
    (the clean-clone CI run of d3225fd: the retry overran into DEADLINE_EXCEEDED)."""
    tries = 0

    async def step(ctx: StepContext) -> StepOutcome:
        nonlocal tries
        tries += 1
        await ctx.poll(_never_ready, ErrorCode.SECRETS_NOT_READY, "secrets")
        return Succeeded({})

    result = await attempt(step)
    assert isinstance(result, StepFailure) and result.code is ErrorCode.SECRETS_NOT_READY
    assert result.message == "secrets: store down"
    assert tries == 1


async def test_a_configuration_the_manifests_cannot_take_fails_the_step_unrun() -> None:
    """Before the step runs (the Forced destination's first is the fence): a permanent
    INVALID_CONFIGURATION outcome, not an exception out of the runner."""
    ran = False

    async def step(ctx: StepContext) -> StepOutcome:
        nonlocal ran
        ran = True
        return Succeeded({})

    bad = {"deployment_spec": {"components": [{"name": "flower", "replicas": 1}]}}
    result = await attempt(step, RunStep(0, "FENCE_DATABASE", 1, 1, params=bad))
    assert isinstance(result, StepFailure) and result.code is ErrorCode.INVALID_CONFIGURATION
    assert not result.transient and "'flower'" in result.message
    assert not ran


async def test_a_wait_whose_last_check_overruns_reports_what_it_last_found() -> None:
    """The last re-check starts at the wait's own end; a slow API server can hold it past
    the hard deadline. The failure still names what was not ready."""
    checks = 0

    async def step(ctx: StepContext) -> StepOutcome:
        async def ready() -> tuple[bool, str]:
            nonlocal checks
            checks += 1
            if ctx.remaining() < 0.1:
                await asyncio.sleep(5)  # hangs past the hard deadline
            return False, f"store down ({checks} checks)"

        await ctx.poll(ready, ErrorCode.SECRETS_NOT_READY, "secrets through store s")
        return Succeeded({})

    result = await attempt(step)
    assert isinstance(result, StepFailure) and result.transient
    assert result.code is ErrorCode.SECRETS_NOT_READY
    assert result.message.startswith("secrets through store s: store down (")
    assert result.message.endswith("(re-checked past the 1s deadline)")
    assert checks > 3  # it polled, then the hard deadline cut the last check short


async def test_a_step_that_overruns_outside_a_wait_is_a_bare_deadline() -> None:
    async def step(ctx: StepContext) -> StepOutcome:
        await ctx.poll(_ready_at_once, ErrorCode.SECRETS_NOT_READY, "secrets")
        await asyncio.sleep(5)  # e.g. an apply the API server never answers
        return Succeeded({})

    result = await attempt(step)
    assert isinstance(result, StepFailure)
    assert (result.code, result.message) == (
        ErrorCode.DEADLINE_EXCEEDED,
        "APPLY_EXTERNAL_SECRETS ran past its deadline of 1s",
    )


async def _ready_at_once() -> tuple[bool, str]:
    return True, ""


async def _never_ready() -> tuple[bool, str]:
    return False, "store down"


class _Unreachable:
    """A Flightdeck that cannot be reached: every renewal fails (not LeaseLost)."""

    def __init__(self, hang: bool = False) -> None:
        self.renewals = 0
        self.hang = hang

    async def renew(self, claim: Any, lease: float) -> Any:
        self.renewals += 1
        if self.hang:
            await asyncio.sleep(60)
        raise ConnectionError("flightdeck away")


def _runner(deck: Any, lease: float) -> FlightRunner:
    ports = Ports(None, None, None, SystemClock())  # type: ignore[arg-type]
    return FlightRunner(deck, ports, None, PilotConfig(), lease_seconds=lease)  # type: ignore[arg-type]


async def test_renewals_that_keep_failing_stop_the_flight_before_its_lease_can_run_out() -> None:
    """Flightdeck unreachable, the cluster not: the step used to go on up to its deadline
    while the lease ran out and another Pilot claimed the flight. The renewer now ends
    (which stops the run) before the lease can have run out: ``sent + lease``."""
    loop = asyncio.get_running_loop()
    for deck in (_Unreachable(), _Unreachable(hang=True)):
        started = loop.time()
        claim = SimpleNamespace(flight_id="f")
        # A lease of seconds: the renewer gives up a sixth of it early, which must
        # outlast a loaded machine's late wake-ups.
        await asyncio.wait_for(_runner(deck, lease=2.4)._renew(claim), 10)  # type: ignore[arg-type]
        took = loop.time() - started
        assert took < 2.4, f"the renewer held on past the lease ({took:.2f} s)"
        assert deck.renewals >= 1  # it tried
