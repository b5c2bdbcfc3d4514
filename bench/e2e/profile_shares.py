"""Share of a service's py-spy samples whose stack contains each given frame text.

Reads the collapsed stacks ``bench_e2e.py --profile DIR`` writes (``<service>.folded``,
or gzipped ``.folded.gz`` as kept under ``bench/results/``). A frame counts inclusively:
a sample is in "request_summary" when that function is anywhere on its stack; with
``--leaf``, only when it is the innermost frame (the function's own time: "Runner.run"
as a leaf is the event loop itself, uvloop's C code having no Python frame).

    .venv/bin/python bench/e2e/profile_shares.py bench/results/e2e-2026-12-03-profile-gil \\
        console uvicorn request_summary EventCodec.decode
"""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path


def shares(path: Path, frames: list[str], *, leaf: bool = False) -> tuple[int, dict[str, float]]:
    opener = gzip.open if path.suffix == ".gz" else open
    total, hits = 0, dict.fromkeys(frames, 0)
    with opener(path, "rt") as lines:
        for line in lines:
            stack, _, count = line.rstrip().rpartition(" ")
            if not count.isdigit():
                continue
            total += int(count)
            where = stack.rsplit(";", 1)[-1] if leaf else stack
            for frame in frames:
                if frame in where:
                    hits[frame] += int(count)
    return total, {f: 100.0 * n / max(total, 1) for f, n in hits.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("service", help="e.g. console, navigator, pilot-dp-west")
    parser.add_argument("frames", nargs="+", help="text to find in a stack's frames")
    parser.add_argument("--leaf", action="store_true", help="the innermost frame only")
    args = parser.parse_args()
    path = args.directory / f"{args.service}.folded"
    if not path.exists():
        path = path.with_name(path.name + ".gz")
    total, found = shares(path, args.frames, leaf=args.leaf)
    print(f"{args.service}: {total} samples")
    for frame, share in found.items():
        print(f"  {share:5.1f}%  {frame}")


if __name__ == "__main__":
    main()
