"""One local data-plane cluster: etcd, kube-apiserver, controller-manager, scheduler, kwok.

Flags follow controller-runtime's envtest (loopback etcd without fsync, apiserver on
127.0.0.1 with a client CA, RBAC, service-account keys) plus what envtest leaves out
because it runs no controllers: kube-controller-manager (ReplicaSets, namespace
deletion, garbage collection), kube-scheduler (binds pods) and kwok (fake kubelets:
nodes and pods turn Ready). Everything of cluster NAME lives in ``.state/kube/NAME/``;
every process's command line names that directory, which is how a later ``up`` finds
and reuses it. Ports are per-cluster slots on loopback (see ``ports``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import ssl
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import kubebuild
import kubepki
from kubeprocs import alive, cmdline, find_pids, read_pid, rss_kib, spawn, stop_pid, wait_for

HERE = Path(__file__).resolve().parent
HOST = "127.0.0.1"
BASE_PORT = 16400
SLOT_WIDTH = 20
SERVICE_RANGE = "10.96.0.0/16"
POD_CIDR = "10.244.0.0/16"

# Small footprint: a bounded etcd, no profiling, short event TTL, lean Go runtime.
DAEMON_ENV = {"GOMAXPROCS": "2", "GOGC": "50"}


@dataclass(frozen=True)
class Ports:
    apiserver: int
    etcd: int
    etcd_peer: int
    controller_manager: int
    scheduler: int
    kwok: int

    @classmethod
    def for_slot(cls, slot: int) -> Ports:
        b = BASE_PORT + SLOT_WIDTH * slot
        return cls(b, b + 1, b + 2, b + 3, b + 4, b + 5)


@dataclass(frozen=True)
class Daemon:
    name: str  # the log/pid file stem
    argv: list[str]
    marker: str = ""  # basename in argv[0:2] identifying the program (default: name)


class Cluster:
    """Paths, ports and processes of one named cluster under ``state_root/NAME``."""

    def __init__(self, state_root: Path, name: str, slot: int, secrets_endpoint: str) -> None:
        self.name = name
        self.slot = slot
        self.secrets_endpoint = secrets_endpoint
        self.dir = state_root / name
        self.ports = Ports.for_slot(slot)

    # --- paths ------------------------------------------------------------------------
    @property
    def pki(self) -> Path:
        return self.dir / "pki"

    @property
    def kubeconfig(self) -> Path:
        """The admin kubeconfig (system:masters) handed to tests and tools."""
        return self.dir / "kubeconfig"

    def component_kubeconfig(self, user: str) -> Path:
        return self.dir / "kubeconfigs" / f"{kubepki.file_stem(user)}.kubeconfig"

    def log(self, daemon: str) -> Path:
        return self.dir / "logs" / f"{daemon}.log"

    def pid_file(self, daemon: str) -> Path:
        return self.dir / "run" / f"{daemon}.pid"

    @property
    def server(self) -> str:
        return f"https://{HOST}:{self.ports.apiserver}"

    # --- configuration ----------------------------------------------------------------
    def prepare(self) -> None:
        """PKI and kubeconfigs once; idempotent."""
        for sub in ("logs", "run", "kubeconfigs", "etcd"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        (self.dir / "etcd").chmod(0o700)
        kubepki.ensure_pki(self.pki, self.name)
        self.kubeconfig.write_text(kubepki.kubeconfig(self.pki, self.server, self.name, "admin"))
        self.kubeconfig.chmod(0o600)
        for user in kubepki.CLIENTS:
            path = self.component_kubeconfig(user)
            path.write_text(kubepki.kubeconfig(self.pki, self.server, self.name, user))
            path.chmod(0o600)

    def daemons(self) -> list[Daemon]:
        """Start order; stop runs it backwards."""
        p, pki, b = self.ports, self.pki, kubebuild.binary
        etcd_url, peer_url = f"http://{HOST}:{p.etcd}", f"http://{HOST}:{p.etcd_peer}"
        kcm_cfg = str(self.component_kubeconfig("system:kube-controller-manager"))
        sched_cfg = str(self.component_kubeconfig("system:kube-scheduler"))
        return [
            Daemon(
                "etcd",
                [
                    str(b("etcd")),
                    f"--name={self.name}",
                    f"--data-dir={self.dir / 'etcd'}",
                    f"--listen-client-urls={etcd_url}",
                    f"--advertise-client-urls={etcd_url}",
                    f"--listen-peer-urls={peer_url}",
                    f"--initial-advertise-peer-urls={peer_url}",
                    f"--initial-cluster={self.name}={peer_url}",
                    "--initial-cluster-state=new",
                    "--unsafe-no-fsync",
                    "--quota-backend-bytes=268435456",
                    "--auto-compaction-mode=periodic",
                    "--auto-compaction-retention=5m",
                    "--snapshot-count=5000",
                    "--log-level=warn",
                ],
            ),
            Daemon(
                "kube-apiserver",
                [
                    str(b("kube-apiserver")),
                    f"--etcd-servers={etcd_url}",
                    f"--bind-address={HOST}",
                    f"--advertise-address={HOST}",
                    f"--secure-port={p.apiserver}",
                    f"--cert-dir={self.dir / 'apiserver-certs'}",
                    f"--tls-cert-file={pki / 'apiserver.crt'}",
                    f"--tls-private-key-file={pki / 'apiserver.key'}",
                    f"--client-ca-file={pki / 'ca.crt'}",
                    f"--requestheader-client-ca-file={pki / 'front-proxy-ca.crt'}",
                    "--requestheader-allowed-names=front-proxy-client",
                    "--requestheader-username-headers=X-Remote-User",
                    "--requestheader-group-headers=X-Remote-Group",
                    "--requestheader-extra-headers-prefix=X-Remote-Extra-",
                    f"--proxy-client-cert-file={pki / 'front-proxy-client.crt'}",
                    f"--proxy-client-key-file={pki / 'front-proxy-client.key'}",
                    "--authorization-mode=Node,RBAC",
                    "--anonymous-auth=false",
                    f"--service-cluster-ip-range={SERVICE_RANGE}",
                    "--allow-privileged=true",
                    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                    f"--service-account-key-file={pki / 'sa.pub'}",
                    f"--service-account-signing-key-file={pki / 'sa.key'}",
                    "--disable-admission-plugins=DefaultStorageClass,StorageObjectInUseProtection",
                    "--endpoint-reconciler-type=none",
                    "--profiling=false",
                    "--event-ttl=30m",
                    "--max-requests-inflight=200",
                    "--max-mutating-requests-inflight=100",
                    "--enable-priority-and-fairness=false",
                    "--v=0",
                ],
            ),
            Daemon(
                "kube-controller-manager",
                [
                    str(b("kube-controller-manager")),
                    f"--kubeconfig={kcm_cfg}",
                    f"--authentication-kubeconfig={kcm_cfg}",
                    f"--authorization-kubeconfig={kcm_cfg}",
                    f"--bind-address={HOST}",
                    f"--secure-port={p.controller_manager}",
                    f"--cert-dir={self.dir / 'kcm-certs'}",
                    "--leader-elect=false",
                    "--use-service-account-credentials=true",
                    f"--service-account-private-key-file={pki / 'sa.key'}",
                    f"--root-ca-file={pki / 'ca.crt'}",
                    f"--cluster-name={self.name}",
                    "--kube-api-qps=200",
                    "--kube-api-burst=400",
                    "--profiling=false",
                    "--v=0",
                ],
            ),
            Daemon(
                "kube-scheduler",
                [
                    str(b("kube-scheduler")),
                    f"--kubeconfig={sched_cfg}",
                    f"--authentication-kubeconfig={sched_cfg}",
                    f"--authorization-kubeconfig={sched_cfg}",
                    f"--bind-address={HOST}",
                    f"--secure-port={p.scheduler}",
                    f"--cert-dir={self.dir / 'scheduler-certs'}",
                    "--leader-elect=false",
                    "--profiling=false",
                    "--v=0",
                ],
            ),
            Daemon(
                "kwok",
                [
                    str(b("kwok")),
                    f"--config={b('kwok-stages.yaml')}",
                    f"--kubeconfig={self.component_kubeconfig('jetbridge:kwok')}",
                    "--manage-all-nodes=false",
                    "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                    "--manage-nodes-with-label-selector=",
                    "--manage-single-node=",
                    f"--cidr={POD_CIDR}",
                    "--node-ip=10.0.0.1",
                    "--node-lease-duration-seconds=40",
                    f"--server-address={HOST}:{p.kwok}",
                    "--v=WARN",
                ],
            ),
            Daemon(
                "eso-standin",
                [
                    sys.executable,
                    str(HERE / "eso_standin.py"),
                    f"--kubeconfig={self.component_kubeconfig('jetbridge:eso-standin')}",
                    f"--endpoint={self.secrets_endpoint}",
                    "--interval=1",
                    f"--ready-file={self.dir / 'run' / 'eso-standin.ready'}",
                ],
                marker="eso_standin.py",
            ),
        ]

    # --- processes --------------------------------------------------------------------
    def daemon(self, name: str) -> Daemon:
        return next(d for d in self.daemons() if d.name == name)

    def owns(self, d: Daemon, argv: list[str]) -> bool:
        mine = str(self.dir) + "/"
        marker = d.marker or d.name
        return any(Path(a).name == marker for a in argv[:2]) and any(
            mine in arg for arg in argv[1:]
        )

    def pids(self, name: str) -> list[int]:
        d = self.daemon(name)
        pid = read_pid(self.pid_file(name))
        if pid is not None and alive(pid) and self.owns(d, cmdline(pid)):
            return [pid]
        return find_pids(lambda argv: self.owns(d, argv))

    def ensure_daemon(self, d: Daemon) -> str:
        pids = self.pids(d.name)
        if pids:
            self.pid_file(d.name).write_text(f"{pids[0]}\n")
            self.wait_ready(d.name, pids[0])
            return f"{d.name} reused pid {pids[0]}"
        if d.name == "eso-standin":
            (self.dir / "run" / "eso-standin.ready").unlink(missing_ok=True)
        pid = spawn(d.argv, self.log(d.name), env=DAEMON_ENV, cwd=self.dir)
        self.pid_file(d.name).write_text(f"{pid}\n")
        waited = self.wait_ready(d.name, pid)
        return f"{d.name} started pid {pid} (ready in {waited:.1f}s)"

    def wait_ready(self, daemon: str, pid: int) -> float:
        return wait_for(
            lambda: self.ready(daemon), 90.0, f"{self.name}/{daemon}", pid, log=self.log(daemon)
        )

    def ready(self, daemon: str) -> bool:
        p = self.ports
        if daemon == "etcd":
            return bool(json.loads(_get(f"http://{HOST}:{p.etcd}/health")).get("health") == "true")
        if daemon == "kube-apiserver":
            return _get(f"{self.server}/readyz", self.admin_tls()) == "ok"
        if daemon in ("kube-controller-manager", "kube-scheduler"):
            port = p.controller_manager if daemon == "kube-controller-manager" else p.scheduler
            return _get(f"https://{HOST}:{port}/healthz", _insecure()) == "ok"
        if daemon == "kwok":
            return _get(f"http://{HOST}:{p.kwok}/healthz") == "ok"
        if daemon == "eso-standin":  # written after its first full reconcile pass
            pid = read_pid(self.dir / "run" / "eso-standin.ready")
            return pid is not None and pid in self.pids(daemon)
        raise KeyError(daemon)

    def admin_tls(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.pki / "ca.crt"))
        ctx.load_cert_chain(str(self.pki / "admin.crt"), str(self.pki / "admin.key"))
        return ctx

    def send(self, sig: signal.Signals) -> list[int]:
        """``sig`` to every daemon of this cluster; the pids it reached."""
        reached = []
        for d in self.daemons():
            for pid in self.pids(d.name):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
                    reached.append(pid)
        return reached

    def stop(self) -> list[str]:
        done = []
        for d in reversed(self.daemons()):
            for pid in self.pids(d.name):
                stop_pid(pid)
                done.append(f"{d.name} pid {pid}")
            self.pid_file(d.name).unlink(missing_ok=True)
        return done

    def status(self) -> dict[str, object]:
        procs: dict[str, object] = {}
        for d in self.daemons():
            pids = self.pids(d.name)
            try:
                ok = bool(pids) and self.ready(d.name)
            except Exception:
                ok = False
            procs[d.name] = {
                "pid": pids[0] if pids else None,
                "ready": ok,
                "rss_mib": round(rss_kib(pids[0]) / 1024, 1) if pids else 0,
            }
        return {
            "name": self.name,
            "server": self.server,
            "kubeconfig": str(self.kubeconfig),
            "ports": self.ports.__dict__,
            "processes": procs,
        }

    def start_control_plane(self) -> list[str]:
        """etcd then the apiserver: what the bootstrap objects need."""
        self.prepare()
        return [self.ensure_daemon(d) for d in self.daemons()[:2]]

    def start_controllers(self) -> list[str]:
        return [self.ensure_daemon(d) for d in self.daemons()[2:]]


def _get(url: str, ctx: ssl.SSLContext | None = None) -> str:
    with urllib.request.urlopen(url, timeout=2, context=ctx) as resp:
        return str(resp.read().decode()).strip()


def _insecure() -> ssl.SSLContext:
    # kcm/scheduler serve /healthz on a self-signed cert they generate themselves.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx
