"""Names folded from Deployment ids: valid, bounded, readable when they can be, and
never the same for two ids (the failover of one must never touch the other)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jetbridge.common.naming import folded_name
from jetbridge.fencing.domain import DeploymentDatabases
from jetbridge.pilot.domain.airflow import DeploymentSpec, slug

DNS = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
SQL = re.compile(r"^[a-z0-9]([a-z0-9_]*[a-z0-9])?$")
HOSTILE = st.text(min_size=1, max_size=300)  # quotes, unicode, surrogates, very long


def test_clean_short_ids_keep_their_name() -> None:
    assert slug("demo1-af000") == "demo1-af000"
    assert DeploymentDatabases.named("team_x").epoch_database == "airflow_team_x"


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Team A/Prod", "team-a prod"),  # fold alike
        ("x" * 50 + "1", "x" * 50 + "2"),  # truncate alike
        ("日本", "中文"),  # fold to nothing
        ("a-b", "a_b"),  # each the clean form in one scheme
        ("d", "'"),
    ],
)
def test_ids_that_fold_alike_get_different_names(one: str, other: str) -> None:
    assert slug(one) != slug(other)
    assert DeploymentSpec(one, "").namespace != DeploymentSpec(other, "").namespace
    dbs = DeploymentDatabases.named(one), DeploymentDatabases.named(other)
    assert dbs[0].epoch_database != dbs[1].epoch_database
    assert dbs[0].role_a != dbs[1].role_a


@given(HOSTILE, HOSTILE)
def test_distinct_ids_give_distinct_names_in_both_schemes(one: str, other: str) -> None:
    if one != other:
        assert slug(one) != slug(other)
        assert (
            DeploymentDatabases.named(one).epoch_database
            != DeploymentDatabases.named(other).epoch_database
        )


@given(HOSTILE)
def test_every_name_is_valid_and_bounded(deployment_id: str) -> None:
    spec = DeploymentSpec(deployment_id, "")
    assert DNS.match(spec.release) and len(spec.release) <= 40
    assert DNS.match(spec.namespace) and len(spec.namespace) <= 63
    for component in spec.components:
        name = spec.deployment_name(component.name)
        assert DNS.match(name) and len(name) <= 63
    dbs = DeploymentDatabases.named(deployment_id)  # its own checks: 63 bytes, no NUL
    assert SQL.match(dbs.epoch_database)
    assert all(len(n.encode()) <= 63 for n in (*dbs.databases, *dbs.all_roles))


def test_a_too_small_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="limit must exceed 9"):
        folded_name("x", allowed="a-z", separator="-", limit=9)
