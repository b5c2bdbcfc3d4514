"""The stand-in's access to its API server: plain-JSON calls, and watched kinds.

``Rest`` makes dicts-in, dicts-out calls through the kubernetes client's ``ApiClient``
(auth, TLS): the typed ``CoreV1Api`` costs ~90 MB of RSS just to import (pydantic
models for the whole core group), which keeps the stand-in small.

``WatchedKind`` holds one kind's objects, kept current by a watch (the stand-in's
informer).

ESO's controllers read through informers: one LIST, then a WATCH that streams each
change, so a reconcile costs the API server nothing per object at rest. The stand-in
used to LIST every kind it serves once per tick instead, and at scale that dominated the
local clusters: each LIST serialises every object of the kind (a 1,000-Deployment
cluster holds some 3,000 ExternalSecrets, answered again every second), and the stand-in
parsed them all again.

``WatchedKind`` does what an informer does, no more: LIST (the cache is replaced and
the list's resourceVersion kept), then WATCH from there with bookmarks, the server
ending each watch after ``WATCH_SECONDS`` and the cache resuming from the last version
it saw; a ``410 Gone`` (history compacted) or any failure means LIST again. Every
change sets the shared ``changed`` event, which is what wakes the stand-in's loop.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any, Protocol, cast

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from jetbridge.common.watch_stream import ExpiredWatch, json_lines, raise_if_error, watch_query

Obj = dict[str, Any]
Query = list[tuple[str, str]]
Key = tuple[str, str]  # (namespace, name)
WATCH_SECONDS = 60
RELIST_AFTER_FAILURE_S = 1.0


def now_rfc3339() -> str:
    """Now, RFC 3339 in UTC to the second: log lines and the status times it writes."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Rest:
    def __init__(self, api: client.ApiClient) -> None:
        self.api = api

    def _send(
        self,
        method: str,
        path: str,
        body: Obj | None,
        query: Query | None,
        *,
        content_type: str,
        timeout: float | tuple[float, float],
    ) -> Any:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        params = self.api.param_serialize(
            method=method,
            resource_path=path,
            query_params=query or [],
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        return self.api.call_api(*params, _request_timeout=timeout)

    def call(
        self,
        method: str,
        path: str,
        body: Obj | None = None,
        query: Query | None = None,
        content_type: str = "application/json",
    ) -> Obj:
        resp = self._send(method, path, body, query, content_type=content_type, timeout=10)
        resp.read()
        if resp.status >= 400:
            raise ApiException(status=resp.status, reason=resp.reason)
        return cast(Obj, json.loads(resp.data)) if resp.data else {}

    def items(self, path: str, query: Query | None = None) -> list[Obj]:
        return list(self.call("GET", path, query=query).get("items") or [])

    def stream(self, path: str, query: Query, read_timeout: float) -> Iterator[Obj]:
        """The JSON objects of a watch response, one per line, until the server ends it."""
        resp = self._send("GET", path, None, query, content_type="", timeout=(10, read_timeout))
        if resp.status >= 400:
            resp.read()
            raise ApiException(status=resp.status, reason=resp.reason)
        try:
            yield from json_lines(resp.response.stream(amt=None, decode_content=False))
        finally:
            resp.response.release_conn()


class Kube(Protocol):
    """What a ``WatchedKind`` needs of ``Rest`` (a fake in the unit tests)."""

    def call(
        self,
        method: str,
        path: str,
        body: Obj | None = None,
        query: Query | None = None,
        content_type: str = "application/json",
    ) -> Obj: ...

    def stream(self, path: str, query: Query, read_timeout: float) -> Iterator[Obj]: ...


def key_of(obj: Obj) -> Key:
    meta = obj["metadata"]
    return meta.get("namespace", ""), meta["name"]


class WatchedKind:
    def __init__(
        self,
        kube: Kube,
        path: str,
        changed: threading.Event,
        query: Query | None = None,
    ) -> None:
        self.kube = kube
        self.path = path
        self.query = query or []
        self.changed = changed
        self.synced = threading.Event()  # the first LIST is in
        self._objects: dict[Key, Obj] = {}
        self._lock = threading.Lock()

    def items(self) -> list[Obj]:
        """What the cache holds now (the objects themselves: callers must not change
        them; a watch event replaces an object, it never edits one)."""
        with self._lock:
            return list(self._objects.values())

    def __contains__(self, key: Key) -> bool:
        with self._lock:
            return key in self._objects

    def start(self, stop: threading.Event) -> threading.Thread:
        thread = threading.Thread(
            target=self.run, args=(stop,), name=f"watch {self.path}", daemon=True
        )
        thread.start()
        return thread

    def run(self, stop: threading.Event) -> None:
        version: str | None = None
        while not stop.is_set():
            try:
                if version is None:
                    version = self.relist()
                version = self.watch(version)
            except ExpiredWatch:
                version = None
            except (ApiException, urllib3.exceptions.HTTPError, OSError, ValueError) as err:
                print(f"{now_rfc3339()} watch {self.path} failed, listing again: {err}", flush=True)
                version = None
                time.sleep(RELIST_AFTER_FAILURE_S)

    def relist(self) -> str:
        listing = self.kube.call("GET", self.path, query=self.query)
        objects = {key_of(obj): obj for obj in listing.get("items") or []}
        with self._lock:
            self._objects = objects
        self.synced.set()
        self.changed.set()
        return str(listing["metadata"]["resourceVersion"])

    def watch(self, version: str) -> str:
        """Apply one watch's events; return the last resourceVersion seen."""
        query = [*self.query, *watch_query(version, WATCH_SECONDS)]
        for event in self.kube.stream(self.path, query, read_timeout=WATCH_SECONDS + 30):
            raise_if_error(event)
            kind, obj = event.get("type"), event.get("object") or {}
            version = str(obj["metadata"]["resourceVersion"])
            if kind == "BOOKMARK":
                continue
            with self._lock:
                if kind == "DELETED":
                    self._objects.pop(key_of(obj), None)
                else:  # ADDED, MODIFIED
                    self._objects[key_of(obj)] = obj
            self.changed.set()
        return version
