"""The bench's machine-speed figure times a fixed workload that does real work."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench" / "e2e"))
from calibrate import calibrate, workload


def test_the_workload_folds_every_record_and_the_figure_is_its_cpu_time() -> None:
    assert workload(300) == 300  # every record folded under its own id
    figure = calibrate(rounds=3)
    assert 0 < figure["python_ms_best"] <= figure["python_ms_median"]
