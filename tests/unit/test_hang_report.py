"""The hang report names what each pending task awaits, down to the innermost call."""

from __future__ import annotations

import asyncio
import io
import threading

from tests.hang_report import report


async def _parked_on(event: asyncio.Event) -> None:
    await _deeper(event)


async def _deeper(event: asyncio.Event) -> None:
    await event.wait()


async def test_the_report_shows_each_task_down_to_what_it_waits_on() -> None:
    event = asyncio.Event()
    parked = asyncio.create_task(_parked_on(event), name="parked-task")
    stuck_cancel = asyncio.create_task(_parked_on(event), name="asked-to-stop")
    await asyncio.sleep(0)
    stuck_cancel.cancel()  # not acted on yet: the loop is blocked in join() below
    out = io.StringIO()
    thread = threading.Thread(target=report, args=(out,))  # as the timer thread does
    thread.start()
    thread.join()
    event.set()
    await asyncio.gather(parked, stuck_cancel, return_exceptions=True)
    text = out.getvalue()
    section = text.split("--- parked-task (pending)")[1].split("---")[0]
    assert "in _parked_on" in section
    assert "in _deeper" in section
    assert "in wait" in section  # asyncio.Event.wait, where it is parked
    assert "--- asked-to-stop (cancelling)" in text
