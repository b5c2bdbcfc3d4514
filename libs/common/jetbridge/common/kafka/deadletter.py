"""Records no consumer can use go to the dead-letter topic, with the reason, unchanged.

The original bytes, key and headers are kept so an operator can inspect, fix and
replay them; the ``dlq.*`` headers say where the record came from and why it failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from jetbridge.common.topics import DEAD_LETTER


@dataclass(frozen=True)
class ConsumedRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    timestamp_ms: int


class RawSender(Protocol):
    async def send_raw(
        self, topic: str, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]
    ) -> tuple[int, int]: ...


class DeadLetterPublisher:
    def __init__(self, sender: RawSender, *, consumer_group: str, topic: str = DEAD_LETTER):
        self._sender = sender
        self._group = consumer_group
        self.topic = topic

    async def send(self, record: ConsumedRecord, *, reason: str, detail: str) -> None:
        headers = [
            *[(k, v) for k, v in record.headers if not k.startswith("dlq.")],
            ("dlq.reason", reason.encode()),
            ("dlq.detail", detail[:2000].encode(errors="replace")),
            ("dlq.source_topic", record.topic.encode()),
            ("dlq.source_partition", str(record.partition).encode()),
            ("dlq.source_offset", str(record.offset).encode()),
            ("dlq.consumer_group", self._group.encode()),
        ]
        await self._sender.send_raw(self.topic, record.key, record.value or b"", headers)
