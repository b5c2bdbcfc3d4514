"""Run one of bench/chaos's scenario scripts as a process and read its JSON verdict."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def run_script(
    script: str, *args: str, timeout_s: float, columns: int = 200
) -> subprocess.CompletedProcess[str]:
    """``python SCRIPT ARGS`` from the repository root, output captured; ``columns``
    wide enough that the script's console never wraps a line the test reads."""
    return subprocess.run(
        [sys.executable, script, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
        env=os.environ | {"COLUMNS": str(columns)},
    )


def run_scenario(script: str, *args: str, timeout_s: float = 580) -> dict[str, Any]:
    """The scenario's last ``{"scenario": ...}`` line; its exit code must match ``ok``."""
    done = run_script(script, *args, timeout_s=timeout_s, columns=400)  # a document a line
    out = done.stdout + done.stderr
    last = [line for line in done.stdout.splitlines() if line.startswith('{"scenario"')]
    assert last, out[-4000:]
    result: dict[str, Any] = json.loads(last[-1])
    assert done.returncode == (0 if result["ok"] else 1), out[-4000:]
    return result
