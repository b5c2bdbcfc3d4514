"""The local stack: `up` is idempotent and every endpoint of stack.env answers.

Real servers only (the ones `make stack-up` started). Each server is found by the
data directory named in its /proc command line, the same way stack.py finds it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import asyncmy
import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from jetbridge.common.settings import StackSettings

REPO_ROOT = Path(__file__).resolve().parents[3]
STACK_PY = REPO_ROOT / "deploy" / "local" / "stack.py"
TOPICS = tomllib.loads((REPO_ROOT / "schemas" / "topics.toml").read_text())["topics"]

# data dir under the state dir -> basename of the server executable
SERVERS = {
    "kafka": "java",
    "postgres15": "postgres",
    "postgres18": "postgres",
    "mariadb": "mariadbd",
}


def server_pids(state_dir: Path) -> dict[str, list[int]]:
    """Live server processes per component, by data dir in their command lines."""
    found: dict[str, list[int]] = {name: [] for name in SERVERS}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            argv = Path(entry.path, "cmdline").read_bytes().decode().split("\0")
        except OSError:
            continue
        for name, exe in SERVERS.items():
            data_dir = str(state_dir / name)
            if os.path.basename(argv[0]) == exe and any(
                arg == data_dir or data_dir + "/" in arg for arg in argv
            ):
                found[name].append(int(entry.name))
    return found


def stack_up(state_dir: Path) -> str:
    result = subprocess.run(
        [sys.executable, str(STACK_PY), "up"],
        env={**os.environ, "JETBRIDGE_STATE_DIR": str(state_dir)},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_second_up_reuses_exactly_one_server_each(stack: StackSettings) -> None:
    stack_up(stack.state_dir)
    first = server_pids(stack.state_dir)
    output = stack_up(stack.state_dir)
    second = server_pids(stack.state_dir)

    assert {name: len(pids) for name, pids in second.items()} == dict.fromkeys(SERVERS, 1)
    assert second == first, "a second `up` replaced a running server"
    for name in SERVERS:
        assert f"up: reused pid {second[name][0]}" in output


async def test_broker_has_every_topic_of_topics_toml(kafka_bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        cluster = await admin.describe_cluster()
        described = {t["topic"]: t for t in await admin.describe_topics(list(TOPICS))}
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in TOPICS]
        )
    finally:
        await admin.close()

    assert [b["node_id"] for b in cluster["brokers"]] == [1]
    configs = {
        res["resource_name"]: {e["config_names"]: e["config_value"] for e in res["config_entries"]}
        for response in responses
        for res in response.to_object()["resources"]
    }
    for name, spec in TOPICS.items():
        assert described[name]["error_code"] == 0, name
        assert len(described[name]["partitions"]) == spec["partitions"], name
        assert configs[name]["cleanup.policy"] == spec["cleanup_policy"], name
        assert configs[name]["retention.ms"] == str(spec["retention_ms"]), name


@pytest.mark.parametrize(("dsn_field", "major"), [("postgres_dsn", 15), ("postgres18_dsn", 18)])
async def test_postgres_answers_on_its_dsn(
    stack: StackSettings, dsn_field: str, major: int
) -> None:
    dsn = getattr(stack, dsn_field)
    conn = await asyncpg.connect(dsn)
    try:
        version = await conn.fetchval("SELECT current_setting('server_version_num')::int")
        max_connections = await conn.fetchval("SHOW max_connections")
    finally:
        await conn.close()
    assert version // 10000 == major
    assert max_connections == "300"

    wrong = dsn.replace(f":{urlsplit(dsn).password}@", ":not-the-password@")
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(wrong)


async def test_mariadb_answers_on_its_dsn(mysql_dsn: str) -> None:
    url = urlsplit(mysql_dsn)
    conn = await asyncmy.connect(
        host=url.hostname, port=url.port, user=url.username, password=url.password
    )
    try:
        async with conn.cursor() as cur:
            await cur.execute("SELECT VERSION(), @@max_connections")
            version, max_connections = await cur.fetchone()
    finally:
        await conn.ensure_closed()
    assert "MariaDB" in version
    assert max_connections == 300

    with pytest.raises(asyncmy.errors.OperationalError) as refused:
        await asyncmy.connect(
            host=url.hostname, port=url.port, user=url.username, password="not-the-password"
        )
    assert refused.value.args[0] == 1045


def test_a_kafka_cluster_id_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    """`kafka-storage format -t -fzX9...` reads the id as an option: a chaos run's own
    fresh stack failed on it. The first uuid drawn here encodes to '-...'."""
    sys.path.insert(0, str(REPO_ROOT / "deploy" / "local"))
    import kafka as local_kafka  # noqa: PLC0415 - deploy/local is not a package

    draws = iter([bytes([0xF8]) + bytes(15), bytes(16)])  # 0xF8 -> '-' in urlsafe base64

    class FakeUuid:
        def __init__(self) -> None:
            self.bytes = next(draws)

    monkeypatch.setattr(local_kafka.uuid, "uuid4", FakeUuid)
    assert local_kafka.random_cluster_id() == "A" * 22
