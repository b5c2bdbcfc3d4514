"""The event catalogue: complete, Avro-friendly, keyed, and every event has a home."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from jetbridge.navigator import domain
from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.events import catalogue
from jetbridge.navigator.domain.fleet import Fleet

DOMAIN = Path(domain.__file__).parent


BASES = {
    ev.DomainEvent,
    ev.ClusterEvent,
    ev.DeploymentEvent,
    ev.RequestEvent,
    ev.MissionEvent,
    ev.FlightEvent,
    ev.FlightOutcome,
}


def test_catalogue_lists_every_event_class_once() -> None:
    defined = {
        obj
        for name in ev.__all__
        if isinstance(obj := getattr(ev, name), type)
        and issubclass(obj, ev.DomainEvent)
        and obj not in BASES
    }
    assert set(catalogue.EVENT_TYPES) == defined
    assert len(catalogue.BY_NAME) == len(catalogue.EVENT_TYPES) == len(defined)


@pytest.mark.parametrize("entry", catalogue.describe(), ids=lambda e: e["name"])
def test_every_event_is_avro_friendly_and_keyed(entry: dict[str, object]) -> None:
    fields = entry["fields"]
    assert isinstance(fields, list)
    names = [f["name"] for f in fields]
    assert entry["key"] in names and names[0] == entry["key"]
    assert all(n.islower() and " " not in n for n in names)  # snake_case
    assert entry["topic"] in (ev.FAILOVER_TOPIC, ev.FLIGHT_TOPIC, ev.CLUSTER_TOPIC)
    assert entry["doc"] or entry["name"]


@pytest.mark.parametrize("cls", catalogue.EVENT_TYPES, ids=lambda c: c.__name__)
def test_every_event_is_folded_by_its_aggregate(cls: type[ev.DomainEvent]) -> None:
    fleet = Fleet()
    _, agg_cls = fleet._table(cls.AGGREGATE)
    assert agg_cls.NAME == cls.AGGREGATE
    # The handler exists: the aggregate's source mentions the event class.
    source = (DOMAIN / f"{agg_cls.__module__.rsplit('.', 1)[1]}.py").read_text()
    assert f"ev.{cls.__name__}" in source


def test_domain_imports_no_io() -> None:
    forbidden = {
        "asyncio",
        "aiokafka",
        "faust",
        "sqlalchemy",
        "asyncpg",
        "asyncmy",
        "grpc",
        "socket",
        "time",
        "datetime",
        "random",
        "uuid",
        "os",
        "kubernetes",
        "httpx",
    }
    for path in DOMAIN.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in forbidden, f"{path.name} imports {name}"
