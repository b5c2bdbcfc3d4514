"""A single-node Kafka 4.x broker (KRaft combined mode) assembled from Maven Central.

Debian has no Kafka package and only the package registries are reachable, so the
broker classpath comes from ``kafka/pom.xml`` (kafka_2.13 runtime dependencies plus
one SLF4J binding), copied once into a cache outside the repo. The broker is both
controller and broker with a static one-voter quorum; its data lives in
``.state/kafka/data``, formatted once. "Ready" means a metadata request succeeds;
then the topics of ``schemas/topics.toml`` are created if missing.
"""

from __future__ import annotations

import asyncio
import base64
import fcntl
import hashlib
import logging
import os
import shutil
import tomllib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from component import Component
from layout import (
    HOST,
    KAFKA_CONTROLLER_PORT,
    KAFKA_PORT,
    KAFKA_TLS_PORT,
    REPO_ROOT,
    jar_cache_root,
)
from procs import StackError, port_open, run, say, spawn_detached, timed

if TYPE_CHECKING:
    from aiokafka.admin import AIOKafkaAdminClient

KAFKA_VERSION = "4.1.1"
POM = Path(__file__).resolve().parent / "kafka" / "pom.xml"
TOPICS_FILE = REPO_ROOT / "schemas" / "topics.toml"
TOPIC_ALREADY_EXISTS = 36
JVM_OPTS = [
    "-Xms256m",
    "-Xmx512m",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
    "-Dorg.slf4j.simpleLogger.showDateTime=true",
    "-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSS",
    # Per-partition chatter: thousands of lines a day of tests creating topics.
    "-Dorg.slf4j.simpleLogger.log.state.change.logger=warn",
    "-Dorg.slf4j.simpleLogger.log.kafka.cluster.Partition=warn",
    "-Dorg.slf4j.simpleLogger.log.kafka.log.LogManager=warn",
    "-Dorg.slf4j.simpleLogger.log.org.apache.kafka.storage.internals.log=warn",
    "-Dorg.slf4j.simpleLogger.log.org.apache.kafka.clients=warn",
]


def java() -> str:
    home = os.environ.get("JAVA_HOME")
    return str(Path(home) / "bin" / "java") if home else "java"


def jar_dir() -> Path:
    return jar_cache_root() / f"kafka-{KAFKA_VERSION}" / "libs"


