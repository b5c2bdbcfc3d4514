"""IN-MEMORY twin of a Kubernetes cluster (unit tests and orchestration benchmarks only).

It keeps Kubernetes-shaped objects and plays the controllers the Pilot relies on:
Deployments report ready replicas unless their image is "unpullable" (then their pods
wait in ImagePullBackOff), a PushSecret copies its Secret into a shared
:class:`MemorySecretStore`, an ExternalSecret materialises its target Secret from it,
and deleting a Namespace deletes what is in it. :func:`directory_secret_store` keeps the
store's values as one file per remote key, so Pilot processes of different clusters
(each with its own in-memory objects) share one store, as real clusters share their
external secret manager. ``creations`` counts how often each object was created: a
converging re-run creates nothing twice.
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import json
import marshal
import os
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import quote, unquote

from jetbridge.pilot.domain.airflow import Manifest
from jetbridge.pilot.domain.steps import ErrorCode, permanent, transient
from jetbridge.pilot.service_layer.ports import Changes, ObjectChanged, Unwatched

CLUSTER_SCOPED = frozenset({"Namespace"})
_T = TypeVar("_T")
Key = str  # "kind/namespace/name"


@dataclass
class MemorySecretStore:
    """The shared external store (what a ClusterSecretStore points at)."""

    values: MutableMapping[str, str] = field(default_factory=dict)
    down: bool = False


class DirectoryValues(MutableMapping[str, str]):
    """A store's values as files in a directory (one per key, replaced atomically)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / quote(key, safe="")

    def __getitem__(self, key: str) -> str:
        try:
            return self._path(key).read_text()
        except FileNotFoundError:
            raise KeyError(key) from None

    def __setitem__(self, key: str, value: str) -> None:
        path = self._path(key)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(value)
        os.replace(tmp, path)

    def __delitem__(self, key: str) -> None:
        try:
            self._path(key).unlink()
        except FileNotFoundError:
            raise KeyError(key) from None

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._path(key).exists()

    def __iter__(self) -> Iterator[str]:
        return (unquote(p.name) for p in self.root.iterdir() if not p.name.startswith("."))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def directory_secret_store(root: Path) -> MemorySecretStore:
    """A store shared by every process that names the same directory."""
    return MemorySecretStore(values=DirectoryValues(root))


def _key(kind: str, namespace: str | None, name: str) -> Key:
    return f"{kind}/{'' if kind in CLUSTER_SCOPED else namespace or ''}/{name}"


