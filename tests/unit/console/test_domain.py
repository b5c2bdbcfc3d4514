"""The Console's pure rules: roles, start checks, progress, filters, tokens, exit codes."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jetbridge.console.adapters.tokens import StaticTokens, parse_tokens
from jetbridge.console.domain.audit import AuditEntry, EventFilter, clusters_named
from jetbridge.console.domain.intents import Mode, StartIntent, check_start
from jetbridge.console.domain.progress import MissionProgress, progress
from jetbridge.console.domain.roles import REQUIRED, Action, Principal, Role, parse_role
from jetbridge.console.entrypoints.cli.codes import Exit, for_http_status, for_request_status


def test_roles_are_ordered_and_each_action_needs_its_role() -> None:
    allowed = {role: {a for a in Action if Principal("x", role).may(a)} for role in Role}
    assert allowed[Role.VIEWER] == {Action.READ, Action.PLAN}
    assert allowed[Role.OPERATOR] == allowed[Role.VIEWER] | {
        Action.START_FAILOVER,
        Action.CANCEL_FAILOVER,
    }
    assert allowed[Role.ADMIN] == set(Action)
    assert set(REQUIRED) == set(Action)
    assert parse_role(" Operator ") is Role.OPERATOR
    with pytest.raises(ValueError, match="unknown role 'root'"):
        parse_role("root")


def intent(**changes: object) -> StartIntent:
    base: dict[str, object] = {
        "request_id": "fo-abc123",
        "source_cluster_id": "east",
        "destination_cluster_id": "west",
        "mode": Mode.CONTROLLED,
    }
    return StartIntent(**(base | changes))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"mode": Mode.FORCED}, "confirm_forced", "required_for_forced"),
        ({"destination_cluster_id": "east"}, "destination_cluster_id", "differs_from_source"),
        ({"request_id": "Bad Id"}, "request_id", "pattern"),
        ({"drain_timeout_seconds": -1}, "drain_timeout_seconds", "range"),
        ({"halt_failure_ratio": 0.0}, "halt_failure_ratio", "range"),
        ({"max_attempts": 0}, "max_attempts", "range"),
        ({"max_concurrent_missions": -2}, "max_concurrent_missions", "range"),
    ],
)
def test_each_start_rule_names_its_field(changes: dict[str, object], field: str, rule: str) -> None:
    assert [(p.field, p.rule) for p in check_start(intent(**changes))] == [(field, rule)]


def test_a_confirmed_forced_start_and_a_controlled_one_pass() -> None:
    assert check_start(intent()) == []
    assert check_start(intent(mode=Mode.FORCED, confirm_forced=True)) == []


def test_progress_counts_steps_so_parallel_missions_move_the_bar() -> None:
    p = progress(
        "IN_PROGRESS",
        [
            MissionProgress("RUNNING", 3, 8),
            MissionProgress("RUNNING", 1, 8),
            MissionProgress("FAILED", 2, 8),  # a finished mission counts whole
            MissionProgress("CREATED", 0, 8),
        ],
    )
    assert (p.total, p.running, p.failed, p.waiting) == (4, 2, 1, 1)
    assert (p.steps_done, p.steps_total, p.percent) == (12, 32, 37.5)
    assert progress("REJECTED", []).percent == 100.0
    assert progress("PENDING", []).percent == 0.0


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["CREATED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"]),
            st.integers(0, 8),
        ),
        max_size=30,
    )
)
def test_progress_is_a_percentage_and_all_terminal_is_100(missions: list[tuple[str, int]]) -> None:
    items = [MissionProgress(s, d, 8) for s, d in missions]
    p = progress("IN_PROGRESS", items)
    assert 0.0 <= p.percent <= 100.0
    assert p.total == p.succeeded + p.failed + p.cancelled + p.running + p.waiting
    if items and all(s in ("SUCCEEDED", "FAILED", "CANCELLED") for s, _ in missions):
        assert p.percent == 100.0


def entry(seq: int, **kw: object) -> AuditEntry:
    base: dict[str, object] = {
        "seq": seq,
        "event_id": f"e{seq}",
        "event_type": "MissionStarted",
        "aggregate_type": "Mission",
        "aggregate_id": "m",
        "occurred_at": 1000 * seq,
        "actor": None,
        "producer": "navigator",
        "causation_id": None,
        "request_id": "r1",
        "deployment_id": "d1",
        "cluster_ids": ("east", "west"),
        "partition": 0,
        "offset": seq,
    }
    return AuditEntry(**(base | kw))  # type: ignore[arg-type]


def test_event_filter_applies_every_criterion() -> None:
    e = entry(5)
    assert EventFilter().matches(e)
    assert EventFilter(request_id="r1", deployment_id="d1", cluster_id="west").matches(e)
    assert not EventFilter(request_id="r2").matches(e)
    assert not EventFilter(deployment_id="d2").matches(e)
    assert not EventFilter(cluster_id="north").matches(e)
    assert EventFilter(event_types=frozenset({"MissionStarted"})).matches(e)
    assert not EventFilter(event_types=frozenset({"FlightPlanned"})).matches(e)
    assert EventFilter(since_ms=5000, until_ms=5001).matches(e)
    assert not EventFilter(until_ms=5000).matches(e)  # until is exclusive
    assert not EventFilter(after_seq=5).matches(e)
    assert not EventFilter(before_seq=5).matches(e)
    assert clusters_named({"source_cluster_id": "a", "cluster_id": "b", "to_cluster_id": "a"}) == [
        "b",
        "a",
    ]


async def test_tokens_plain_or_hashed_and_only_exact_matches() -> None:
    digest = hashlib.sha256(b"operator-secret-token-1").hexdigest()
    tokens = StaticTokens.from_text(
        "# role subject token\nviewer vic viewer-secret-token-1; operator olga sha256:" + digest
    )
    assert await tokens.verify("viewer-secret-token-1") == Principal("vic", Role.VIEWER)
    assert await tokens.verify("operator-secret-token-1") == Principal("olga", Role.OPERATOR)
    assert await tokens.verify("viewer-secret-token-") is None
    assert await tokens.verify("") is None


async def test_a_hash_sign_inside_a_token_is_part_of_it_not_a_comment() -> None:
    """Cut at its '#', the token below once left its first 16 characters as the whole
    token: the prefix let anyone in who guessed that much, the real token did not."""
    tokens = StaticTokens.from_text(
        "admin alice 0123456789abcdef#Zq8xY2pLrT  # the on-call admin\n#viewer x y"
    )
    assert len(tokens) == 1
    assert await tokens.verify("0123456789abcdef#Zq8xY2pLrT") == Principal("alice", Role.ADMIN)
    assert await tokens.verify("0123456789abcdef") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("viewer vic", "want '<role> <subject> <token>'"),
        ("boss vic viewer-secret-token-1", "unknown role"),
        ("viewer vic short", "at least 16"),
        ("viewer vic sha256:abcd", "64 hex digits"),
    ],
)
def test_bad_token_lines_are_refused_with_the_line(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_tokens(text)


def test_exit_codes_scripts_rely_on() -> None:
    assert [for_request_status(s) for s in ("SUCCEEDED", "FAILED", "REJECTED", "CANCELLED")] == [
        Exit.OK,
        Exit.FAILED,
        Exit.REFUSED,
        Exit.CANCELLED,
    ]
    assert for_request_status("IN_PROGRESS") is None
    assert [for_http_status(s) for s in (401, 403, 404, 409, 422, 500, 503)] == [
        Exit.AUTH,
        Exit.AUTH,
        Exit.NOT_FOUND,
        Exit.REFUSED,
        Exit.INVALID,
        Exit.UNAVAILABLE,
        Exit.UNAVAILABLE,
    ]
    assert len({int(e) for e in Exit}) == len(Exit)
