"""What one log line costs: ``JsonFormatter.format``, with the redaction gate and without.

Why: a py-spy profile of 1,000 Forced in memory (docs/benchmarks.md, 2026-12-07 08:02)
put 29.7% of agent dp-west's samples under ``Logger.info``, most of it in ``redact``:
the agent's two lines per flight name the steps (APPLY_EXTERNAL_SECRETS), the old gate
opened on "secret", and every pattern then ran over the line. The lines here are the
agent's, a Pilot's retry and one that holds a credential (the gate must open for it).
Each is formatted by the service's ``JsonFormatter``, as configured by
``configure_logging``, with ``redact`` as shipped, with the gate before 911e321 (a
regex of words, "secret" among them) and with every pattern run (``redact_ungated``);
the best and median of
``--passes`` passes of ``--lines`` lines, in microseconds per line, on this process's
CPU clock.

    PYTHONPATH=. .venv/bin/python bench/common/bench_log_lines.py --out F.json
"""

from __future__ import annotations

import argparse
import logging
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common.results import header, publish
from jetbridge.common import logs
from jetbridge.common.redaction import redact, redact_ungated

FLIGHT = "0d3f3c8e-8b7a-4d0e-9a57-3c1f0b9d7e21"
STEPS = ["FENCE_DATABASE", "APPLY_EXTERNAL_SECRETS", "CREATE_DEPLOYMENT", "WAIT_READY"]
LINES: dict[str, tuple[str, tuple[Any, ...], dict[str, str]]] = {
    "agent: flight queued": ("flight %s %s", (FLIGHT, "queued"), {"flight_id": FLIGHT}),
    "agent: steps cleared": (
        "flight %s steps %s %s",
        (FLIGHT, STEPS, "cleared"),
        {"flight_id": FLIGHT, "clearance_id": "5e0c4d6a-7b1f-4a9e-8c2d-1f3e5a7b9c0d"},
    ),
    "pilot: retrying": (
        "retrying %s of %s: %s",
        ("APPLY_EXTERNAL_SECRETS", FLIGHT, "ExternalSecret d-1-fernet-key not Ready"),
        {},
    ),
    "a credential (masked)": (
        "cannot connect: %s",
        ("postgresql://jetbridge:s3cr3t@db:5432/fencing password=s3cr3t",),
        {},
    ),
}


def record(msg: str, args: tuple[Any, ...], extra: dict[str, str]) -> logging.LogRecord:
    made = logging.LogRecord("jetbridge.bench", logging.INFO, __file__, 1, msg, args, None)
    made.__dict__.update(extra)
    return made


# The gate up to 911e321: any of these words ran every pattern.
_OLD_TRIGGER = re.compile(
    r"://|passw|pwd|identified|scram-sha|secret|token|key|credential|bearer|basic",
    re.IGNORECASE,
)


def redact_old_gate(text: str) -> str:
    return redact_ungated(text) if _OLD_TRIGGER.search(text) else text


def per_line(
    format_line: Callable[[logging.LogRecord], str], line: logging.LogRecord, n: int
) -> float:
    started = time.process_time()
    for _ in range(n):
        format_line(line)
    return (time.process_time() - started) * 1e6 / n


def measure(lines: int, passes: int) -> dict[str, dict[str, dict[str, float]]]:
    formatter = logs.JsonFormatter("bench")
    results: dict[str, dict[str, dict[str, float]]] = {}
    for name, (msg, args, extra) in LINES.items():
        line = record(msg, args, extra)
        results[name] = {}
        variants = (("gate", redact), ("old gate", redact_old_gate), ("no gate", redact_ungated))
        for gate, redactor in variants:
            logs.redact = redactor  # the formatter's own reference
            try:
                times = [per_line(formatter.format, line, lines) for _ in range(passes)]
            finally:
                logs.redact = redact
            results[name][gate] = {
                "best": round(min(times), 2),
                "median": round(statistics.median(times), 2),
            }
        if "s3cr3t" in formatter.format(line):
            raise SystemExit(f"{name}: the credential was not masked")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--passes", type=int, default=7)
    parser.add_argument("--label", default="")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = {
        **header(args.label),
        "lines": args.lines,
        "passes": args.passes,
        "format_us": measure(args.lines, args.passes),
    }
    publish(result, args.out)


if __name__ == "__main__":
    main()