def ensure_jars() -> Path:
    """The broker classpath directory, fetched with Maven unless already cached.

    The cache is stamped with the pom's hash: editing the pom refetches, and a
    half-copied directory (interrupted fetch) is never mistaken for a complete one.
    """
    libs = jar_dir()
    stamp = libs.parent / "pom.sha256"
    digest = hashlib.sha256(POM.read_bytes()).hexdigest()
    if _jars_current(libs, stamp, digest):
        return libs
    libs.parent.mkdir(parents=True, exist_ok=True)
    with (libs.parent / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two checkouts fetching at once
        if _jars_current(libs, stamp, digest):
            return libs
        tmp = libs.parent / f"libs.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        say("kafka", f"fetching the Kafka {KAFKA_VERSION} broker classpath with Maven")
        with timed("kafka", f"fetched jars into {libs}"):
            run(
                [
                    "mvn",
                    "-q",
                    "-B",
                    "-Dstyle.color=never",
                    "-f",
                    str(POM),
                    "dependency:copy-dependencies",
                    "-DincludeScope=runtime",
                    f"-DoutputDirectory={tmp}",
                ],
                "mvn dependency:copy-dependencies",
                timeout=900,
            )
        if not any(tmp.glob("kafka_2.13-*.jar")):
            raise StackError(f"Maven produced no kafka_2.13 jar in {tmp}")
        shutil.rmtree(libs, ignore_errors=True)
        tmp.rename(libs)
        stamp.write_text(digest + "\n")
    return libs


def _jars_current(libs: Path, stamp: Path, digest: str) -> bool:
    return (
        stamp.exists()
        and stamp.read_text().strip() == digest
        and any(libs.glob(f"kafka_2.13-{KAFKA_VERSION}.jar"))
    )


def random_cluster_id() -> str:
    """What `StorageTool random-uuid` prints (URL-safe base64 of 16 random bytes),
    without paying for a JVM start; like Kafka's own ``Uuid.randomUuid``, never one
    that starts with '-', which the tool's ``-t`` would read as an option (a chaos
    run's fresh stack failed on ``-fzX9LSUR5elvCylkYEzVw``: 1 start in 64)."""
    while (raw := base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode())[0] == "-":
        pass
    return raw


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    cleanup_policy: str
    retention_ms: int

    def configs(self) -> dict[str, str]:
        return {"cleanup.policy": self.cleanup_policy, "retention.ms": str(self.retention_ms)}


def load_topics(path: Path = TOPICS_FILE) -> list[TopicSpec]:
    with path.open("rb") as file:
        raw = tomllib.load(file)["topics"]
    return [
        TopicSpec(name, int(t["partitions"]), str(t["cleanup_policy"]), int(t["retention_ms"]))
        for name, t in raw.items()
    ]


class Kafka(Component):
    name = "kafka"
    base_ports = (KAFKA_PORT, KAFKA_CONTROLLER_PORT, KAFKA_TLS_PORT)
    start_timeout = 120.0

    @property
    def data_dir(self) -> Path:
        return self.layout.state_dir / "kafka"

    @property
    def pid_file(self) -> Path:
        return self.layout.run_dir / "kafka.pid"

    @property
    def properties(self) -> Path:
        return self.data_dir / "server.properties"

    @property
    def log_dirs(self) -> Path:
        return self.data_dir / "data"

    def endpoint(self) -> str:
        return f"{HOST}:{self.port}"

    def tls_endpoint(self) -> str:
        """The SSL listener: clients present a certificate of the local CA (mTLS)."""
        return f"{HOST}:{self.ports[2]}"

    @property
    def keystore(self) -> Path:
        """The broker's key and certificate in one PEM file (Kafka's PEM keystore)."""
        return self.data_dir / "broker-keystore.pem"

    def server_data_dir(self, argv: list[str]) -> str | None:
        if "kafka.Kafka" in argv and argv[-1].endswith("/kafka/server.properties"):
            return os.path.dirname(argv[-1])
        return None

    def initialized_at(self, data_dir: Path) -> bool:
        # Not the directory itself: a running broker re-creates partition dirs under
        # a deleted path. meta.properties is written only by `format`.
        return (data_dir / "data" / "meta.properties").exists()

    def prepare(self) -> None:
        libs = ensure_jars()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        ca = self._write_keystore()
        self.properties.write_text(self._render_properties(ca))
        if self.initialized():
            return
        cluster_file = self.data_dir / "cluster.id"
        if not cluster_file.exists() or cluster_file.read_text().startswith("-"):
            cluster_file.write_text(random_cluster_id() + "\n")
        cluster_id = cluster_file.read_text().strip()
        with timed(self.name, f"formatted {self.log_dirs} (cluster {cluster_id})"):
            run(
                [
                    java(),
                    "-Xmx256m",
                    "-cp",
                    f"{libs}/*",
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    cluster_id,
                    "-c",
                    str(self.properties),
                ],
                "kafka storage format",
            )

    def start(self) -> int:
        libs = ensure_jars()
        argv = [java(), *JVM_OPTS, "-cp", f"{libs}/*", "kafka.Kafka", str(self.properties)]
        return spawn_detached(argv, self.log_file, cwd=self.data_dir)

    def ready(self) -> bool:
        return asyncio.run(self._metadata_ok())

    def config_current(self) -> bool:
        """The running broker read the properties this code writes (it reads them once,
        at start; an older file means an older config, such as one without ACLs)."""
        ca = self._write_keystore()
        return self.properties.exists() and self.properties.read_text() == self._render_properties(
            ca
        )

    def after_ready(self) -> None:
        asyncio.run(self._ensure_topics(load_topics()))

    def _write_keystore(self) -> Path:
        """The broker's PEM keystore from the local CA's broker certificate; returns the
        CA certificate the SSL listener trusts for its clients."""
        from jetbridge.common.tls import ensure_certificates  # noqa: PLC0415 (needs the venv)

        files = ensure_certificates(self.layout.state_dir, []).kafka_broker()
        pem = files.key.read_bytes() + files.cert.read_bytes()
        fd = os.open(self.keystore, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(pem)
        return files.ca_cert

    def _render_properties(self, ca: Path) -> str:
        from jetbridge.common.kafka.acls import PRINCIPAL_MAPPING_RULES  # noqa: PLC0415 (needs the venv)

        port, controller, tls = self.ports
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{HOST}:{controller}",
            "listeners": (
                f"PLAINTEXT://{HOST}:{port},CONTROLLER://{HOST}:{controller},SSL://{HOST}:{tls}"
            ),
            "advertised.listeners": f"PLAINTEXT://{HOST}:{port},SSL://{HOST}:{tls}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SSL:SSL",
            # The SSL listener demands a client certificate signed by the local CA (the
            # planes' own: jetbridge.common.tls), as production's brokers should.
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(self.keystore),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(ca),
            "ssl.client.auth": "required",
            # Every request is authorized: a certificate's CN is its principal, and the
            # planes get only their ACLs (jetbridge.common.kafka.acls). ANONYMOUS is
            # the PLAINTEXT and controller listeners' principal, both bound to this
            # host only: the stack's own admin, tests and benchmarks use them.
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users": "User:ANONYMOUS",
            "ssl.principal.mapping.rules": PRINCIPAL_MAPPING_RULES,
            "log.dirs": str(self.log_dirs),
            "auto.create.topics.enable": "false",
            "num.partitions": "1",
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            # One broker: every internal topic gets replication factor 1.
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            # Fewer internal partitions than the default 50: faster first group join
            # and transaction use on a 2-core machine; a test stack has few groups.
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.num.partitions": "10",
            # Tests join groups constantly; the default 3 s delay would slow each one.
            "group.initial.rebalance.delay.ms": "0",
            "num.network.threads": "2",
            "num.io.threads": "4",
            "log.retention.hours": "168",
            "log.segment.bytes": str(64 * 1024 * 1024),
        }
        lines = ["# Written by deploy/local/kafka.py on every `stack.py up`; edits are lost."]
        lines += [f"{key}={value}" for key, value in settings.items()]
        return "\n".join(lines) + "\n"

    def _admin(self) -> AIOKafkaAdminClient:
        from aiokafka.admin import AIOKafkaAdminClient  # noqa: PLC0415 (lazy: `status`, `down`, `jars` stay fast)

        return AIOKafkaAdminClient(
            bootstrap_servers=self.endpoint(), request_timeout_ms=5000, client_id="jetbridge-stack"
        )

    async def _metadata_ok(self) -> bool:
        if not port_open(self.port):
            return False
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # retries are expected
        admin = self._admin()
        try:
            await asyncio.wait_for(admin.start(), 5)
            cluster = await asyncio.wait_for(admin.describe_cluster(), 5)
            return bool(cluster.get("brokers"))
        except Exception:  # any failure means "not ready yet"; the caller retries
            return False
        finally:
            await admin.close()

    async def _ensure_topics(self, specs: list[TopicSpec]) -> None:
        from aiokafka.admin import NewTopic  # noqa: PLC0415 (lazy: `status`, `down`, `jars` stay fast)

        admin = self._admin()
        await admin.start()
        try:
            existing = {t["topic"]: t for t in await admin.describe_topics()}
            missing = [s for s in specs if s.name not in existing]
            if missing:
                response = await admin.create_topics(
                    [NewTopic(s.name, s.partitions, 1, topic_configs=s.configs()) for s in missing],
                    timeout_ms=30000,
                )
                for name, code, *rest in response.topic_errors:
                    if code not in (0, TOPIC_ALREADY_EXISTS):
                        raise StackError(f"kafka: creating topic {name} failed: code {code} {rest}")
                say(self.name, f"created topics: {', '.join(s.name for s in missing)}")
            for spec in specs:
                if spec.name in existing:
                    count = len(existing[spec.name]["partitions"])
                    if count != spec.partitions:
                        say(
                            self.name,
                            f"WARNING {spec.name} has {count} partitions, "
                            f"topics.toml says {spec.partitions} (left as is)",
                        )
        finally:
            await admin.close()
