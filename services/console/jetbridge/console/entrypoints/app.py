"""Composition root of the Console: ledger follower + command publisher + API + UI.

Run with ``python -m jetbridge.console`` (uvicorn). Settings come from ``JETBRIDGE_*``
variables, falling back to the local stack's ``.state/stack.env``. Tokens:
``JETBRIDGE_CONSOLE_TOKENS`` or ``JETBRIDGE_CONSOLE_TOKENS_FILE`` (see adapters/tokens).

The HTTP port opens at once and Kafka is reached in the background, waited out while
it is away as every service does at start (``jetbridge.common.reachable``): before,
a broker away at start ended the Console, and Kubernetes' crash-loop back-off could
keep it down minutes after the broker was back. Meanwhile every API route but the
health check answers 503 (nothing read, nothing sent), and ``/readyz`` says what the
Console waits for.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from pydantic import Field
from pydantic_settings import BaseSettings

from jetbridge.common import runtime, topics
from jetbridge.common.cancellation import stop_tasks
from jetbridge.common.events import default_registry
from jetbridge.common.health import HEALTH, Health
from jetbridge.common.logs import configure_logging
from jetbridge.common.metrics import start_metrics_server
from jetbridge.common.reachable import kafka_away, until_reachable
from jetbridge.common.settings import DEFAULT_REGISTRY, RegistryHost, env_file_path, service_config
from jetbridge.console.adapters.kafka_commands import KafkaCommandSender
from jetbridge.console.adapters.ledger import (
    DEFAULT_EVENTS_KEPT,
    LedgerFollower,
    LedgerReadModel,
    terminate_self,
)
from jetbridge.console.adapters.tokens import StaticTokens
from jetbridge.console.entrypoints.api import create_app
from jetbridge.console.service_layer.console import ConsoleService, clock_ms
from jetbridge.navigator.adapters.event_mapping import EventMapper

log = logging.getLogger(__name__)


class ConsoleSettings(BaseSettings):
    model_config = service_config("JETBRIDGE_")

    kafka_bootstrap_servers: str = "127.0.0.1:19092"
    topic_prefix: str = Field(default="", description="prefix of every topic name (sandboxes)")
    console_host: str = "127.0.0.1"
    console_port: int = 8470
    console_tokens: str = Field(default="", description="'<role> <subject> <token>; ...'")
    console_tokens_file: Path | None = None
    console_answer_timeout_s: float = Field(
        default=5.0, description="How long a start/cancel waits for the Navigator's answer."
    )
    console_ready_timeout_s: float = 120.0
    console_events_kept: int = Field(
        default=DEFAULT_EVENTS_KEPT,
        ge=1,
        description="Audit entries held for the event log and the live stream (newest).",
    )
    registry: RegistryHost = DEFAULT_REGISTRY


def load_tokens(s: ConsoleSettings) -> StaticTokens:
    text = s.console_tokens
    if s.console_tokens_file is not None:
        text += "\n" + s.console_tokens_file.read_text()
    tokens = StaticTokens.from_text(text)
    if not len(tokens):
        log.warning("no console tokens configured: every API call will get 401")
    return tokens


class ConsoleRuntime:
    """Owns the Kafka clients; the FastAPI lifespan starts and stops them."""

    def __init__(self, settings: ConsoleSettings, health: Health = HEALTH) -> None:
        self.settings = settings
        mapper = EventMapper(default_registry(), producer="console")
        self.model = LedgerReadModel(
            mapper,
            clock_ms,
            registry=self.settings.registry,
            events_kept=self.settings.console_events_kept,
        )
        self.sender = KafkaCommandSender(
            settings.kafka_bootstrap_servers, topic_prefix=settings.topic_prefix
        )
        self.follower: LedgerFollower | None = None
        self.service = ConsoleService(
            self.model,
            self.sender,
            answer_timeout_s=settings.console_answer_timeout_s,
        )
        self.app: FastAPI = create_app(self.service, load_tokens(settings), lifespan=self.lifespan)
        self.connected = asyncio.Event()
        self.serving = asyncio.Event()  # the ledger read, or the wait for it given up
        self._starting: asyncio.Task[None] | None = None
        self.on_failure = terminate_self
        self.service.unavailable = self.not_serving
        health.require("ledger", self.waiting_for_ledger)

    def not_serving(self) -> str | None:
        if not self.connected.is_set():
            return "The Console has not reached Kafka yet; nothing was read or sent."
        if not self.serving.is_set():
            return "The Console is still reading the ledger; nothing was read or sent."
        return None

    def waiting_for_ledger(self) -> str | None:
        """Readiness: None once the ledger is read to its end (plain reads: HTTP thread)."""
        if not self.connected.is_set():
            return "reaching Kafka"
        return None if self.model.ready else "reading the ledger"

    async def start(self) -> None:
        """Reach Kafka (waiting it out while it is away), then read the ledger."""
        await until_reachable(self._connect, "Kafka", kafka_away)
        self.connected.set()
        assert self.follower is not None
        try:
            await self.follower.wait_ready(self.settings.console_ready_timeout_s)
        except TimeoutError:
            log.warning("ledger not caught up yet; serving what has been read so far")
        self.serving.set()

    async def _connect(self) -> None:
        s = self.settings
        await self.sender.start()
        try:
            # Built only now: an unstarted client would be left open by a failed try.
            follower = LedgerFollower(
                s.kafka_bootstrap_servers, s.topic_prefix + topics.FAILOVER_EVENTS, self.model
            )
            await follower.start()
        except BaseException:
            await self.sender.stop()  # the next try starts both again
            raise
        self.follower = follower

    def _started(self, task: asyncio.Task[None]) -> None:
        """A start that failed for a reason other than Kafka being away (a refused
        credential, say) ends the process, as it did when the start came first."""
        if not task.cancelled() and task.exception() is not None:
            log.error("the Console could not start: %r", task.exception())
            self.on_failure()

    async def stop(self) -> None:
        if self._starting is not None:
            await stop_tasks(self._starting)
        if self.follower is not None:
            await self.follower.stop()
        await self.sender.stop()

    @asynccontextmanager
    async def lifespan(self, _: FastAPI) -> AsyncIterator[None]:
        self._starting = asyncio.create_task(self.start(), name="console-start")
        self._starting.add_done_callback(self._started)
        try:
            yield
        finally:
            await self.stop()


def main() -> None:
    configure_logging("console")
    env_file = env_file_path()
    settings = ConsoleSettings(_env_file=env_file if env_file.exists() else None)  # type: ignore[call-arg]
    start_metrics_server()  # its own port: /metrics stays off the operators' API
    console = ConsoleRuntime(settings)
    config = uvicorn.Config(
        console.app,
        host=settings.console_host,
        port=settings.console_port,
        log_config=None,
        proxy_headers=True,
    )
    runtime.run(uvicorn.Server(config).serve())
