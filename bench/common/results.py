"""What every one-process micro-benchmark records about its run, and how it keeps it.

A result starts with :func:`header` (when, which code, the machine and its load) and
goes through :func:`publish`: printed, and appended to ``--out`` (a JSON list of runs, so
the runs of an A/B, old code and new in turns, stay side by side in one file).
"""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def header(label: str) -> dict[str, Any]:
    return {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "label": label,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "loadavg": os.getloadavg(),
    }


def publish(result: dict[str, Any], out: Path | None) -> None:
    print(json.dumps(result, indent=1))
    if out:
        runs = json.loads(out.read_text()) if out.exists() else []
        out.write_text(json.dumps([*runs, result], indent=1) + "\n")
