"""``jetbridge failover watch``: live progress bars until the failover ends.

Each ``change`` on the live stream for this request triggers a fresh read of its
detail (at most five per second); a read every few seconds also happens without any
change, so a lost stream degrades to polling instead of hanging.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, Progress, TaskID, TextColumn
from rich.text import Text

from jetbridge.common.cancellation import stop_tasks
from jetbridge.console.entrypoints.cli.client import CliError, ConsoleClient
from jetbridge.console.entrypoints.cli.codes import Exit, for_request_status

POLL_S = 3.0
MIN_GAP_S = 0.2
SHOWN_MISSIONS = 20


def mission_steps(mission: dict[str, Any]) -> tuple[int, int]:
    steps = [s for f in mission["flights"] for s in f["steps"]]
    return sum(1 for s in steps if s["status"] == "SUCCEEDED"), len(steps)


class Bars:
    """One overall bar and one bar per mission (the unfinished ones first)."""

    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("{task.description}", justify="left"),
            BarColumn(bar_width=None),
            TextColumn("{task.percentage:>5.1f}%"),
            expand=True,
        )
        self.overall = self.progress.add_task("failover", total=100)
        self.tasks: dict[str, TaskID] = {}
        self.footer = Text()

    def render(self) -> Group:
        return Group(self.progress, self.footer)

    def update(self, detail: dict[str, Any]) -> None:
        p = detail["progress"]
        self.progress.update(
            self.overall,
            completed=p["percent"],
            description=f"{detail['request_id']} {detail['status']}",
        )
        order = sorted(detail["missions"], key=lambda m: m["status"] in ("SUCCEEDED",))
        for m in order[:SHOWN_MISSIONS]:
            done, total = mission_steps(m)
            label = f"  {m['deployment_id']} {m['status']}"
            if m["current_step"]:
                label += f" · {m['current_step'].lower()}"
            if m["mission_id"] not in self.tasks:
                self.tasks[m["mission_id"]] = self.progress.add_task(label, total=total or 1)
            self.progress.update(
                self.tasks[m["mission_id"]], completed=done, total=total or 1, description=label
            )
        more = len(detail["missions"]) - SHOWN_MISSIONS
        self.footer = Text(
            f"{p['succeeded']} succeeded · {p['failed']} failed · {p['running']} running · "
            f"{p['waiting']} waiting · {p['cancelled']} cancelled"
            + (f" · {more} more missions not shown" if more > 0 else "")
        )


async def watch(client: ConsoleClient, request_id: str, *, as_json: bool) -> Exit:
    changed = asyncio.Event()

    async def listen() -> None:
        while True:
            with contextlib.suppress(CliError):
                async for _ in client.changes(request_id=request_id):
                    changed.set()
            await asyncio.sleep(1.0)

    listener = asyncio.create_task(listen())
    bars = Bars()
    console = Console(stderr=False)
    live = None if as_json else Live(bars.render(), console=console, refresh_per_second=8)
    try:
        if live is not None:
            live.start()
        while True:
            detail = await client.get(f"/failovers/{request_id}")
            if as_json:
                summary = {k: detail[k] for k in ("request_id", "status", "progress")}
                sys.stdout.write(json.dumps(summary) + "\n")
                sys.stdout.flush()
            else:
                bars.update(detail)
                assert live is not None
                live.update(bars.render())
            ended = for_request_status(detail["status"])
            if ended is not None:
                if not as_json:
                    _explain(console, detail)
                return ended
            changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), POLL_S)
            await asyncio.sleep(MIN_GAP_S)
    finally:
        if live is not None:
            live.stop()
        await stop_tasks(listener)


def _explain(console: Console, detail: dict[str, Any]) -> None:
    console.print(f"[bold]{detail['request_id']} {detail['status']}[/bold]")
    for r in detail["rejection_reasons"] + detail["failure_reasons"]:
        console.print(f"  [red]{r['code']}[/red] {r['subject_id']}: {r['message']}")
