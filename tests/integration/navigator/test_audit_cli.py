"""`jetbridge audit` as a real process against a sandbox world (Navigator, projector, planes).

One world, two failovers (east -> west, then back). Between them, at T1, and after the
second, at T2, the live read model is caught up and its checksums are the snapshots.
Then: replay --at T1 into an empty schema equals the T1 snapshot (not the T2 one),
verify passes and then reports a forged record, timeline tells the first failover,
export of [T1, T2] holds the second failover's events only and no secret.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from jetbridge.common import topics
from jetbridge.common.events import new_event
from tests.integration.navigator.scripted_planes import now_ms
from tests.integration.navigator.test_failover_saga import LEDGER_KEY, World

DSN = "env:AUDIT_TEST_DSN"
SCRIPT = [sys.executable, "-c", "from jetbridge.console.entrypoints.cli.main import main; main()"]


def audit(world: World, *args: str, dsn: str = "") -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AUDIT_TEST_DSN": dsn,
        "JETBRIDGE_KAFKA_BOOTSTRAP_SERVERS": world.app.settings.kafka_bootstrap_servers,
        "JETBRIDGE_TOPIC_PREFIX": world.app.settings.topic_prefix,
        "JETBRIDGE_LEDGER_KEY": LEDGER_KEY,
    }
    return subprocess.run(
        [*SCRIPT, "audit", *args], check=False, env=env, capture_output=True, text=True, timeout=120
    )


async def run(world: World, *args: str, dsn: str = "") -> subprocess.CompletedProcess[str]:
    """``dsn`` goes in the environment as AUDIT_TEST_DSN: pass it as env:AUDIT_TEST_DSN."""
    return await asyncio.to_thread(audit, world, *args, dsn=dsn)


async def snapshot(world: World) -> tuple[int, dict[str, tuple[int, str]]]:
    """The live read model, caught up with everything the Navigator decided: (T, checksums)."""
    await world.read_model.folded(world.service.fleet)
    store = world.read_model.store
    assert store is not None
    sums = await store.checksums()
    at = now_ms()
    await asyncio.sleep(0.05)  # every later ledger record is stamped after T
    return at, sums


async def test_audit_commands_on_a_live_world(
    world: World, pg_database: str, tmp_path: Path
) -> None:
    deployments = [f"dep-{i}" for i in range(6)]
    await world.facts(["east", "west"], deployments)
    first = await world.request("east", "west", "CONTROLLED")
    assert (await world.finished(first)).value == "SUCCEEDED"
    t1, at_t1 = await snapshot(world)
    second = await world.request("west", "east", "CONTROLLED")
    assert (await world.finished(second)).value == "SUCCEEDED"
    t2, at_t2 = await snapshot(world)
    assert at_t1 != at_t2

    # replay --at T equals the live read model at T, for both moments.
    for at, expected, schema in ((t1, at_t1, "replay_t1"), (t2, at_t2, "replay_t2")):
        moment = _iso(at)
        done = await run(
            world, "replay", "--at", moment, "--into", schema, "--dsn", DSN, dsn=pg_database
        )
        assert done.returncode == 0, done.stderr
        sums = json.loads(done.stdout)["checksums"]
        assert {t: (v["rows"], v["md5"]) for t, v in sums.items()} == expected, moment
    again = await run(
        world, "replay", "--at", _iso(t1), "--into", "replay_t1", "--dsn", DSN, dsn=pg_database
    )
    assert again.returncode == 8 and "not empty" in again.stderr
    shown = await run(world, "replay", "--at", _iso(t1), "--table", "failover_requests")
    assert shown.returncode == 0, shown.stderr
    requests = json.loads(shown.stdout)["tables"]["failover_requests"]
    assert [(r["request_id"], r["status"]) for r in requests] == [(first, "SUCCEEDED")]

    # verify: clean with the writer's heads; a record produced around the Navigator breaks it.
    # A password on the command line is refused before anything runs.
    leaky = await run(world, "verify", "--heads-from", pg_database, "--json")
    assert urlsplit(pg_database).password and leaky.returncode == 2
    assert "readable by every user" in leaky.stderr and leaky.stdout == ""
    clean = await run(world, "verify", "--heads-from", DSN, "--json", dsn=pg_database)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert json.loads(clean.stdout)["breaks"] == []

    # timeline of the first failover.
    told = await run(world, "timeline", first, "--json")
    assert told.returncode == 0, told.stderr
    doc = json.loads(told.stdout)
    assert doc["actors"] == ["alice@example.com"]
    assert doc["request"]["status"] == "SUCCEEDED" and doc["request"]["requested_by"]
    assert sorted(m["deployment_id"] for m in doc["missions"]) == deployments
    for m in doc["missions"]:
        assert m["status"] == "SUCCEEDED" and m["fencing_epoch"] >= 1
        assert {f["kind"] for f in m["flights"]} == {"SOURCE", "DESTINATION"}
        steps = [s for f in m["flights"] for s in f["steps"]]
        assert steps and all(s["status"] == "SUCCEEDED" for s in steps)
        assert all(s["duration_ms"] is not None and s["duration_ms"] >= 0 for s in steps)
    types = [e["event_type"] for e in doc["events"]]
    assert types.index("FailoverRequested") < types.index("FailoverStarted")
    assert types.index("FailoverStarted") < types.index("FailoverSucceeded")
    assert any(t == "FencingCompleted" for t in types) and "RequestFailover" in types
    assert [e["occurred_at"] for e in doc["events"]] == sorted(
        e["occurred_at"] for e in doc["events"]
    )
    assert second not in {e["aggregate_id"] for e in doc["events"]}
    text = await run(world, "timeline", first)
    assert text.returncode == 0 and first in text.stdout and "FailoverSucceeded" in text.stdout
    missing = await run(world, "timeline", "req-nobody")
    assert missing.returncode == 5

    # export [T1, T2]: the second failover's events only, in JSON Lines and CSV alike.
    jsonl, csv_file = tmp_path / "window.jsonl", tmp_path / "window.csv"
    window = ("--since", _iso(t1), "--until", _iso(t2))
    for fmt, out in (("jsonl", jsonl), ("csv", csv_file)):
        done = await run(world, "export", *window, "--format", fmt, "--out", str(out))
        assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    rows = list(csv.DictReader(io.StringIO(csv_file.read_text())))
    assert len(lines) == len(rows) > 0
    assert [r["event_id"] for r in rows] == [d["event_id"] for d in lines]
    assert json.loads(rows[0]["payload"]) == lines[0]["payload"]
    requested = {d["aggregate_id"] for d in lines if d["event_type"] == "FailoverRequested"}
    assert requested == {second}
    whole = await run(world, "export", "--format", "jsonl", "--out", "-")
    everything = whole.stdout
    assert len(everything.splitlines()) > len(lines)
    secrets = [LEDGER_KEY, urlsplit(pg_database).password or "no-password"]
    for secret in secrets:
        for exported in (everything, jsonl.read_text(), csv_file.read_text()):
            assert secret not in exported

    # A record produced straight onto the ledger is reported with its position.
    forged = new_event(
        "FailoverSucceeded",
        {"request_id": "req-forged", "succeeded_at": 0},
        aggregate_type="FailoverRequest",
        aggregate_id="req-forged",
        producer="mallory",
        schema_version=1,
    )
    await world.publisher.publish(forged)
    broken = await run(world, "verify", "--json")
    assert broken.returncode == 9, broken.stdout + broken.stderr
    [found] = json.loads(broken.stdout)["breaks"]
    assert found["kind"] == "UNSIGNED" and found["aggregate_id"] == "req-forged"
    assert found["partition"] >= 0 and found["offset"] >= 0
    listed = await run(world, "verify")
    assert listed.returncode == 9 and "UNSIGNED" in listed.stdout and "req-forged" in listed.stdout
    assert world.app.settings.topic_prefix + topics.FAILOVER_EVENTS in listed.stdout


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")
