"""Local Kubernetes data planes: ``up(names)``, ``down()``, ``status()`` and a CLI.

``up`` builds the binaries if the cache lacks them (kubebuild.py), starts ONE shared
secrets store (moto's AWS Secrets Manager on loopback) and N named clusters in
parallel, each with etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
kwok with fake nodes, the External Secrets CRDs, a ClusterSecretStore pointing at the
shared store, and the ESO stand-in. It is idempotent: running processes are found by
their command lines and reused. It writes ``.state/kube/kube.env`` for tools and tests.

    .venv/bin/python deploy/local/kube/kubestack.py up [--clusters dp-east,dp-west]
    .venv/bin/python deploy/local/kube/kubestack.py status | down
    .venv/bin/python deploy/local/kube/kubestack.py pause | resume   # SIGSTOP / SIGCONT
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import signal
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import kubebootstrap
import kubebuild
from kubecluster import HOST, Cluster
from kubeprocs import (
    KubeStackError,
    alive,
    cmdline,
    find_pids,
    read_pid,
    rss_kib,
    say,
    spawn,
    stop_pid,
    wait_for,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_CLUSTERS = ("dp-east", "dp-west")
SECRETS_PORT = 16390


def state_root() -> Path:
    raw = os.environ.get("JETBRIDGE_STATE_DIR")
    # Resolved: a worktree whose .state links to another tree's must name the daemons'
    # paths as they were started, or pause() finds none (an A/B's run from a worktree
    # left the idle clusters running, 2026-12-07).
    return (Path(raw) if raw else REPO_ROOT / ".state").resolve() / "kube"


@dataclass(frozen=True)
class KubeStack:
    """What clients need: one kubeconfig per cluster and the shared store's endpoint."""

    kubeconfigs: dict[str, Path]
    secrets_endpoint: str
    cluster_secret_store: str
    env_file: Path

    def env(self) -> dict[str, str]:
        out = {
            "JETBRIDGE_KUBE_CLUSTERS": ",".join(self.kubeconfigs),
            "JETBRIDGE_SECRETS_MANAGER_ENDPOINT": self.secrets_endpoint,
            "JETBRIDGE_CLUSTER_SECRET_STORE": self.cluster_secret_store,
        }
        for name, path in self.kubeconfigs.items():
            out[f"JETBRIDGE_KUBE_{env_name(name)}_KUBECONFIG"] = str(path)
        return out


def env_name(cluster: str) -> str:
    return cluster.upper().replace("-", "_").replace(".", "_")


# --- the shared secrets store ---------------------------------------------------------
class SecretsStore:
    """moto_server emulating AWS Secrets Manager. In-memory: a restart empties it."""

    def __init__(self, root: Path, port: int = SECRETS_PORT) -> None:
        self.dir = root / "secrets-store"
        self.port = port
        self.endpoint = f"http://{HOST}:{port}"

    @property
    def pid_file(self) -> Path:
        return self.dir / "moto.pid"

    def owns(self, argv: list[str]) -> bool:
        return any(Path(a).name == "moto_server" for a in argv[:2]) and str(self.port) in argv

    def pids(self) -> list[int]:
        pid = read_pid(self.pid_file)
        if pid is not None and alive(pid) and self.owns(cmdline(pid)):
            return [pid]
        return find_pids(self.owns)

    def ready(self) -> bool:
        with urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=2) as resp:
            return bool(resp.status == 200)

    def start(self) -> str:
        pids = self.pids()
        if pids:
            wait_for(self.ready, 30, "secrets-store", pids[0])
            return f"reused pid {pids[0]}"
        self.dir.mkdir(parents=True, exist_ok=True)
        exe = Path(sys.executable).with_name("moto_server")
        pid = spawn([str(exe), "-H", HOST, "-p", str(self.port)], self.dir / "moto.log")
        self.pid_file.write_text(f"{pid}\n")
        waited = wait_for(self.ready, 30, "secrets-store", pid, log=self.dir / "moto.log")
        return f"started pid {pid} (ready in {waited:.1f}s)"

    def stop(self) -> str:
        """Stop whatever serves the port: a fault injected on purpose (tests, chaos)."""
        pids = self.pids()
        for pid in pids:
            stop_pid(pid, timeout=10)
        self.pid_file.unlink(missing_ok=True)
        return f"stopped pid(s) {pids}" if pids else "not running"

    def release(self) -> str:
        """Stop the store only if this state dir started it (``down``).

        The port is shared by every checkout on the machine: a clone's ``up`` reuses the
        store another state dir started, and its ``down`` must not take it from under
        that other stack.
        """
        own = read_pid(self.pid_file)
        if own is not None and alive(own) and self.owns(cmdline(own)):
            stop_pid(own, timeout=10)
            self.pid_file.unlink(missing_ok=True)
            return f"stopped pid {own}"
        self.pid_file.unlink(missing_ok=True)
        others = find_pids(self.owns)
        return (
            f"left pid(s) {others} running: started by another state dir"
            if others
            else "not running"
        )


# --- clusters -------------------------------------------------------------------------
def _slot(root: Path, name: str) -> int:
    """A cluster keeps the port slot it got first; new clusters take the lowest free one."""
    own = root / name / "slot"
    if own.exists():
        return int(own.read_text())
    taken = {int(p.read_text()) for p in root.glob("*/slot")}
    slot = next(i for i in range(100) if i not in taken)
    own.parent.mkdir(parents=True, exist_ok=True)
    own.write_text(f"{slot}\n")
    return slot


