"""Ports of DP-Link."""

from __future__ import annotations

from typing import Protocol

from jetbridge.common.events.envelope import EventRecord


class EventSink(Protocol):
    """Takes events to publish without blocking the caller (a link or the ticker).

    Implementations keep the order of ``emit`` calls, so one cluster's transitions
    reach the log in the order they happened.
    """

    def emit(self, event: EventRecord) -> None: ...
