"""LOCAL STAND-IN for the External Secrets Operator: a dev/test tool, not the operator.

No ESO controller runs on the local data planes (no images, no Helm release), so this
small poller does the three things Jetbridge relies on, against the real apiserver and
a real Secrets Manager API (moto on loopback):

- validates (Cluster)SecretStores every interval and sets ``Ready`` True/False (reasons
  ``Valid`` / ``ValidationFailed`` / ``InvalidProviderConfig``), so a store that stops
  answering turns NOT Ready within about one interval plus the client timeout;
- pushes PushSecret data (``v1alpha1``) into the store (``Synced`` / ``Errored``), with
  a finalizer that deletes the remote keys when ``deletionPolicy: Delete``;
- materialises ExternalSecret (``v1``) targets as Secrets, owned by the ExternalSecret
  (``SecretSynced`` / ``SecretSyncedError``), re-synced on spec change, on
  ``refreshInterval`` and when the target Secret disappears.

PushSecrets, ExternalSecrets and the Secrets it made are read as ESO reads them: through
watches into caches (``eso_kube.WatchedKind``); a change wakes the loop, which then
reconciles what is due, at most every ``MIN_GAP_S``, and at least every ``--interval``
(refreshes, retries). Stores, a handful of objects, are listed and validated every
``--interval`` on a thread of their own, so a long pass over objects never delays
them. (Until 2026-12-05 every kind was listed on every tick: at 1,000 Deployments a
cluster answered lists of thousands of objects every second.) The objects
a tick must sync are synced ``--workers`` at a time (ESO's ``--concurrent``): each sync
waits on the store and the API server, and one at a time made a burst of 300 new
ExternalSecrets wait up to half a minute on a busy machine. What it does NOT do is
listed in docs/local-kubernetes.md.
Run: ``python eso_standin.py --kubeconfig K --endpoint http://127.0.0.1:PORT``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from jetbridge.common.conditions import condition

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eso_kube import Rest, WatchedKind, now_rfc3339
from eso_store import Credentials, ProviderError, SecretsManager, StoreError, parse_duration

GROUP = "external-secrets.io"
FINALIZER = "pushsecret.externalsecrets.io/finalizer"
MANAGED_LABEL = "reconcile.external-secrets.io/managed"
RETRY_AFTER = 2.0
Obj = dict[str, Any]


MERGE = "application/merge-patch+json"
# a Secret this stand-in just wrote may not be in its watch cache yet: not "missing" then
MISSING_GRACE_S = 5.0
MIN_GAP_S = 0.1  # between two reconciles woken by changes: a burst is one pass


def cr_path(version: str, plural: str, name: str = "", namespace: str | None = None) -> str:
    ns = f"/namespaces/{namespace}" if namespace else ""
    return f"/apis/{GROUP}/{version}{ns}/{plural}" + (f"/{name}" if name else "")


def secret_path(namespace: str, name: str = "") -> str:
    return f"/api/v1/namespaces/{namespace}/secrets" + (f"/{name}" if name else "")


def ready_condition(obj: Obj) -> Obj | None:
    cond = condition(obj, "Ready")
    return dict(cond) if cond is not None else None


class StandIn:
    def __init__(self, api: client.ApiClient, endpoint: str, workers: int = 8) -> None:
        self.kube = Rest(api)
        self.endpoint = endpoint
        self.stores: dict[tuple[str, str, str], SecretsManager | str] = {}
        self.clients: dict[Credentials, SecretsManager] = {}
        self.due: dict[str, tuple[int, float]] = {}  # uid -> (generation synced, next due)
        self.synced_at: dict[str, float] = {}  # uid -> when it was last synced
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="sync") if workers > 1 else None
        self.changed = threading.Event()  # set by the watches on every change
        self.push_secrets = WatchedKind(self.kube, cr_path("v1alpha1", "pushsecrets"), self.changed)
        self.external_secrets = WatchedKind(
            self.kube, cr_path("v1", "externalsecrets"), self.changed
        )
        self.owned_secrets = WatchedKind(
            self.kube, "/api/v1/secrets", self.changed, [("labelSelector", f"{MANAGED_LABEL}=true")]
        )

    def watch(self, stop: threading.Event, timeout: float = 60.0) -> None:
        """Start the watches; return once each has its first list in."""
        kinds = (self.push_secrets, self.external_secrets, self.owned_secrets)
        for kind in kinds:
            kind.start(stop)
        for kind in kinds:
            if not kind.synced.wait(timeout):
                raise TimeoutError(f"no first list of {kind.path} after {timeout}s")

    def sync_all(self, sync: Callable[[Obj], None], objs: list[Obj]) -> None:
        """Each object once, ``workers`` at a time, in the order given (new ones first).
        An unexpected error fails the tick, as it did one object at a time."""
        if self.pool is None or len(objs) < 2:
            for obj in objs:
                sync(obj)
            return
        list(self.pool.map(sync, objs))

    # --- status helpers ---------------------------------------------------------------
    def set_status(
        self,
        plural: str,
        version: str,
        obj: Obj,
        *,
        ok: bool,
        reason: str,
        message: str,
        extra: Obj | None = None,
    ) -> None:
        """Patch /status only when something changed (no write churn on every tick)."""
        old = ready_condition(obj)
        status = "True" if ok else "False"
        same = old is not None and (old.get("status"), old.get("reason"), old.get("message")) == (
            status,
            reason,
            message,
        )
        if same and not extra:
            return
        cond = {
            "type": "Ready",
            "status": status,
            "reason": reason,
            "message": message,
            "lastTransitionTime": old["lastTransitionTime"] if same and old else now_rfc3339(),
        }
        body: Obj = {"status": {"conditions": [cond], **(extra or {})}}
        meta = obj["metadata"]
        try:
            path = cr_path(version, plural, meta["name"], meta.get("namespace")) + "/status"
            self.kube.call("PATCH", path, body, content_type=MERGE)
        except ApiException as err:
            if err.status != 404:  # deleted meanwhile: nothing to report on
                raise
        if old is None or old.get("status") != status:
            where = f"{meta.get('namespace', '')}/{meta['name']}".lstrip("/")
            print(
                f"{now_rfc3339()} {plural} {where}: Ready={status} {reason}: {message}", flush=True
            )

    # --- stores -----------------------------------------------------------------------
    def provider(self, obj: Obj) -> SecretsManager:
        """Client for a store spec; raises ValueError for configs the stand-in can't serve."""
        aws = ((obj.get("spec") or {}).get("provider") or {}).get("aws")
        if not aws or aws.get("service", "SecretsManager") != "SecretsManager":
            raise ValueError("the local stand-in serves only provider.aws SecretsManager")
        refs = (aws.get("auth") or {}).get("secretRef") or {}
        default_ns = obj["metadata"].get("namespace")
        values = []
        for field in ("accessKeyIDSecretRef", "secretAccessKeySecretRef"):
            ref = refs.get(field) or {}
            ns = ref.get("namespace") or default_ns
            if not ref.get("name") or not ref.get("key") or not ns:
                raise ValueError(f"auth.secretRef.{field} is incomplete")
            try:
                secret = self.kube.call("GET", secret_path(ns, ref["name"]))
            except ApiException as err:
                raise ValueError(f"cannot read {ns}/{ref['name']}: {err.reason}") from err
            raw = (secret.get("data") or {}).get(ref["key"])
            if raw is None:
                raise ValueError(f"{ns}/{ref['name']} has no key {ref['key']!r}")
            values.append(base64.b64decode(raw).decode())
        creds = Credentials(aws.get("region", "us-east-1"), values[0], values[1])
        if creds not in self.clients:
            self.clients[creds] = SecretsManager(self.endpoint, creds)
        return self.clients[creds]

    def reconcile_stores(self) -> None:
        found: dict[tuple[str, str, str], SecretsManager | str] = {}
        for kind, plural in (
            ("ClusterSecretStore", "clustersecretstores"),
            ("SecretStore", "secretstores"),
        ):
            for obj in self.kube.items(cr_path("v1", plural)):
                key = (kind, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
                try:
                    sm = self.provider(obj)
                except ValueError as err:
                    found[key] = f"store {key[2]} has an invalid provider config: {err}"
                    self.set_status(
                        plural,
                        "v1",
                        obj,
                        ok=False,
                        reason="InvalidProviderConfig",
                        message=str(err),
                    )
                    continue
                try:
                    sm.validate()
                except StoreError as err:
                    msg = f"unable to validate store: {type(err).__name__}: {err}"
                    found[key] = f"store {key[2]} is not ready: {msg}"
                    self.set_status(
                        plural, "v1", obj, ok=False, reason="ValidationFailed", message=msg
                    )
                    continue
                found[key] = sm
                self.set_status(
                    plural,
                    "v1",
                    obj,
                    ok=True,
                    reason="Valid",
                    message="store validated",
                    extra=None if ready_condition(obj) else {"capabilities": "ReadWrite"},
                )
        self.stores = found

    def store_for(self, ref: Obj | None, namespace: str) -> SecretsManager:
        ref = ref or {}
        kind = ref.get("kind") or "SecretStore"
        key = (kind, namespace if kind == "SecretStore" else "", ref.get("name", ""))
        store = self.stores.get(key)
        if store is None:
            raise ProviderError(f"{kind} {ref.get('name')!r} not found")
        if isinstance(store, str):
            raise ProviderError(store)
        return store

    # --- resync bookkeeping -----------------------------------------------------------
    def is_new(self, obj: Obj) -> bool:
        """Never synced, or its spec changed since."""
        seen = self.due.get(obj["metadata"]["uid"])
        return seen is None or seen[0] != obj["metadata"].get("generation", 0)

    def is_due(self, obj: Obj) -> bool:
        return self.is_new(obj) or time.monotonic() >= self.due[obj["metadata"]["uid"]][1]

    def new_first(self, objs: list[Obj]) -> list[Obj]:
        """New or changed objects before refreshes (ESO reconciles those on their watch
        event at once): a tick that owes many refreshes must not make them wait."""
        return sorted(objs, key=lambda obj: not self.is_new(obj))

    def mark(self, obj: Obj, ok: bool) -> None:
        spec = obj.get("spec") or {}
        try:
            every = parse_duration(spec.get("refreshInterval"), 3600.0)
        except ValueError:
            every = 3600.0
        wait = (every if every > 0 else float("inf")) if ok else RETRY_AFTER
        self.due[obj["metadata"]["uid"]] = (
            obj["metadata"].get("generation", 0),
            time.monotonic() + wait,
        )
        self.synced_at[obj["metadata"]["uid"]] = time.monotonic()

    def recently_synced(self, obj: Obj) -> bool:
        at = self.synced_at.get(obj["metadata"]["uid"])
        return at is not None and time.monotonic() - at < MISSING_GRACE_S

    # --- PushSecret -------------------------------------------------------------------
    def reconcile_push_secrets(self) -> None:
        due = []
        for ps in self.new_first(self.push_secrets.items()):
            meta, spec = ps["metadata"], ps.get("spec") or {}
            delete_remote = spec.get("deletionPolicy") == "Delete"
            finalizers = meta.get("finalizers") or []
            if meta.get("deletionTimestamp"):
                if FINALIZER in finalizers:
                    self.finalize_push_secret(ps, [f for f in finalizers if f != FINALIZER])
                continue
            if delete_remote and FINALIZER not in finalizers:
                self.patch_finalizers(meta, [*finalizers, FINALIZER])
            if self.is_due(ps):
                due.append(ps)
        self.sync_all(self.sync_push_secret, due)

    def sync_push_secret(self, ps: Obj) -> None:
        meta = ps["metadata"]
        try:
            synced = self.push(ps)
        except (ProviderError, *StoreError, ApiException) as err:
            self.set_status(
                "pushsecrets", "v1alpha1", ps, ok=False, reason="Errored", message=_msg(err)
            )
            self.mark(ps, False)
            return
        self.set_status(
            "pushsecrets",
            "v1alpha1",
            ps,
            ok=True,
            reason="Synced",
            message="PushSecret synced successfully",
            extra={
                "syncedPushSecrets": synced,
                "refreshTime": now_rfc3339(),
                "syncedResourceVersion": f"{meta.get('generation', 0)}",
            },
        )
        self.mark(ps, True)

    def push(self, ps: Obj) -> Obj:
        meta, spec = ps["metadata"], ps.get("spec") or {}
        name = ((spec.get("selector") or {}).get("secret") or {}).get("name")
        if not name:
            raise ProviderError("spec.selector.secret.name is required by the stand-in")
        try:
            secret = self.kube.call("GET", secret_path(meta["namespace"], name))
        except ApiException as err:
            raise ProviderError(f"source secret {name!r}: {err.reason}") from err
        data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
        if_not_exists = spec.get("updatePolicy") == "IfNotExists"
        synced: Obj = {}
        for ref in spec.get("secretStoreRefs") or []:
            store = self.store_for(ref, meta["namespace"])
            done: Obj = {}
            for item in spec.get("data") or []:
                match = item.get("match") or {}
                remote = match.get("remoteRef") or {}
                key, prop = remote.get("remoteKey"), remote.get("property")
                if not key:
                    raise ProviderError("data[].match.remoteRef.remoteKey is required")
                src = match.get("secretKey")
                if src and src not in data:
                    raise ProviderError(f"source secret {name!r} has no key {src!r}")
                value = data[src] if src else json.dumps(data, sort_keys=True)
                store.push(key, value, prop, if_not_exists)
                done[key] = {"match": match}
            synced[ref.get("name", "")] = done
        if not synced:
            raise ProviderError("spec.secretStoreRefs is empty")
        return synced

    def finalize_push_secret(self, ps: Obj, remaining: list[str]) -> None:
        status = ps.get("status") or {}
        try:
            for store_name, keys in (status.get("syncedPushSecrets") or {}).items():
                ref = next(
                    (
                        r
                        for r in ps["spec"].get("secretStoreRefs") or []
                        if r.get("name") == store_name
                    ),
                    None,
                )
                store = self.store_for(ref, ps["metadata"]["namespace"])
                for remote, item in keys.items():
                    match = (item or {}).get("match") or {}
                    if not (match.get("remoteRef") or {}).get("property"):
                        store.delete(remote)  # a property inside a shared secret stays
        except (ProviderError, *StoreError) as err:
            self.set_status(
                "pushsecrets",
                "v1alpha1",
                ps,
                ok=False,
                reason="Errored",
                message=f"cannot delete remote secrets: {_msg(err)}",
            )
            return
        self.patch_finalizers(ps["metadata"], remaining)

    def patch_finalizers(self, meta: Obj, finalizers: list[str]) -> None:
        """A conflict or a 404 means the cache was behind the server: the watch brings
        the object as it is now, and the next pass decides again."""
        try:
            self.kube.call(
                "PATCH",
                cr_path("v1alpha1", "pushsecrets", meta["name"], meta["namespace"]),
                {
                    "metadata": {
                        "finalizers": finalizers,
                        "resourceVersion": meta["resourceVersion"],
                    }
                },
                content_type=MERGE,
            )
        except ApiException as err:
            if err.status not in (404, 409):
                raise

    # --- ExternalSecret ---------------------------------------------------------------
    def reconcile_external_secrets(self) -> None:
        due = []
        for es in self.new_first(self.external_secrets.items()):
            meta, spec = es["metadata"], es.get("spec") or {}
            if meta.get("deletionTimestamp"):
                continue
            target = (spec.get("target") or {}).get("name") or meta["name"]
            policy = (spec.get("target") or {}).get("creationPolicy") or "Owner"
            missing = (
                policy == "Owner"
                and (meta["namespace"], target) not in self.owned_secrets
                and not self.recently_synced(es)
            )
            if self.is_due(es) or missing:
                due.append(es)
        self.sync_all(self.sync_external_secret, due)

    def sync_external_secret(self, es: Obj) -> None:
        meta, spec = es["metadata"], es.get("spec") or {}
        target = (spec.get("target") or {}).get("name") or meta["name"]
        policy = (spec.get("target") or {}).get("creationPolicy") or "Owner"
        try:
            digest = self.materialise(es, target, policy)
        except (ProviderError, *StoreError, ApiException) as err:
            self.set_status(
                "externalsecrets",
                "v1",
                es,
                ok=False,
                reason="SecretSyncedError",
                message=f"could not sync secret: {_msg(err)}",
            )
            self.mark(es, False)
            return
        self.set_status(
            "externalsecrets",
            "v1",
            es,
            ok=True,
            reason="SecretSynced",
            message="secret synced",
            extra={
                "refreshTime": now_rfc3339(),
                "binding": {"name": target},
                "syncedResourceVersion": f"{meta.get('generation', 0)}-{digest}",
            },
        )
        self.mark(es, True)

    def materialise(self, es: Obj, target: str, policy: str) -> str:
        meta, spec = es["metadata"], es.get("spec") or {}
        store = self.store_for(spec.get("secretStoreRef"), meta["namespace"])
        values: dict[str, str] = {}
        for item in spec.get("dataFrom") or []:
            key = (item.get("extract") or {}).get("key")
            if not key:
                raise ProviderError("only dataFrom[].extract is supported by the stand-in")
            values.update(store.extract(key))
        for item in spec.get("data") or []:
            ref = item.get("remoteRef") or {}
            values[item["secretKey"]] = store.fetch(ref["key"], ref.get("property"))
        digest = hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]
        if policy == "None":
            return digest
        template = (spec.get("target") or {}).get("template") or {}
        tmeta = template.get("metadata") or {}
        body: Obj = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": template.get("type", "Opaque"),
            "metadata": {
                "name": target,
                "namespace": meta["namespace"],
                "labels": {**(tmeta.get("labels") or {}), MANAGED_LABEL: "true"},
                "annotations": {
                    **(tmeta.get("annotations") or {}),
                    "reconcile.external-secrets.io/data-hash": digest,
                },
            },
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()},
        }
        if policy == "Owner":
            body["metadata"]["ownerReferences"] = [
                {
                    "apiVersion": f"{GROUP}/v1",
                    "kind": "ExternalSecret",
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ]
        try:
            self.kube.call("GET", secret_path(meta["namespace"], target))
            exists = True
        except ApiException as err:
            if err.status != 404:
                raise
            exists = False
        if exists:
            self.kube.call(
                "PATCH", secret_path(meta["namespace"], target), body, content_type=MERGE
            )
        elif policy == "Merge":
            raise ProviderError(f"target secret {target!r} does not exist (creationPolicy Merge)")
        else:
            self.kube.call("POST", secret_path(meta["namespace"]), body)
        return digest

    def validate_stores_every(self, interval: float, stop: threading.Event) -> None:
        """Stores on a timer of their own, as ESO's store controller is its own loop: an
        object pass that owes hundreds of syncs (a restarted stand-in re-syncs every
        object) must not hold back a store turning NOT Ready."""
        while not stop.wait(interval):
            self.check_stores()

    def check_stores(self) -> None:
        """``reconcile_stores``; a failure is logged and the next check tries again."""
        try:
            self.reconcile_stores()
        except Exception as err:
            print(f"{now_rfc3339()} store check failed: {_msg(err)}", flush=True)

    def reconcile_objects(self) -> None:
        self.reconcile_push_secrets()
        self.reconcile_external_secrets()


def _msg(err: Exception) -> str:
    if isinstance(err, ApiException):
        return f"kubernetes API: {err.status} {err.reason}"
    return f"{type(err).__name__}: {err}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kubeconfig", required=True)
    ap.add_argument("--endpoint", required=True, help="Secrets Manager endpoint URL")
    ap.add_argument(
        "--interval",
        type=float,
        default=1.0,
        help="seconds between store checks, and between passes when nothing changes",
    )
    ap.add_argument("--ready-file", help="written with our pid after the first full tick")
    ap.add_argument("--workers", type=int, default=8, help="objects synced at once (1: serial)")
    args = ap.parse_args()
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    api = config.new_client_from_config(config_file=args.kubeconfig)  # type: ignore[no-untyped-call]
    # the sync workers, the three watches and the loop's own calls
    api.configuration.connection_pool_maxsize = max(4, args.workers + 5)
    standin = StandIn(api, args.endpoint, workers=args.workers)
    print(
        f"{now_rfc3339()} ESO stand-in: endpoint {args.endpoint}, stores every "
        f"{args.interval}s, objects on change",
        flush=True,
    )
    standin.watch(stopping)
    standin.check_stores()  # the first object pass needs the stores known
    threading.Thread(
        target=standin.validate_stores_every,
        args=(args.interval, stopping),
        name="stores",
        daemon=True,
    ).start()
    first = True
    while not stopping.is_set():
        standin.changed.clear()  # a change from here on wakes the next pass
        try:
            standin.reconcile_objects()
            if first and args.ready_file:
                Path(args.ready_file).write_text(f"{os.getpid()}\n")
                first = False
        except Exception as err:
            print(f"{now_rfc3339()} tick failed: {_msg(err)}", flush=True)
        stopping.wait(MIN_GAP_S)
        standin.changed.wait(args.interval)
    return 0


if __name__ == "__main__":
    sys.exit(main())
