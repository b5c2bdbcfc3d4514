"""Build the local Kubernetes control plane from pinned versions on the Go module proxy.

No kind/k3s/Docker and no release downloads here, so kube-apiserver,
kube-controller-manager, etcd and kwok are compiled from source (and helm, which the
chart tests under tests/integration/helm run). Each comes from a
throwaway Go module whose go.mod/go.sum are committed under ``gomod/<component>/``
(copied into the cache before building), so a fresh machine builds exactly the tested
dependency graph. Binaries live OUTSIDE the repo in a cache keyed by version
(``~/.cache/jetbridge/kube/<component>-<version>/bin``) and are reused when present.

``kubebuild.py regenerate [NAME...]`` rewrites the committed go.mod/go.sum from the pins below
(k8s.io/kubernetes needs the staging ``replace`` list: its go.mod requires every
staging module at v0.0.0 and points them at ./staging, which `go install` refuses).
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
GOMOD_DIR = HERE / "gomod"

KUBERNETES_VERSION = "v1.36.3"
ETCD_VERSION = "v3.6.16"
KWOK_VERSION = "v0.8.0"
HELM_VERSION = "v3.22.0"
PROXY = "https://proxy.golang.org"


@dataclass(frozen=True)
class Component:
    """One throwaway module and the binaries built from it."""

    name: str
    version: str
    module: str  # the upstream module required at ``version``
    packages: dict[str, str]  # binary name -> main package
    ldflags: tuple[str, ...] = ()
    godebug: str = ""
    replaces: dict[str, str] = field(default_factory=dict)
    # extra file in bin/ -> files of the upstream module concatenated into it
    files: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.name}-{self.version}"


def _helm_ldflags(version: str) -> tuple[str, ...]:
    # What helm's Makefile stamps: its version (`helm version`, .Capabilities.HelmVersion)
    # and the default .Capabilities.KubeVersion of `helm template`/`lint`: client-go's
    # v0.Y.Z read as 1.Y (the pinned go.mod's), not the source's 1.20 fallback.
    pkg = "helm.sh/helm/v3"
    flags = [
        f"-X {pkg}/internal/version.version={version}",
        f"-X {pkg}/internal/version.gitTreeState=clean",
    ]
    pinned = GOMOD_DIR / "helm" / "go.mod"
    found = (
        re.search(r"^\s*k8s\.io/client-go v0\.(\d+)\.", pinned.read_text(), re.M)
        if pinned.exists()
        else None
    )
    if found:
        flags += [
            f"-X {pkg}/pkg/chartutil.k8sVersionMajor=1",
            f"-X {pkg}/pkg/chartutil.k8sVersionMinor={found.group(1)}",
        ]
    return tuple(flags)


def _kube_ldflags(version: str) -> tuple[str, ...]:
    # What hack/lib/version.sh stamps: clients read /version, and kwok/kubectl compare it.
    major, minor = version.lstrip("v").split(".")[:2]
    flags = []
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {pkg}.gitVersion={version}",
            f"-X {pkg}.gitMajor={major}",
            f"-X {pkg}.gitMinor={minor}",
            f"-X {pkg}.gitTreeState=clean",
        ]
    return tuple(flags)


COMPONENTS = (
    Component(
        name="kubernetes",
        version=KUBERNETES_VERSION,
        module="k8s.io/kubernetes",
        packages={
            "kube-apiserver": "k8s.io/kubernetes/cmd/kube-apiserver",
            "kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
            # kwok fakes kubelets but binds no pods: without a scheduler they stay
            # Pending and no Deployment ever reports Ready.
            "kube-scheduler": "k8s.io/kubernetes/cmd/kube-scheduler",
        },
        ldflags=_kube_ldflags(KUBERNETES_VERSION),
        godebug="go1.26",
    ),
    Component(
        name="etcd",
        version=ETCD_VERSION,
        module="go.etcd.io/etcd/server/v3",
        packages={"etcd": "go.etcd.io/etcd/server/v3"},
    ),
    Component(
        name="kwok",
        version=KWOK_VERSION,
        module="sigs.k8s.io/kwok",
        packages={"kwok": "sigs.k8s.io/kwok/cmd/kwok"},
        # kwok exits with "no stages found" without them: its "fast" stage set
        files={
            "kwok-stages.yaml": (
                "kustomize/stage/node/fast/node-initialize.yaml",
                "kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
                "kustomize/stage/pod/fast/pod-ready.yaml",
                "kustomize/stage/pod/fast/pod-complete.yaml",
                "kustomize/stage/pod/fast/pod-delete.yaml",
            )
        },
    ),
    # Not part of the clusters: lints and renders deploy/helm/ (tests/integration/helm).
    Component(
        name="helm",
        version=HELM_VERSION,
        module="helm.sh/helm/v3",
        packages={"helm": "helm.sh/helm/v3/cmd/helm"},
        ldflags=_helm_ldflags(HELM_VERSION),
    ),
)


def cache_root() -> Path:
    raw = os.environ.get("JETBRIDGE_KUBE_CACHE")
    if raw:
        return Path(raw)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "jetbridge" / "kube"


def bin_dir(comp: Component) -> Path:
    return cache_root() / comp.key / "bin"


def binary(name: str) -> Path:
    """Path of a built binary (``kube-apiserver``, ``etcd``, ...) or extra file by name."""
    for comp in COMPONENTS:
        if name in comp.packages or name in comp.files:
            return bin_dir(comp) / name
    raise KeyError(name)


def is_built(comp: Component) -> bool:
    # The stamp is written last, so a build killed half-way is never taken as done.
    stamp = bin_dir(comp) / ".complete"
    return stamp.exists() and all(
        (bin_dir(comp) / b).exists() for b in [*comp.packages, *comp.files]
    )


def say(message: str) -> None:
    print(f"[kube-build] {message}", flush=True)


def go_env() -> dict[str, str]:
    """Be a good neighbour on a shared 2-core machine: 2 procs, reproducible paths."""
    env = dict(os.environ)
    env.setdefault("GOMAXPROCS", "2")
    env.setdefault("GOFLAGS", "-buildvcs=false")
    env["GOTOOLCHAIN"] = "local"
    # Our own build cache: its size is measurable and `rm -rf` frees it after a build.
    env.setdefault("GOCACHE", str(cache_root() / "go-build"))
    env["CGO_ENABLED"] = "0"
    return env


def _nice() -> list[str]:
    return ["nice", "-n", "19"] if shutil.which("nice") else []


def _run(cmd: list[str], cwd: Path) -> str:
    proc = subprocess.run(
        _nice() + cmd, cwd=cwd, env=go_env(), text=True, capture_output=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed in {cwd}:\n{proc.stderr[-4000:]}")
    return proc.stdout


def staging_replaces(version: str) -> dict[str, str]:
    """Every staging module k8s.io/kubernetes requires at v0.0.0 -> its v0.Y.Z tag."""
    with urllib.request.urlopen(f"{PROXY}/k8s.io/kubernetes/@v/{version}.mod", timeout=60) as resp:
        text = resp.read().decode()
    staged = sorted(set(re.findall(r"^\s+(k8s\.io/[\w./-]+) v0\.0\.0$", text, re.M)))
    minor = version.lstrip("v").split(".", 1)[1]
    return {mod: f"v0.{minor}" for mod in staged}


def _template(comp: Component, replaces: dict[str, str]) -> str:
    lines = [
        f"// Throwaway module: builds {comp.module} {comp.version} (see kubebuild.py).",
        f"module jetbridge.local/kubebuild/{comp.name}",
        "",
        "go 1.26.0",
        "",
    ]
    if comp.godebug:
        lines += [f"godebug default={comp.godebug}", ""]
    lines += [f"require {comp.module} {comp.version}", ""]
    if replaces:
        lines.append("replace (")
        lines += [f"\t{mod} => {mod} {ver}" for mod, ver in sorted(replaces.items())]
        lines += [")", ""]
    lines.append("tool (")
    lines += [f"\t{pkg}" for pkg in comp.packages.values()]
    lines += [")", ""]
    return "\n".join(lines)


def regenerate(comp: Component) -> None:
    """Resolve the dependency graph afresh and commit-ready copy it into gomod/."""
    src = cache_root() / comp.key / "src"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    replaces = staging_replaces(comp.version) if comp.name == "kubernetes" else {}
    (src / "go.mod").write_text(_template(comp, replaces))
    say(f"{comp.key}: go mod tidy (resolves and downloads the module graph)")
    _run(["go", "mod", "tidy"], src)
    dest = GOMOD_DIR / comp.name
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("go.mod", "go.sum"):
        shutil.copy2(src / name, dest / name)
    say(f"{comp.key}: wrote {dest.relative_to(HERE.parents[2])}/go.mod, go.sum")


def _prepare_src(comp: Component) -> Path:
    pinned = GOMOD_DIR / comp.name
    if not (pinned / "go.mod").exists():
        raise RuntimeError(f"{pinned}/go.mod missing: run `kubebuild.py regenerate`")
    text = (pinned / "go.mod").read_text()
    if f"{comp.module} {comp.version}" not in text:
        raise RuntimeError(
            f"{pinned}/go.mod does not pin {comp.module} {comp.version}: "
            "run `kubebuild.py regenerate` after changing a version"
        )
    src = cache_root() / comp.key / "src"
    src.mkdir(parents=True, exist_ok=True)
    for name in ("go.mod", "go.sum"):
        shutil.copy2(pinned / name, src / name)
    return src


def build(comp: Component) -> None:
    """Download and compile one component, printing progress while the compiler runs."""
    src = _prepare_src(comp)
    start = time.monotonic()
    say(f"{comp.key}: downloading modules (go mod download)")
    _run(["go", "mod", "download"], src)
    pkgs = list(comp.packages.values())
    total = len(_run(["go", "list", "-deps", *pkgs], src).split())
    say(
        f"{comp.key}: modules ready after {time.monotonic() - start:.0f}s; "
        f"compiling {len(pkgs)} binaries ({total} packages)"
    )
    out = bin_dir(comp)
    out.mkdir(parents=True, exist_ok=True)
    (out / ".complete").unlink(missing_ok=True)
    for name, pkg in comp.packages.items():
        cmd = [
            "go",
            "build",
            "-v",
            "-trimpath",
            "-ldflags",
            " ".join(("-s", "-w", *comp.ldflags)),
            "-o",
            str(out / name),
            pkg,
        ]
        _build_with_progress(cmd, src, f"{comp.key}: {name}", total, start)
    if comp.files:
        mod_dir = Path(_run(["go", "list", "-m", "-f", "{{.Dir}}", comp.module], src).strip())
        for name, parts in comp.files.items():
            text = "".join("---\n" + (mod_dir / part).read_text() for part in parts)
            (out / name).write_text(text)
    (out / ".complete").write_text(f"{comp.module} {comp.version}\n")
    say(f"{comp.key}: done in {time.monotonic() - start:.0f}s -> {out}")


def _build_with_progress(cmd: list[str], cwd: Path, label: str, total: int, start: float) -> None:
    proc = subprocess.Popen(
        _nice() + cmd,
        cwd=cwd,
        env=go_env(),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert proc.stdout is not None
    compiled, last = 0, 0.0
    tail: list[str] = []
    for raw in proc.stdout:
        line = raw.rstrip()
        tail = [*tail[-39:], line]
        if line and " " not in line:  # -v prints one package path per compiled package
            compiled += 1
        now = time.monotonic()
        if now - last >= 15:
            last = now
            say(f"{label}: {compiled} packages compiled (of <= {total}), {now - start:.0f}s")
    if proc.wait() != 0:
        raise RuntimeError(f"building {label} failed:\n" + "\n".join(tail))


def ensure_binaries(force: bool = False) -> dict[str, Path]:
    """Build what is missing from the cache (one build at a time); return binary paths."""
    if force or not all(is_built(c) for c in COMPONENTS):
        root = cache_root()
        root.mkdir(parents=True, exist_ok=True)
        with (root / "build.lock").open("w") as lock:  # concurrent `up`s build once
            fcntl.flock(lock, fcntl.LOCK_EX)
            for comp in COMPONENTS:
                if force or not is_built(comp):
                    build(comp)
    return {name: bin_dir(comp) / name for comp in COMPONENTS for name in comp.packages}


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "build"
    if cmd == "regenerate":  # `regenerate helm` redoes one; no names: all of them
        names = set(argv[1:])
        unknown = names - {c.name for c in COMPONENTS}
        if unknown:
            print(f"unknown components: {sorted(unknown)}", file=sys.stderr)
            return 2
        for comp in COMPONENTS:
            if not names or comp.name in names:
                regenerate(comp)
        return 0
    if cmd in ("build", "rebuild"):
        for name, path in ensure_binaries(force=cmd == "rebuild").items():
            say(f"{name}: {path}")
        return 0
    if cmd == "prune":  # binaries stay; the 3-4 GB compile cache and sources go
        for path in [cache_root() / "go-build", *cache_root().glob("*/src")]:
            shutil.rmtree(path, ignore_errors=True)
            say(f"removed {path}")
        return 0
    if cmd == "paths":
        for comp in COMPONENTS:
            state = "built" if is_built(comp) else "missing"
            say(f"{comp.key}: {bin_dir(comp)} ({state})")
        return 0
    print("usage: kubebuild.py [build|rebuild|regenerate [NAME...]|paths|prune]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