class InMemoryCluster:
    def __init__(
        self,
        name: str,
        store: MemorySecretStore | None = None,
        *,
        unpullable: frozenset[str] = frozenset(),
    ) -> None:
        self.name = name
        self.store = store or MemorySecretStore()
        self.unpullable = set(unpullable)
        self.fail_next = 0  # the next N calls raise CLUSTER_UNAVAILABLE (fault injection)
        self.calls = 0
        self._objects: dict[Key, Manifest] = {}
        # The same objects by namespace ("" for cluster-scoped ones), as an apiserver
        # lists them: a scan of every object per call made a 1,000-Deployment benchmark
        # quadratic in the twin itself.
        self._by_namespace: dict[str, dict[Key, Manifest]] = {}
        self.creations: dict[Key, int] = {}
        self._version = 0

    @contextlib.contextmanager
    def _state(self) -> Iterator[None]:
        """Every call: counted, and refused while an injected outage lasts."""
        self.calls += 1
        if self.fail_next > 0:
            self.fail_next -= 1
            raise transient(ErrorCode.CLUSTER_UNAVAILABLE, f"{self.name}: injected outage")
        yield

    # -- ClusterPort -------------------------------------------------------------------

    def changes(self, watched: Iterable[tuple[str, str]]) -> Changes:
        """The twin's objects change only when read or written: its waits poll."""
        return Unwatched()

    async def apply(self, manifest: Manifest, *, if_version: str | None = None) -> None:
        kind, meta = manifest["kind"], manifest["metadata"]
        namespace = meta.get("namespace")
        with self._state():
            if if_version is not None:  # the object as read, or (like an apiserver) none
                stored = self._objects.get(_key(kind, namespace, meta["name"]))
                if stored is not None and stored["metadata"]["resourceVersion"] != if_version:
                    raise ObjectChanged(f"{kind} {namespace or ''}/{meta['name']}")
            if kind not in CLUSTER_SCOPED:
                ns = self._objects.get(_key("Namespace", None, namespace))
                if ns is None:
                    raise permanent(ErrorCode.CLUSTER_REFUSED, f"namespace {namespace} not found")
                if ns["status"]["phase"] == "Terminating":
                    raise transient(
                        ErrorCode.CLUSTER_REFUSED, f"namespace {namespace} is terminating"
                    )
            key = _key(kind, namespace, meta["name"])
            old = self._objects.get(key)
            new = _clone(manifest)
            if kind == "Secret":
                data = dict((old or {}).get("data") or {})
                data.update(new.pop("data", {}) or {})
                for k, v in (new.pop("stringData", {}) or {}).items():
                    data[k] = base64.b64encode(v.encode()).decode()
                new["data"] = data
            generation = int(((old or {}).get("metadata") or {}).get("generation") or 0)
            if old is None or old.get("spec") != new.get("spec"):
                generation += 1
            new["metadata"]["generation"] = generation
            new["status"] = (old or {}).get("status") or (
                {"phase": "Active"} if kind == "Namespace" else {}
            )
            if old is None:
                self.creations[key] = self.creations.get(key, 0) + 1
            else:  # an apply that changes nothing keeps the version, as on an apiserver
                new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
                if new == old:
                    return
            self._put(key, new)

    async def create(self, manifest: Manifest, *, for_apply: bool = False) -> bool:
        """The twin keeps no field ownership: an apply replaces the whole object."""
        meta = manifest["metadata"]
        if _key(manifest["kind"], meta.get("namespace"), meta["name"]) in self._objects:
            with self._state():
                return False
        await InMemoryCluster.apply(self, manifest)  # a POST, not a subclass's apply
        return True

    async def get(self, kind: str, namespace: str | None, name: str) -> Manifest | None:
        with self._state():
            obj = self._objects.get(_key(kind, namespace, name))
            if obj is None:
                return None
            self._reconcile(obj)
            return _copy_stored(obj)

    async def list(self, kind: str, namespace: str, labels: Mapping[str, str]) -> list[Manifest]:
        with self._state():
            if kind == "Pod":
                return self._pods(namespace, labels)
            out = []
            for obj in self._in(namespace):
                if obj["kind"] == kind and _matches(obj["metadata"], labels):
                    self._reconcile(obj)
                    out.append(_copy_stored(obj))
            return out

    async def delete(
        self, kind: str, namespace: str | None, name: str, *, if_version: str | None = None
    ) -> bool:
        with self._state():
            key = _key(kind, namespace, name)
            if key not in self._objects:
                return False
            version = self._objects[key]["metadata"]["resourceVersion"]
            if if_version is not None and version != if_version:
                raise ObjectChanged(f"{kind} {namespace or ''}/{name}")
            self._remove(key)
            if kind == "Namespace":
                for other in list(self._by_namespace.get(name, {})):
                    self._remove(other)
            return True

    async def scale(self, namespace: str, name: str, replicas: int) -> bool:
        with self._state():
            obj = self._objects.get(_key("Deployment", namespace, name))
            if obj is None:
                return False
            if obj["spec"].get("replicas") != replicas:
                obj["spec"]["replicas"] = replicas
                obj["metadata"]["generation"] += 1
                self._version += 1
                obj["metadata"]["resourceVersion"] = str(self._version)
            return True

    async def may(self, verb: str, kind: str, namespace: str) -> bool:
        """The twin has no RBAC: everything is allowed (a binding is just an object)."""
        with self._state():
            return True

    # -- the objects, indexed by namespace ----------------------------------------------

    @staticmethod
    def _namespace_of(obj: Manifest) -> str:
        return "" if obj["kind"] in CLUSTER_SCOPED else obj["metadata"].get("namespace") or ""

    def _put(self, key: Key, obj: Manifest) -> None:
        self._version += 1  # like an apiserver's: changes on every write
        obj["metadata"]["resourceVersion"] = str(self._version)
        self._objects[key] = obj
        self._by_namespace.setdefault(self._namespace_of(obj), {})[key] = obj

    def _remove(self, key: Key) -> None:
        obj = self._objects.pop(key)
        bucket = self._by_namespace[self._namespace_of(obj)]
        del bucket[key]
        if not bucket:
            del self._by_namespace[self._namespace_of(obj)]

    def _in(self, namespace: str) -> builtins.list[Manifest]:
        return builtins.list(self._by_namespace.get(namespace, {}).values())

    # -- the controllers ---------------------------------------------------------------

    def _reconcile(self, obj: Manifest) -> None:
        kind = obj["kind"]
        if kind == "Deployment":
            want = int(obj["spec"].get("replicas", 1))
            ready = 0 if self._image(obj) in self.unpullable else want
            obj["status"] = {
                "observedGeneration": obj["metadata"]["generation"],
                "replicas": want,
                "readyReplicas": ready,
            }
        elif kind == "PushSecret":
            self._condition(obj, *self._push(obj))
        elif kind == "ExternalSecret":
            self._condition(obj, *self._pull(obj))

    def _push(self, obj: Manifest) -> tuple[bool, str]:
        if self.store.down:
            return False, "store unreachable: connection refused"
        ns = obj["metadata"]["namespace"]
        secret = self._objects.get(_key("Secret", ns, obj["spec"]["selector"]["secret"]["name"]))
        if secret is None:
            return False, "source secret not found"
        values = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
        for item in obj["spec"]["data"]:
            self.store.values[item["match"]["remoteRef"]["remoteKey"]] = json.dumps(
                values, sort_keys=True
            )
        return True, "PushSecret synced successfully"

    def _pull(self, obj: Manifest) -> tuple[bool, str]:
        if self.store.down:
            return False, "could not sync secret: store unreachable: connection refused"
        values: dict[str, str] = {}
        for item in obj["spec"].get("dataFrom") or []:
            remote = item["extract"]["key"]
            if remote not in self.store.values:
                return False, f"could not sync secret: {remote} not found in the store"
            values.update(json.loads(self.store.values[remote]))
        meta = obj["metadata"]
        target = obj["spec"]["target"]["name"]
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": target, "namespace": meta["namespace"], "generation": 1},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()},
            "status": {},
        }
        self._put(_key("Secret", meta["namespace"], target), secret)
        return True, "secret synced"

    @staticmethod
    def _condition(obj: Manifest, ok: bool, message: str) -> None:
        status = "True" if ok else "False"
        obj["status"] = {"conditions": [{"type": "Ready", "status": status, "message": message}]}

    @staticmethod
    def _image(obj: Manifest) -> str:
        return str(obj["spec"]["template"]["spec"]["containers"][0]["image"])

    def _pods(self, namespace: str, labels: Mapping[str, str]) -> builtins.list[Manifest]:
        pods = []
        for obj in self._in(namespace):
            meta = obj["metadata"]
            if obj["kind"] != "Deployment":
                continue
            if not _matches(meta, labels):
                continue
            image = self._image(obj)
            waiting = {"reason": "ImagePullBackOff", "message": f"Back-off pulling image {image}"}
            state = {"waiting": waiting} if image in self.unpullable else {"running": {}}
            for i in range(int(obj["spec"].get("replicas", 1))):
                pods.append(
                    {
                        "kind": "Pod",
                        "metadata": {
                            "name": f"{meta['name']}-{i}",
                            "namespace": namespace,
                            "labels": meta["labels"],
                        },
                        "status": {"containerStatuses": [{"image": image, "state": state}]},
                    }
                )
        return pods

    # -- test helpers ------------------------------------------------------------------

    def objects(self) -> dict[Key, Manifest]:
        with self._state():
            return _copy_stored(self._objects)


