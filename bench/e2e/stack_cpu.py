"""CPU used by the local stack's servers and by the whole machine, read from /proc.

The services' own CPU (``CpuMeter`` in bench_e2e.py) leaves out the work they cause in
PostgreSQL and Kafka, which on one machine competes for the same two cores. This
module measures those too, so a run can say where ALL of its CPU went:

* PostgreSQL 15: the postmaster's own utime + stime, its reaped children's (``cutime``
  + ``cstime``: backends that have exited, such as each fence's short connection) and
  every live child's. A child that exits between two reads may be missed once; over a
  run of seconds that is noise.
* Kafka: the broker's JVM (pid file of ``deploy/local/stack.py``).
* kube: both local clusters' etcd, kube-apiserver, controller-manager, scheduler, kwok
  and ESO stand-in (their pid files under ``kube/<cluster>/run``), summed: the real
  clusters' own work in a ``--adapter kubernetes`` run; zero in memory, where the
  benchmark pauses them (idle, they used about a quarter of a core).
* machine: busy jiffies of every CPU from ``/proc/stat`` (everything but idle and
  iowait), which also holds the kernel's loopback networking and whatever else ran.

Run alone, it prints what the idle stack costs, per server and kube daemon
(``.venv/bin/python bench/e2e/stack_cpu.py --seconds 30``; with the clusters paused by
``kubestack.py pause``, what is left).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import time
from pathlib import Path

TICKS = float(os.sysconf("SC_CLK_TCK"))


def _stat_fields(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _pid_from(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def parent_of(pid: int) -> int | None:
    """The parent's pid, if ``pid`` runs on this machine."""
    fields = _stat_fields(pid)
    return int(fields[1]) if fields is not None else None


def tree_cpu_s(parent: int) -> float:
    """utime + stime of ``parent``, its reaped children and its live children."""
    own = _stat_fields(parent)
    if own is None:
        return 0.0
    # after ")": [0] state, [1] ppid, ... [11] utime, [12] stime, [13] cutime, [14] cstime
    ticks = sum(int(own[i]) for i in (11, 12, 13, 14))
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is not None and int(fields[1]) == parent:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / TICKS


def cpu_model() -> str:
    """The CPU's model name, as the benchmarks record the machine they ran on."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def machine_busy_s() -> float:
    """CPU-seconds spent not idle, summed over every CPU, since boot.

    user, nice, system, irq and softirq; not idle, iowait or steal (the hypervisor's)."""
    with open("/proc/stat") as stat:
        user, nice, system, _idle, _iowait, irq, softirq = (
            int(v) for v in stat.readline().split()[1:8]
        )
    return (user + nice + system + irq + softirq) / TICKS


def machine_steal_s() -> float:
    """CPU-seconds the hypervisor gave other guests while this one wanted to run
    (``steal`` in /proc/stat), summed over every CPU, since boot: a shared host taking
    its share back shows here, not in any process's time."""
    with open("/proc/stat") as stat:
        fields = stat.readline().split()
    return int(fields[8]) / TICKS if len(fields) > 8 else 0.0


class StackCpuMeter:
    """Samples PostgreSQL 15, Kafka and the machine; ``delta`` subtracts two samples."""

    def __init__(self, state_dir: Path) -> None:
        self.pids = {
            "postgres15": _pid_from(state_dir / "postgres15" / "data" / "postmaster.pid"),
            "kafka": _pid_from(state_dir / "run" / "kafka.pid"),
        }
        # (daemon, pid): both clusters' etcd, apiserver, ... by their pid files' names
        self.kube = [
            (path.stem, pid)
            for path in sorted((state_dir / "kube").glob("*/run/*.pid"))
            if (pid := _pid_from(path)) is not None
        ]

    def sample(self) -> dict[str, float]:
        """Cumulative CPU-seconds: each server, ``kube`` (all cluster daemons) and
        ``kube/<daemon>`` (that daemon summed over both clusters), the machine, and the
        time the hypervisor stole from it."""
        found = {name: tree_cpu_s(pid) for name, pid in self.pids.items() if pid is not None}
        daemons: dict[str, float] = {}
        for daemon, pid in self.kube:
            daemons[f"kube/{daemon}"] = daemons.get(f"kube/{daemon}", 0.0) + tree_cpu_s(pid)
        kube = sum(daemons.values())
        machine = {"machine": machine_busy_s(), "machine_steal": machine_steal_s()}
        return found | {"kube": kube} | daemons | machine

    @staticmethod
    def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        return {name: round(after[name] - before.get(name, 0.0), 2) for name in after}


def idle_rates(state_dir: Path, seconds: float) -> dict[str, float]:
    """CPU milliseconds per second of each stack server and kube daemon, and of the
    machine, over ``seconds`` (run it with nothing else running: what idle costs)."""
    meter = StackCpuMeter(state_dir)
    daemons = {
        f"{path.parent.parent.name}/{path.stem}": pid
        for path in sorted((state_dir / "kube").glob("*/run/*.pid"))
        if (pid := _pid_from(path)) is not None
    }
    before = meter.sample() | {name: tree_cpu_s(pid) for name, pid in daemons.items()}
    time.sleep(seconds)
    after = meter.sample() | {name: tree_cpu_s(pid) for name, pid in daemons.items()}
    return {name: 1000 * (after[name] - before[name]) / seconds for name in after}


def main() -> None:
    parser = argparse.ArgumentParser(description="the stack's idle CPU, per server and daemon")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--state-dir", type=Path, default=Path(".state"))
    args = parser.parse_args()
    for name, rate in idle_rates(args.state_dir, args.seconds).items():
        print(f"{rate:8.1f} ms/s  {name}")


if __name__ == "__main__":
    main()
