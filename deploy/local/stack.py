"""The local stack's one entry point: ``up``, ``down``, ``status``, ``logs``, ``reset``.

Run with the project venv: ``.venv/bin/python deploy/local/stack.py up``. ``up`` is
idempotent (running servers are reused, never doubled), starts the missing ones in
parallel, and writes ``.state/stack.env``, which ``jetbridge.common.settings`` and the
test fixtures read. See docs/operations-local-stack.md.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent / "kube"))

import kubestack
from component import Component
from kafka import Kafka, ensure_jars
from layout import Layout, write_private
from mariadb import MariaDB
from postgres import POSTGRES15, POSTGRES18, Postgres
from procs import StackError, say, tail


def components(layout: Layout) -> list[Component]:
    return [
        Kafka(layout),
        Postgres(layout, POSTGRES15),
        Postgres(layout, POSTGRES18),
        MariaDB(layout),
    ]


@contextmanager
def stack_lock(layout: Layout) -> Iterator[None]:
    """Serialise up/down: several `make test` runs at once must not race to start."""
    layout.ensure_base_dirs()
    with layout.lock_file.open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("stack", "another stack.py holds the lock; waiting for it")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def in_parallel(comps: list[Component], action: Callable[[Component], str], verb: str) -> list[str]:
    """Run ``action`` on every component at once; return the failures."""

    def one(comp: Component) -> str | None:
        start = time.monotonic()
        try:
            result = action(comp)
        except Exception as err:
            say(comp.name, f"FAILED after {time.monotonic() - start:.1f}s: {err}")
            return f"{comp.name}: {err}"
        say(comp.name, f"{verb}: {result} ({time.monotonic() - start:.1f}s)")
        return None

    with ThreadPoolExecutor(max_workers=len(comps)) as pool:
        return [failure for failure in pool.map(one, comps) if failure]


def write_env_file(
    layout: Layout, comps: list[Component], kube_env: dict[str, str] | None = None
) -> None:
    by_name = {c.name: c for c in comps}
    kafka = by_name["kafka"]
    assert isinstance(kafka, Kafka)
    values = {
        "JETBRIDGE_STATE_DIR": str(layout.state_dir),
        "JETBRIDGE_KAFKA_BOOTSTRAP_SERVERS": kafka.endpoint(),
        # The same broker's mutual-TLS listener (certificates under <state>/tls).
        "JETBRIDGE_KAFKA_TLS_BOOTSTRAP_SERVERS": kafka.tls_endpoint(),
        "JETBRIDGE_POSTGRES_DSN": by_name["postgres15"].endpoint(),
        "JETBRIDGE_POSTGRES18_DSN": by_name["postgres18"].endpoint(),
        "JETBRIDGE_MYSQL_DSN": by_name["mariadb"].endpoint(),
        # The key of the ledger's hash chain (jetbridge.common.audit): generated once.
        "JETBRIDGE_LEDGER_KEY": layout.password("ledger-key"),
        # The local Kubernetes data planes (deploy/local/kube): kubeconfigs, secrets store.
        **(kube_env or {}),
    }
    text = "# Written by deploy/local/stack.py up; do not edit.\n"
    text += "".join(f"{key}={value}\n" for key, value in values.items())
    write_private(layout.env_file, text, 0o640)  # DSNs with passwords, the ledger key


def cmd_up(layout: Layout, args: argparse.Namespace) -> int:
    takeover = args.takeover or os.environ.get("CI", "").lower() == "true"
    started = time.monotonic()
    with stack_lock(layout):
        comps = components(layout)
        failures = in_parallel(comps, lambda c: c.ensure_up(takeover), "up")
        if failures:
            say("stack", f"up FAILED ({len(failures)} component(s)); logs in {layout.logs_dir}")
            return 1
        kube_env: dict[str, str] = {}
        if not args.no_kube:
            kube_started = time.monotonic()
            kube_env = kubestack.up().env()
            say("kube", f"up: {len(kube_env)} endpoints ({time.monotonic() - kube_started:.1f}s)")
        write_env_file(layout, comps, kube_env)
    say("stack", f"up in {time.monotonic() - started:.1f}s; env file {layout.env_file}")
    return 0


def cmd_down(layout: Layout, args: argparse.Namespace) -> int:
    if not layout.state_dir.exists():
        say("stack", "no state dir: nothing to stop")
        return 0
    started = time.monotonic()
    with stack_lock(layout):
        failures = in_parallel(components(layout), lambda c: c.stop(), "down")
        for line in kubestack.down():
            say("kube", line)
        layout.env_file.unlink(missing_ok=True)
    say("stack", f"down in {time.monotonic() - started:.1f}s")
    return 1 if failures else 0


def mask(endpoint: str) -> str:
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", endpoint)


def cmd_status(layout: Layout, args: argparse.Namespace) -> int:
    statuses = [c.status() for c in components(layout)]
    print(f"state dir: {layout.state_dir}")
    for st in statuses:
        pid = f"pid {st.pid}" if st.pid else "-"
        print(f"  {st.name:<11} {pid:<10} {mask(st.endpoint):<52} {st.detail}")
    kube = kubestack.status()
    store = kube["secrets_store"]
    print(f"  {'secrets':<11} pid {store['pid']}  {store['endpoint']}  ready={store['ready']}")
    for cluster in kube["clusters"]:
        print(f"  {'kube':<11} {json.dumps(cluster, default=str)[:150]}")
    env = layout.env_file
    print(f"env file:  {env}" if env.exists() else "env file:  (none: run `make stack-up`)")
    return 0 if all(st.running for st in statuses) else 1


def cmd_logs(layout: Layout, args: argparse.Namespace) -> int:
    for comp in components(layout):
        if args.component in (None, comp.name):
            print(f"==> {comp.log_file} <==")
            print(tail(comp.log_file, args.lines))
    return 0


def cmd_reset(layout: Layout, args: argparse.Namespace) -> int:
    code = cmd_down(layout, args)
    if code != 0:
        return code
    shutil.rmtree(layout.state_dir, ignore_errors=True)
    say("stack", f"removed {layout.state_dir}")
    return 0


def cmd_jars(layout: Layout, args: argparse.Namespace) -> int:
    print(ensure_jars())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="stack.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start what is not running; write .state/stack.env")
    up.add_argument(
        "--takeover",
        action="store_true",
        help="stop another checkout's stack holding our ports (default if CI=true)",
    )
    up.add_argument(
        "--no-kube",
        action="store_true",
        help="skip the local Kubernetes clusters (they build from source once)",
    )
    sub.add_parser("down", help="stop every component")
    sub.add_parser("status", help="each component, its pid and endpoint; exit 1 if one is down")
    logs = sub.add_parser("logs", help="the end of each component's log")
    logs.add_argument("component", nargs="?")
    logs.add_argument("-n", "--lines", type=int, default=40)
    sub.add_parser("reset", help="down, then delete the state dir (data, passwords)")
    sub.add_parser("jars", help="fetch the Kafka broker jars into the cache if missing")
    args = parser.parse_args(argv)
    handlers = {
        "up": cmd_up,
        "down": cmd_down,
        "status": cmd_status,
        "logs": cmd_logs,
        "reset": cmd_reset,
        "jars": cmd_jars,
    }
    try:
        return handlers[args.command](Layout.from_env(), args)
    except StackError as err:
        say("stack", f"ERROR: {err}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
