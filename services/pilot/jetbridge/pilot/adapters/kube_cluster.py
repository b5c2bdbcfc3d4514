"""The Kubernetes ``ClusterPort``: the official client (dynamic API) against one cluster.

Objects go through server-side apply with the Pilot as field manager (re-applying the
same manifest is a no-op, taking over fields a human changed is deliberate). Responses
are read as plain JSON (``serialize=False``), never as the client's object wrappers. The client
is synchronous, so calls run on a small thread pool of this adapter's own. API errors
become typed step failures: timeouts, 5xx, 409 and "namespace is terminating" are
transient; other refusals (invalid object, forbidden) are permanent.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import urllib3
from kubernetes import client, config, dynamic
from kubernetes.client.exceptions import ApiException

from jetbridge.pilot.adapters.field_ownership import ownership_patch
from jetbridge.pilot.adapters.kube_watch import PATHS, KindWatch, Waiter
from jetbridge.pilot.domain.airflow import Manifest
from jetbridge.pilot.domain.steps import ErrorCode, StepFailure, permanent, transient
from jetbridge.pilot.service_layer.ports import Changes, ObjectChanged, Unwatched

FIELD_MANAGER = "jetbridge-pilot"
HAND_OVER_TRIES = 5  # reads of an object's managedFields that moved before giving up
API_VERSIONS = {
    "Namespace": "v1",
    "ResourceQuota": "v1",
    "LimitRange": "v1",
    "Secret": "v1",
    "Pod": "v1",
    "Deployment": "apps/v1",
    "ReplicaSet": "apps/v1",
    "PushSecret": "external-secrets.io/v1alpha1",
    "ExternalSecret": "external-secrets.io/v1",
    "RoleBinding": "rbac.authorization.k8s.io/v1",
}
T = TypeVar("T")


class KubernetesCluster:
    def __init__(
        self, name: str, kubeconfig: Path, *, threads: int = 8, request_timeout_s: float = 10.0
    ) -> None:
        self.name = name
        self._kubeconfig = kubeconfig
        self._timeout = request_timeout_s
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix=f"kube-{name}")
        self._lock = threading.Lock()
        self._dyn: dynamic.DynamicClient | None = None
        self._api: client.ApiClient | None = None
        self._watches: dict[str, KindWatch] = {}  # by kind, started by the first wait

    def _client(self) -> dynamic.DynamicClient:
        with self._lock:
            if self._dyn is None:
                cfg = client.Configuration()
                config.load_kube_config(str(self._kubeconfig), client_configuration=cfg)  # type: ignore[no-untyped-call]
                cfg.connection_pool_maxsize = 16
                self._api = client.ApiClient(cfg)
                self._dyn = dynamic.DynamicClient(self._api)  # type: ignore[no-untyped-call]
            return self._dyn

    def _resource(self, kind: str) -> Any:
        return self._client().resources.get(api_version=API_VERSIONS[kind], kind=kind)

    async def _call(self, what: str, fn: Callable[[], T], *, sensitive: bool = False) -> T:
        """``sensitive``: the request carried a Secret's data, which a refusal's body may
        echo (an admission webhook quoting the object): that body is never repeated."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, fn)
        except ApiException as error:
            raise self._failure(what, error, sensitive=sensitive) from error
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise transient(
                ErrorCode.CLUSTER_UNAVAILABLE, f"{self.name}: {what}: {error}"
            ) from error

    def _failure(self, what: str, error: ApiException, *, sensitive: bool = False) -> StepFailure:
        detail = f"{self.name}: {what}: {error.status} {error.reason}"
        body = str(error.body or "")
        if error.status in (409, 429) or error.status >= 500 or "being terminated" in body:
            return transient(ErrorCode.CLUSTER_UNAVAILABLE, detail)
        shown = status_outline(body) if sensitive else body[:300]
        return permanent(ErrorCode.CLUSTER_REFUSED, f"{detail}: {shown}")

    # -- ClusterPort -------------------------------------------------------------------

    def changes(self, watched: Iterable[tuple[str, str]]) -> Changes:
        pairs = [(kind, ns) for kind, ns in watched if kind in PATHS]
        if not pairs:
            return Unwatched()
        self._client()  # the ApiClient the watches share
        assert self._api is not None
        with self._lock:
            for kind, _ in pairs:
                if kind not in self._watches:
                    self._watches[kind] = KindWatch(self._api, kind, self.name)
                    self._watches[kind].start()
            return WatchedChanges([(self._watches[kind], ns) for kind, ns in pairs])

    async def apply(self, manifest: Manifest, *, if_version: str | None = None) -> None:
        kind, meta = manifest["kind"], manifest["metadata"]
        where = _where(kind, meta.get("namespace"), meta["name"])

        def apply_at(version: str | None) -> Any:
            body = manifest  # an apply naming a version is conditional on it
            if version is not None:
                body = {**manifest, "metadata": {**meta, "resourceVersion": version}}
            try:
                return self._client().server_side_apply(  # type: ignore[no-untyped-call]
                    self._resource(kind),
                    body=body,
                    name=meta["name"],
                    namespace=meta.get("namespace"),
                    field_manager=FIELD_MANAGER,
                    force_conflicts=True,
                    serialize=False,
                    _request_timeout=self._timeout,
                )
            except ApiException as error:
                if version is not None and error.status == 409:
                    raise ObjectChanged(where) from error
                raise

        def run() -> None:
            response = apply_at(if_version)
            if if_version is None:
                _body(response)
                return
            # The guarded writes' objects may be a create's whose hand-over failed: merged
            # now, the create's fields were not yet this apply's, so a field the manifest
            # drops is still there. Applied once more, conditionally, it goes now.
            merged = self._own_created_fields(kind, meta, _parsed(response), where)
            if merged is not None:
                _body(apply_at(merged["metadata"]["resourceVersion"]))

        await self._call(f"apply {where}", run, sensitive=kind == "Secret")

    async def create(self, manifest: Manifest, *, for_apply: bool = False) -> bool:
        kind, meta = manifest["kind"], manifest["metadata"]
        where = _where(kind, meta.get("namespace"), meta["name"])

        def run() -> bool:
            try:
                created = _parsed(
                    self._resource(kind).create(
                        body=manifest,
                        namespace=meta.get("namespace"),
                        field_manager=FIELD_MANAGER,
                        serialize=False,
                        _request_timeout=self._timeout,
                    )
                )
            except ApiException as error:
                if error.status == 409 and "AlreadyExists" in str(error.body or ""):
                    return False
                raise
            if for_apply:
                self._own_created_fields(kind, meta, created, where)
            return True

        return await self._call(
            f"create {where}",
            run,
            sensitive=kind == "Secret",
        )

    def _own_created_fields(
        self, kind: str, meta: Manifest, obj: Manifest, where: str
    ) -> Manifest | None:
        """What a create wrote becomes the Pilot's apply's (``field_ownership``): handed
        over after the create, or merged after an apply if that never happened. The
        entries are read again if they moved meanwhile (a controller's status write).
        Returns the object as patched, None if there was nothing to do; raises
        ObjectChanged if it was deleted meanwhile or its entries kept moving (the guarded
        write reads it again)."""
        for _ in range(HAND_OVER_TRIES):
            patch = ownership_patch(obj, FIELD_MANAGER)
            if patch is None:
                return None
            try:
                return _parsed(
                    self._resource(kind).patch(
                        name=meta["name"],
                        namespace=meta.get("namespace"),
                        body=patch,
                        content_type="application/json-patch+json",
                        serialize=False,
                        _request_timeout=self._timeout,
                    )
                )
            except ApiException as error:
                if error.status not in (409, 422):
                    raise
            read = self._read(kind, meta.get("namespace"), meta["name"])
            if read is None:
                raise ObjectChanged(f"{where} (deleted while its fields were handed over)")
            obj = read
        raise ObjectChanged(f"{where} (managedFields kept moving: {HAND_OVER_TRIES} reads)")

    def _read(self, kind: str, namespace: str | None, name: str) -> Manifest | None:
        """One GET, on the calling (pool) thread; None: there is no such object."""
        try:
            response = self._resource(kind).get(
                name=name, namespace=namespace, serialize=False, _request_timeout=self._timeout
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return dict(_parsed(response))

    async def get(self, kind: str, namespace: str | None, name: str) -> Manifest | None:
        return await self._call(
            f"get {_where(kind, namespace, name)}", lambda: self._read(kind, namespace, name)
        )

    async def list(
        self, kind: str, namespace: str, labels: Mapping[str, str]
    ) -> builtins.list[Manifest]:
        selector = ",".join(f"{k}={v}" for k, v in labels.items())

        def run() -> builtins.list[Manifest]:
            found = self._resource(kind).get(
                namespace=namespace,
                label_selector=selector,
                serialize=False,
                _request_timeout=self._timeout,
            )
            return [dict(item) for item in _parsed(found).get("items") or []]

        return await self._call(f"list {kind} {namespace}", run)

    async def delete(
        self, kind: str, namespace: str | None, name: str, *, if_version: str | None = None
    ) -> bool:
        body: dict[str, Any] = {"propagationPolicy": "Background"}
        if if_version is not None:
            body["preconditions"] = {"resourceVersion": if_version}

        def run() -> bool:
            try:
                _body(
                    self._resource(kind).delete(
                        name=name,
                        namespace=namespace,
                        body=body,
                        serialize=False,
                        _request_timeout=self._timeout,
                    )
                )
            except ApiException as error:
                if error.status == 404:
                    return False
                if error.status == 409 and if_version is not None:
                    raise ObjectChanged(_where(kind, namespace, name)) from error
                raise
            return True

        return await self._call(f"delete {_where(kind, namespace, name)}", run)

    async def scale(self, namespace: str, name: str, replicas: int) -> bool:
        def run() -> bool:
            try:
                _body(
                    self._resource("Deployment").patch(
                        name=name,
                        namespace=namespace,
                        body={"spec": {"replicas": replicas}},
                        content_type="application/merge-patch+json",
                        serialize=False,
                        _request_timeout=self._timeout,
                    )
                )
            except ApiException as error:
                if error.status == 404:
                    return False
                raise
            return True

        return await self._call(f"scale {namespace}/{name}", run)

    async def may(self, verb: str, kind: str, namespace: str) -> bool:
        def run() -> bool:
            resource = self._resource(kind)
            review = self._client().resources.get(
                api_version="authorization.k8s.io/v1", kind="SelfSubjectAccessReview"
            )
            attributes = {
                "namespace": namespace,
                "verb": verb,
                "group": resource.group or "",
                "resource": resource.name,
            }
            answer = review.create(
                body={"spec": {"resourceAttributes": attributes}},
                serialize=False,
                _request_timeout=self._timeout,
            )
            return bool(_parsed(answer).get("status", {}).get("allowed"))

        return await self._call(f"may {verb} {kind} in {namespace}", run)

    async def close(self) -> None:
        for watch in self._watches.values():
            watch.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._api is not None:
            self._api.close()  # type: ignore[no-untyped-call]


def _where(kind: str, namespace: str | None, name: str) -> str:
    """An object as errors and logs name it: ``Kind namespace/name``."""
    return f"{kind} {namespace or ''}/{name}"


def _body(response: Any) -> bytes:
    """The whole body of a response asked for with ``serialize=False``, its connection
    handed back to the pool: unread, the connection would stay with the response and
    the next call would open a new TLS connection to the API server."""
    try:
        return bytes(response.data)
    finally:
        response.release_conn()


def _parsed(response: Any) -> dict[str, Any]:
    """The JSON body of a response asked for with ``serialize=False``.

    By default the dynamic client wraps every response in ``ResourceInstance`` (a
    recursive copy into attribute objects), and ``to_dict()`` copies it back: on the
    real local clusters that was a quarter of the destination Pilot's samples in a
    py-spy profile of a 100-Deployment failover, and a list of 20 Deployments cost the
    client 10.6-11.5 ms of CPU against 2.1 ms read this way
    (``bench/kube/bench_client_reads.py``, docs/benchmarks.md). Every
    call here asks for the raw response instead; the dict is the same JSON either way."""
    parsed = json.loads(_body(response))
    if not isinstance(parsed, dict):
        raise ValueError(f"the API server answered {type(parsed).__name__}, not an object")
    return parsed


class WatchedChanges:
    """A wait's ``Changes`` on the cluster's shared watches (adapters/kube_watch.py)."""

    def __init__(self, watched: builtins.list[tuple[KindWatch, str]]) -> None:
        self._watched = watched
        self._waiter = Waiter(asyncio.get_running_loop())
        for watch, namespace in watched:
            watch.add(namespace, self._waiter)

    @property
    def live(self) -> bool:
        return all(watch.live for watch, _ in self._watched)

    async def wait(self, at_most_s: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._waiter.event.wait(), at_most_s)
        woken = self._waiter.event.is_set()
        self._waiter.event.clear()
        return woken

    def close(self) -> None:
        for watch, namespace in self._watched:
            watch.remove(namespace, self._waiter)


def status_outline(body: str) -> str:
    """What a refusal says without any value: its reason and the fields it names.

    The API server answers with a ``Status`` (JSON); its ``message`` and causes'
    ``message`` may quote the request, so only ``reason`` and each cause's ``field``
    (a path such as ``data[password]``) are kept.
    """
    try:
        status = json.loads(body)
    except ValueError:
        status = None
    if not isinstance(status, dict):
        return "(the response is not shown: the request held a Secret's data)"
    details = status.get("details")
    causes = details.get("causes") if isinstance(details, dict) else None
    fields = sorted(
        {str(c["field"]) for c in causes or () if isinstance(c, dict) and c.get("field")}
    )
    named = f"; fields {', '.join(fields)}" if fields else ""
    return f"reason {status.get('reason') or 'unknown'}{named} (message not shown: a Secret)"