def _clone(value: _T) -> _T:
    """A copy of a JSON-shaped object (what the API server would hand out: nothing shared).

    A third cheaper than ``copy.deepcopy`` (its memo, its dispatch); this twin is there
    to be cheap. Used on what callers apply; what the twin hands out was stored by it,
    so ``_copy_stored`` may take a faster road. Figures: ``bench/pilot/bench_memory_copy.py``
    (docs/benchmarks.md, "The in-memory twin's copies")."""
    if isinstance(value, Mapping):
        return cast(_T, {k: _clone(v) for k, v in value.items()})
    if isinstance(value, list | tuple):  # a JSON array, as the API server returns it
        return cast(_T, [_clone(v) for v in value])
    return value  # str, int, float, bool, None: immutable


def _copy_stored(value: _T) -> _T:
    """A copy of stored objects. They went in through ``_clone`` (plain dicts, lists and
    scalars, no tuple inside an object), which ``marshal`` copies in C, about three
    times faster than ``_clone``. Anything it cannot copy takes ``_clone``."""
    try:
        return cast(_T, marshal.loads(marshal.dumps(cast(Any, value))))
    except ValueError:
        return _clone(value)


def _matches(meta: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    have = meta.get("labels") or {}
    return all(have.get(k) == v for k, v in labels.items())
