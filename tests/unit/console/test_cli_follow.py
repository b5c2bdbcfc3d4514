"""``jetbridge events tail -f`` when the Console dropped events it had not printed yet."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from typing import Any

import pytest

from jetbridge.console.entrypoints.cli.main import tail


def event(seq: int) -> dict[str, Any]:
    return {"seq": seq, "event_type": "T", "aggregate_id": f"a{seq}", "actor": None}


class Console:
    """Answers the CLI's two calls as a Console holding seqs 20..25 would, after the
    CLI printed up to 3 (a burst dropped 4..19 while it was away)."""

    def __init__(self) -> None:
        self.asked: list[dict[str, Any]] = []

    async def get(self, path: str, **params: Any) -> dict[str, Any]:
        self.asked.append(params)
        if params.get("order") == "desc":  # the first page: the newest, 1..3 then
            return {"events": [event(3), event(2)], "last_seq": 2, "more": True, "first_seq": 1}
        after = params["after"]
        held = [event(s) for s in range(20, 26) if s > after]
        return {
            "events": held,
            "last_seq": held[-1]["seq"] if held else after,
            "more": False,
            "first_seq": 20,
        }

    async def changes(self, **params: Any) -> AsyncIterator[dict[str, Any]]:
        yield {"after": params["after"], "first_seq": 20}  # the stream's gap
        yield {"seq": 25}


async def test_follow_says_which_events_it_missed_and_goes_on_from_the_oldest_held(
    capsys: pytest.CaptureFixture[str],
) -> None:
    console = Console()
    args = argparse.Namespace(
        request=None,
        deployment=None,
        cluster=None,
        type=None,
        since=None,
        until=None,
        lines=2,
        follow=True,
        json=True,
    )
    await tail(console, args)  # type: ignore[arg-type]
    captured = capsys.readouterr()
    assert "events 4..19 are no longer held by the Console" in captured.err
    assert "jetbridge audit timeline" in captured.err
    printed = [line for line in captured.out.splitlines() if line]
    assert [int(line.split('"seq": ')[1].split(",")[0]) for line in printed] == [
        2,
        3,
        *range(20, 26),
    ]
    assert [p.get("after") for p in console.asked[1:]] == [3, 25]  # not 3 again after the gap
