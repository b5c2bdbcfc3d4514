"""deploy/local/demo.py: waiting for 1,000 provisioning flights reads a window of them."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "deploy" / "local"))
from demo import Demo

from jetbridge.flightdeck import FlightState


class Deck:
    def __init__(self, states: dict[str, FlightState]) -> None:
        self.states = states
        self.reads: list[str] = []

    async def get(self, flight_id: str) -> Any:
        self.reads.append(flight_id)
        state = self.states.get(flight_id)
        return None if state is None else SimpleNamespace(flight_id=flight_id, state=state)


async def test_reads_stop_after_a_window_of_unfinished_flights_and_finals_are_kept() -> None:
    s = FlightState
    deck = Deck({"f1": s.SUCCEEDED, "f2": s.RUNNING, "f3": s.FAILED, "f4": s.QUEUED})
    deck.states |= {"f5": s.QUEUED, "f6": s.SUCCEEDED}  # f7: not in the table (yet)
    final: list[Any] = []
    ids = [f"f{i}" for i in range(1, 8)]
    pending = await Demo._still_pending(deck, ids, final, window=2)  # type: ignore[arg-type]
    assert deck.reads == ["f1", "f2", "f3", "f4"]  # stopped after 2 unfinished
    assert pending == ["f2", "f4", "f5", "f6", "f7"] and [f.flight_id for f in final] == [
        "f1",
        "f3",
    ]
    deck.states |= {f: s.SUCCEEDED for f in ("f2", "f4", "f5", "f7")}
    pending = await Demo._still_pending(deck, pending, final, window=2)  # type: ignore[arg-type]
    assert pending == [] and sorted(f.flight_id for f in final) == [f"f{i}" for i in range(1, 8)]
