"""The health state machine: examples from the spec and properties over random histories."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from jetbridge.dplink.domain.health import (
    Health,
    HealthState,
    Thresholds,
    Transition,
    initial,
    observe_heartbeat,
    observe_time,
)

T = Thresholds()  # 1 s heartbeats, DEGRADED after 3 s, UNREACHABLE after 10 s, 3 to recover


def _run(
    state: HealthState, steps: list[tuple[str, float, bool]], t: Thresholds = T
) -> tuple[HealthState, list[Transition], list[tuple[str, float, HealthState]]]:
    """Apply (kind, time, ok) steps; returns the end state, transitions and the trace."""
    transitions: list[Transition] = []
    trace = []
    for kind, now, ok in steps:
        before = state
        if kind == "beat":
            state, out = observe_heartbeat(state, now, t, () if ok else ("db",))
        else:
            state, out = observe_time(state, now, t)
        transitions.extend(out)
        trace.append((kind, now, before))
    return state, transitions, trace


def _healthy_at(now: float) -> HealthState:
    state = initial(now - 3)
    for i in range(3):
        state, _ = observe_heartbeat(state, now - 2 + i, T)
    assert state.health is Health.HEALTHY
    return state


def test_first_three_heartbeats_make_a_cluster_healthy() -> None:
    state = initial(0.0)
    state, first = observe_heartbeat(state, 0.5, T)
    state, second = observe_heartbeat(state, 1.5, T)
    assert state.health is Health.UNKNOWN and not first and not second
    state, third = observe_heartbeat(state, 2.5, T)
    assert [(t.previous, t.current) for t in third] == [(Health.UNKNOWN, Health.HEALTHY)]


def test_silence_degrades_at_3s_and_makes_unreachable_at_10s() -> None:
    state = _healthy_at(100.0)
    assert observe_time(state, 102.99, T)[1] == ()
    state, degraded = observe_time(state, 103.0, T)
    assert [(t.previous, t.current) for t in degraded] == [(Health.HEALTHY, Health.DEGRADED)]
    assert observe_time(state, 109.9, T)[1] == ()
    state, unreachable = observe_time(state, 110.0, T)
    assert [t.current for t in unreachable] == [Health.UNREACHABLE]
    assert observe_time(state, 500.0, T)[1] == ()  # transitions only, never repeats


def test_a_failing_check_degrades_at_once_and_three_good_heartbeats_recover() -> None:
    state = _healthy_at(10.0)
    state, out = observe_heartbeat(state, 11.0, T, ("cluster-secret-store",))
    assert [(t.current, t.reason) for t in out] == [
        (Health.DEGRADED, "check failed: cluster-secret-store")
    ]
    state, _ = observe_heartbeat(state, 12.0, T)
    state, out = observe_heartbeat(state, 13.0, T)
    assert state.health is Health.DEGRADED and not out
    state, out = observe_heartbeat(state, 14.0, T)
    assert [t.current for t in out] == [Health.HEALTHY]


def test_a_long_gap_without_ticks_still_passes_through_degraded() -> None:
    state = _healthy_at(0.0)
    state, out = observe_heartbeat(state, 30.0, T)
    assert [(t.previous, t.current) for t in out] == [
        (Health.HEALTHY, Health.DEGRADED),
        (Health.DEGRADED, Health.UNREACHABLE),
    ]
    assert state.good_streak == 1  # the late heartbeat starts a new streak


def test_thresholds_are_validated() -> None:
    for bad in (
        {"degraded_after": 0.5},
        {"unreachable_after": 2.0},
        {"recover_heartbeats": 0},
    ):
        try:
            Thresholds(**bad)  # type: ignore[arg-type]
        except ValueError:
            continue
        raise AssertionError(f"{bad} accepted")


# -- properties -----------------------------------------------------------------------

_step = st.tuples(
    st.sampled_from(["beat", "tick"]),
    st.floats(min_value=0.0, max_value=12.0, allow_nan=False),
    st.booleans(),
)


@st.composite
def histories(draw: st.DrawFn) -> list[tuple[str, float, bool]]:
    """Observations at increasing times (gaps of 0..12 s), mostly good heartbeats."""
    now = 0.0
    steps = []
    for kind, gap, ok in draw(st.lists(_step, max_size=60)):
        now += gap
        steps.append((kind, now, ok or draw(st.integers(0, 4)) > 0))
    return steps


@settings(max_examples=400, deadline=None)
@given(histories())
def test_transitions_chain_and_never_repeat(steps: list[tuple[str, float, bool]]) -> None:
    state, transitions, _ = _run(initial(0.0), steps)
    current = Health.UNKNOWN
    for transition in transitions:
        assert transition.previous is current
        assert transition.current is not transition.previous
        current = transition.current
    assert current is state.health


@settings(max_examples=400, deadline=None)
@given(histories())
def test_never_healthy_to_unreachable_directly(steps: list[tuple[str, float, bool]]) -> None:
    _, transitions, _ = _run(initial(0.0), steps)
    assert all(
        not (t.previous is Health.HEALTHY and t.current is Health.UNREACHABLE) for t in transitions
    )


@settings(max_examples=400, deadline=None)
@given(histories())
def test_transitions_happen_only_at_threshold_crossings(
    steps: list[tuple[str, float, bool]],
) -> None:
    state = initial(0.0)
    for kind, now, ok in steps:
        before = state
        silence = before.silence(now)
        if kind == "beat":
            state, out = observe_heartbeat(before, now, T, () if ok else ("db",))
        else:
            state, out = observe_time(before, now, T)
        for transition in out:
            if transition.current is Health.UNREACHABLE:
                assert silence >= T.unreachable_after
            elif transition.current is Health.DEGRADED:
                assert silence >= T.degraded_after or (kind == "beat" and not ok)
            elif transition.current is Health.HEALTHY:
                assert kind == "beat" and ok and state.good_streak >= T.recover_heartbeats


@settings(max_examples=300, deadline=None)
@given(
    late_by=st.floats(min_value=0.0, max_value=T.unreachable_after - 1.01, allow_nan=False),
    tick=st.sampled_from([0.05, 0.2, 0.5]),
)
def test_a_single_late_heartbeat_never_makes_a_healthy_cluster_unreachable(
    late_by: float, tick: float
) -> None:
    """Heartbeats every second, one arrives ``late_by`` s late, ticks in between."""
    state = _healthy_at(10.0)
    now, beat_at, seen = 10.0, 11.0 + late_by, []
    for _ in range(6):
        while now + tick < beat_at:
            now += tick
            state, out = observe_time(state, now, T)
            seen.extend(out)
        now = beat_at
        state, out = observe_heartbeat(state, now, T)
        seen.extend(out)
        beat_at = now + 1.0
    assert Health.UNREACHABLE not in {t.current for t in seen}
    assert state.health is Health.HEALTHY  # and it recovers after three good heartbeats
    if late_by < T.degraded_after - 1.0:
        assert seen == []  # below the threshold nothing happens at all
