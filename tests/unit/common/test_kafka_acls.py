"""The planes' Kafka ACLs: the control plane everything of its run, a data plane its
own reports topic to write; principals as the broker's mapping rule derives them from
a CN; the commands that set a broker up."""

from __future__ import annotations

import re

import pytest

from jetbridge.common.kafka.acls import (
    PRINCIPAL_MAPPING_RULES,
    Acl,
    Operation,
    PatternType,
    ResourceType,
    plane_acls,
)
from jetbridge.common.kafka.enrol import main
from jetbridge.common.topics import reporting_cluster, reports_topic


def test_a_data_plane_may_only_write_its_own_reports_topic() -> None:
    acls = plane_acls("run7.", ["dp-east", "dp-west"])
    east = {a for a in acls if a.principal == "User:dp-east"}
    assert east == {
        Acl(
            "User:dp-east",
            ResourceType.TOPIC,
            "run7.jetbridge.flight.events.dp-east",
            PatternType.LITERAL,
            op,
        )
        for op in (Operation.WRITE, Operation.DESCRIBE)
    }


def test_the_control_plane_has_its_runs_topics_and_the_groups() -> None:
    control = {a for a in plane_acls("", ["dp-east"]) if a.principal == "User:control-plane"}
    assert control == {
        Acl(
            "User:control-plane",
            ResourceType.TOPIC,
            "jetbridge.",
            PatternType.PREFIXED,
            Operation.ALL,
        ),
        Acl("User:control-plane", ResourceType.GROUP, "*", PatternType.LITERAL, Operation.ALL),
    }


def test_no_binding_reaches_another_prefix_or_cluster() -> None:
    acls = plane_acls("a.", ["dp-east", "dp-east"])  # a repeated id binds once
    assert len(acls) == 4
    assert all(
        a.resource_name.startswith("a.") for a in acls if a.resource_type is ResourceType.TOPIC
    )
    assert {a.principal for a in acls} == {"User:control-plane", "User:dp-east"}


@pytest.mark.parametrize("cluster", ["control-plane", "kafka", "Dp_East", ""])
def test_a_cluster_id_that_is_reserved_or_not_a_label_is_refused(cluster: str) -> None:
    with pytest.raises(ValueError, match=repr(cluster)):
        plane_acls("", [cluster])


@pytest.mark.parametrize(
    ("dn", "principal"),
    [
        ("CN=dp-east", "dp-east"),
        ("CN=control-plane,O=Acme,C=DE", "control-plane"),
        ("O=Acme,CN=dp-east", None),  # not led by CN: the whole DN, no plane's name
    ],
)
def test_the_mapping_rule_takes_the_leading_cn(dn: str, principal: str | None) -> None:
    # Kafka applies RULE:<java regex>/<replacement>/ to the RFC 2253 subject.
    rule = re.fullmatch(r"RULE:(.*)/(.*)/,DEFAULT", PRINCIPAL_MAPPING_RULES)
    assert rule is not None
    pattern, replacement = rule.group(1), rule.group(2).replace("$1", r"\1")
    match = re.fullmatch(pattern, dn)
    assert (match.expand(replacement) if match else None) == principal


def test_print_gives_the_topic_and_acl_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--prefix", "p.", "--cluster", "dp-east", "--print"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        "kafka-topics.sh --create --if-not-exists --topic p.jetbridge.flight.events.dp-east "
        "--partitions 12 --config cleanup.policy=delete --config retention.ms=-1"
    )
    assert (
        "kafka-acls.sh --add --allow-principal User:dp-east --operation Write "
        "--topic p.jetbridge.flight.events.dp-east --resource-pattern-type literal"
    ) in lines
    assert (
        "kafka-acls.sh --add --allow-principal User:control-plane --operation All "
        "--topic p.jetbridge. --resource-pattern-type prefixed"
    ) in lines
    assert len(lines) == 5


@pytest.mark.parametrize(
    ("topic", "prefix", "cluster"),
    [
        ("jetbridge.flight.events.dp-east", "", "dp-east"),
        ("run7.jetbridge.flight.events.dp-east", "run7.", "dp-east"),
        ("jetbridge.flight.events", "", None),  # the control plane's own
        ("jetbridge.flight.events.", "", None),
        ("other.jetbridge.flight.events.dp-east", "run7.", None),  # another run's
        ("run7.jetbridge.flight.events.dp-east", "", None),
        ("jetbridge.failover.events", "", None),
    ],
)
def test_a_reports_topic_names_its_cluster(topic: str, prefix: str, cluster: str | None) -> None:
    assert reporting_cluster(topic, prefix) == cluster
    if cluster is not None:
        assert prefix + reports_topic(cluster) == topic
