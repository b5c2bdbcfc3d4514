"""The bench's stack meter splits the clusters' CPU by daemon, summed over clusters."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench" / "e2e"))
from stack_cpu import StackCpuMeter


def _burner(seconds: float) -> subprocess.Popen[str]:
    """A real process that says it is ready (its start-up over), then, once told on
    stdin, uses ``seconds`` of CPU, says so, and sleeps until killed."""
    code = (
        "import sys, time\n"
        "print('ready', flush=True)\n"
        "sys.stdin.readline()\n"
        "t = time.process_time()\n"
        f"while time.process_time() - t < {seconds}: pass\n"
        "print('done', flush=True)\n"
        "time.sleep(60)\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def _pid_file(state: Path, cluster: str, daemon: str, pid: int) -> None:
    run = state / "kube" / cluster / "run"
    run.mkdir(parents=True, exist_ok=True)
    (run / f"{daemon}.pid").write_text(f"{pid}\n")


def test_each_daemon_is_summed_over_the_clusters_and_kube_is_their_total(tmp_path: Path) -> None:
    burners = east_etcd, west_etcd, east_kwok = _burner(0.3), _burner(0.3), _burner(0.1)
    try:
        _pid_file(tmp_path, "dp-east", "etcd", east_etcd.pid)
        _pid_file(tmp_path, "dp-west", "etcd", west_etcd.pid)
        _pid_file(tmp_path, "dp-east", "kwok", east_kwok.pid)
        meter = StackCpuMeter(tmp_path)
        for proc in burners:  # the interpreters' start-up over, before the first sample
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
        before = meter.sample()
        for proc in burners:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        for proc in burners:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "done"
        used = StackCpuMeter.delta(before, meter.sample())
    finally:
        for proc in burners:
            proc.kill()
            proc.wait()
    assert set(used) == {"kube", "kube/etcd", "kube/kwok", "machine", "machine_steal"}
    assert used["machine_steal"] >= 0
    # Both clusters' etcd in one figure (2 x 0.3 s), kwok on its own (0.1 s).
    assert 0.55 <= used["kube/etcd"] <= 0.75
    assert 0.08 <= used["kube/kwok"] <= 0.2
    assert abs(used["kube"] - used["kube/etcd"] - used["kube/kwok"]) <= 0.02
    assert used["machine"] >= used["kube"] - 0.05


def test_no_clusters_means_zero_kube_and_no_daemons(tmp_path: Path) -> None:
    used = StackCpuMeter(tmp_path).sample()
    assert used["kube"] == 0.0
    assert not [name for name in used if name.startswith("kube/")]
    assert os.cpu_count() and used["machine"] > 0