def known_clusters(root: Path) -> list[Cluster]:
    store = SecretsStore(root)
    return [
        Cluster(root, p.parent.name, int(p.read_text()), store.endpoint)
        for p in sorted(root.glob("*/slot"))
    ]


def _bring_up(cluster: Cluster) -> None:
    start = time.monotonic()
    for line in cluster.start_control_plane():
        say(cluster.name, line)
    kubebootstrap.bootstrap(cluster.kubeconfig, cluster.name)
    for line in cluster.start_controllers():
        say(cluster.name, line)
    wait_for(
        lambda: kubebootstrap.nodes_ready(cluster.kubeconfig) == kubebootstrap.FAKE_NODES,
        60,
        f"{cluster.name}: kwok nodes Ready",
    )
    say(
        cluster.name,
        f"ready in {time.monotonic() - start:.1f}s: {cluster.server}, "
        f"kubeconfig {cluster.kubeconfig}",
    )


@contextmanager
def _locked(root: Path) -> Iterator[None]:
    """Serialise up/down: parallel test sessions must not race to start the same servers."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / "kube.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def up(names: Sequence[str] | None = None) -> KubeStack:
    """Start (or reuse) the shared store and the named clusters; wait until all are ready."""
    names = list(names or DEFAULT_CLUSTERS)
    root = state_root()
    kubebuild.ensure_binaries()
    with _locked(root):
        store = SecretsStore(root)
        say("secrets", store.start())
        clusters = [Cluster(root, n, _slot(root, n), store.endpoint) for n in names]
        for cluster in clusters:  # a benchmark that paused them may have died
            cluster.send(signal.SIGCONT)
        with ThreadPoolExecutor(max_workers=len(clusters)) as pool:
            errors = [f.exception() for f in [pool.submit(_bring_up, c) for c in clusters]]
        failed = [e for e in errors if e is not None]
        if failed:
            raise KubeStackError("; ".join(str(e) for e in failed))
        stack = KubeStack(
            {
                c.name: c.kubeconfig
                for c in known_clusters(root)
                if c.name in names or c.pids("kube-apiserver")
            },
            store.endpoint,
            kubebootstrap.STORE_NAME,
            root / "kube.env",
        )
        stack.env_file.write_text("".join(f"{k}={v}\n" for k, v in stack.env().items()))
        return stack


def down() -> list[str]:
    """Stop every cluster this checkout's state knows of, then the store."""
    root = state_root()
    with _locked(root):
        done = [f"{c.name}: {item}" for c in known_clusters(root) for item in c.stop()]
        done.append(f"secrets-store: {SecretsStore(root).release()}")
        (root / "kube.env").unlink(missing_ok=True)
        return done


def status() -> dict[str, object]:
    root = state_root()
    store = SecretsStore(root)
    pids = store.pids()
    try:
        store_ok = bool(pids) and store.ready()
    except OSError:
        store_ok = False
    return {
        "secrets_store": {
            "endpoint": store.endpoint,
            "pid": pids[0] if pids else None,
            "ready": store_ok,
            "rss_mib": round(rss_kib(pids[0]) / 1024, 1) if pids else 0,
        },
        "clusters": [c.status() for c in known_clusters(root)],
    }


def pause() -> list[int]:
    """Freeze every cluster's daemons (SIGSTOP), for a benchmark that does not use them.

    Idle, the two local clusters keep about a quarter of a core busy (the apiservers,
    etcd, the ESO stand-in's one-second poll): noise in a measurement of the
    orchestration alone (``bench_e2e.py --adapter memory``). ``resume()`` undoes it,
    and so does ``up()``, should the pausing process die first."""
    return _signal_clusters(signal.SIGSTOP)


def resume() -> list[int]:
    """Let every cluster's daemons run again (SIGCONT; a no-op on a running process)."""
    return _signal_clusters(signal.SIGCONT)


def _signal_clusters(sig: signal.Signals) -> list[int]:
    root = state_root()
    with _locked(root):
        return [pid for c in known_clusters(root) for pid in c.send(sig)]


def stop_secrets_store() -> str:
    return SecretsStore(state_root()).stop()


def start_secrets_store() -> str:
    return SecretsStore(state_root()).start()


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description="local Kubernetes data planes")
    ap.add_argument("command", choices=["up", "down", "status", "build", "pause", "resume"])
    ap.add_argument(
        "--clusters", default=",".join(DEFAULT_CLUSTERS), help="comma-separated cluster names (up)"
    )
    args = ap.parse_args(argv)
    try:
        if args.command == "build":
            kubebuild.ensure_binaries()
        elif args.command == "up":
            start = time.monotonic()
            stack = up([n for n in args.clusters.split(",") if n])
            say("kube", f"all up in {time.monotonic() - start:.1f}s; env in {stack.env_file}")
        elif args.command in ("pause", "resume"):
            pids = pause() if args.command == "pause" else resume()
            say("kube", f"{args.command}d {len(pids)} processes")
        elif args.command == "down":
            for line in down():
                say("kube", line)
        else:
            print(json.dumps(status(), indent=2))
    except KubeStackError as err:
        say("kube", f"FAILED: {err}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
