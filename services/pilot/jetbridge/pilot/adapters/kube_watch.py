"""Watches that wake the Pilot's waits: one per kind per cluster, shared by every wait.

A wait (a namespace to go, Deployments to be Ready, ExternalSecrets to sync) used to
re-read its objects twice a second, and at 1,000 Deployments those reads were a quarter
of what the local API servers served (docs/benchmarks.md). Now a wait re-reads when
the API server says an object of its kind in its namespace changed. The watch only
wakes; the wait still reads the object itself (a GET or LIST is the truth, a watch
event may be stale or missed), and still re-reads at a slower fallback pace.

``KindWatch`` runs one cluster-wide watch of a kind in a thread (the kubernetes client
is synchronous): it starts from the resourceVersion of a one-item LIST (no replay of
every existing object), keeps the last version it saw, resumes from it when the server
ends the watch, and starts over after ``410 Gone`` or a failure. Whenever it (re)starts,
every waiter is woken, since events may have been missed. Events are handed to the
waiters of the object's namespace (a Namespace's own name for Namespaces) on their
event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from typing import Any

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from jetbridge.common.watch_stream import ExpiredWatch, json_lines, raise_if_error, watch_query

WATCH_SECONDS = 300  # the server ends each watch after this; it resumes at once
RESTART_AFTER_FAILURE_S = 1.0
PATHS = {  # the kinds a wait watches, and their cluster-wide collections
    "Namespace": "/api/v1/namespaces",
    "Deployment": "/apis/apps/v1/deployments",
    "PushSecret": "/apis/external-secrets.io/v1alpha1/pushsecrets",
    "ExternalSecret": "/apis/external-secrets.io/v1/externalsecrets",
}
Obj = dict[str, Any]
log = logging.getLogger(__name__)


class Waiter:
    """One wait's wake-up flag, set from a watch thread onto the wait's event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.event = asyncio.Event()

    def wake(self) -> None:
        # A wait whose loop has closed (its process stopping) has nobody to wake; the
        # watch thread must not die of it and leave ``live`` set for the other waits.
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self.event.set)


class KindWatch:
    def __init__(self, api: client.ApiClient, kind: str, cluster: str) -> None:
        self.api = api
        self.kind = kind
        self.path = PATHS[kind]
        self.cluster = cluster
        self.live = False  # a watch stream is open: waits may trust it to wake them
        self._waiters: dict[str, set[Waiter]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"watch-{self.cluster}-{self.kind}", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def add(self, namespace: str, waiter: Waiter) -> None:
        with self._lock:
            self._waiters.setdefault(namespace, set()).add(waiter)

    def remove(self, namespace: str, waiter: Waiter) -> None:
        with self._lock:
            waiters = self._waiters.get(namespace)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self._waiters[namespace]

    def notify(self, namespace: str | None) -> None:
        """Wake the waiters of one namespace, or (None) all of them."""
        with self._lock:
            if namespace is None:
                woken = [w for ws in self._waiters.values() for w in ws]
            else:
                woken = list(self._waiters.get(namespace, ()))
        for waiter in woken:
            waiter.wake()

    def handle(self, event: Obj) -> str | None:
        """Apply one watch event: its resourceVersion (None for a BOOKMARK without
        one); raise ``ExpiredWatch`` on 410 and ``ValueError`` on any other error."""
        raise_if_error(event)
        meta = (event.get("object") or {}).get("metadata") or {}
        if event.get("type") != "BOOKMARK":
            self.notify(meta.get("name") if self.kind == "Namespace" else meta.get("namespace"))
        return meta.get("resourceVersion")

    # -- the thread ----------------------------------------------------------------------

    def _run(self) -> None:
        version: str | None = None
        failing = False
        while not self._stop.is_set():
            try:
                if version is None:
                    version = self._current_version()
                version = self._watch(version)
            except ExpiredWatch:
                version = None
            except (ApiException, urllib3.exceptions.HTTPError, OSError, ValueError) as error:
                version = None
                if self.live or not failing:  # once per streak: a 403 would repeat forever
                    log.warning(
                        "%s: watch of %s failed, waits poll until it is back: %s",
                        self.cluster,
                        self.path,
                        error,
                    )
                failing = True
                self.live = False
                self.notify(None)  # back to polling, now rather than at their fallback
                time.sleep(RESTART_AFTER_FAILURE_S)

    def _current_version(self) -> str:
        listing = self._get([("limit", "1")], timeout=10)
        listing.read()
        if listing.status >= 400:
            raise ApiException(status=listing.status, reason=listing.reason)
        return str(json.loads(listing.data)["metadata"]["resourceVersion"])

    def _watch(self, version: str) -> str:
        resp = self._get(watch_query(version, WATCH_SECONDS), timeout=(10, WATCH_SECONDS + 30))
        if resp.status >= 400:
            resp.read()
            raise ApiException(status=resp.status, reason=resp.reason)
        try:
            self.live = True
            self.notify(None)  # whatever changed while no watch was open
            for event in json_lines(resp.response.stream(amt=None, decode_content=False)):
                version = self.handle(event) or version
                if self._stop.is_set():
                    break
        finally:
            resp.response.release_conn()
        return version

    def _get(self, query: list[tuple[str, str]], timeout: float | tuple[float, float]) -> Any:
        params = self.api.param_serialize(
            method="GET",
            resource_path=self.path,
            query_params=query,
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        return self.api.call_api(*params, _request_timeout=timeout)
