"""deploy/local/kube/eso_kube.py: the stand-in's watched kinds, on a scripted API server."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "deploy" / "local" / "kube"))
from eso_kube import Query, WatchedKind

from jetbridge.common.watch_stream import ExpiredWatch

Obj = dict[str, Any]


def es(name: str, version: str, namespace: str = "ns") -> Obj:
    return {"metadata": {"name": name, "namespace": namespace, "resourceVersion": version}}


class ScriptedServer:
    """Answers a LIST with ``listing`` and each WATCH with the next of ``watches``."""

    def __init__(self, listing: list[Obj], version: str, watches: list[list[Obj]]) -> None:
        self.listing, self.version, self.watches = listing, version, watches
        self.calls: list[tuple[str, Query]] = []

    def call(
        self,
        method: str,
        path: str,
        body: Obj | None = None,
        query: Query | None = None,
        content_type: str = "application/json",
    ) -> Obj:
        self.calls.append(("LIST", query or []))
        return {"metadata": {"resourceVersion": self.version}, "items": self.listing}

    def stream(self, path: str, query: Query, read_timeout: float) -> Iterator[Obj]:
        self.calls.append(("WATCH", query))
        yield from self.watches.pop(0)


def names(kind: WatchedKind) -> list[str]:
    return sorted(o["metadata"]["name"] for o in kind.items())


def test_a_list_then_the_watch_events_make_the_cache() -> None:
    server = ScriptedServer([es("a", "5"), es("b", "6")], "7", [])
    changed = threading.Event()
    kind = WatchedKind(server, "/apis/x/v1/externalsecrets", changed, [("labelSelector", "k=v")])
    assert kind.relist() == "7" and kind.synced.is_set() and changed.is_set()
    assert names(kind) == ["a", "b"] and ("ns", "a") in kind

    changed.clear()
    server.watches.append(
        [
            {"type": "MODIFIED", "object": es("a", "8") | {"spec": {"v": 2}}},
            {"type": "ADDED", "object": es("c", "9")},
            {"type": "DELETED", "object": es("b", "10")},
            {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "12"}}},
        ]
    )
    assert kind.watch("7") == "12"  # the next watch resumes after the bookmark
    assert names(kind) == ["a", "c"] and changed.is_set()
    assert next(o for o in kind.items() if o["metadata"]["name"] == "a")["spec"] == {"v": 2}
    verb, query = server.calls[-1]
    assert verb == "WATCH" and ("resourceVersion", "7") in query
    assert ("labelSelector", "k=v") in query and ("allowWatchBookmarks", "true") in query


def test_a_bookmark_alone_wakes_nobody() -> None:
    server = ScriptedServer([], "1", [[{"type": "BOOKMARK", "object": es("", "3")}]])
    changed = threading.Event()
    assert WatchedKind(server, "/p", changed).watch("1") == "3"
    assert not changed.is_set()


def test_a_compacted_history_means_list_again_and_other_errors_fail_the_watch() -> None:
    gone = {"type": "ERROR", "object": {"code": 410, "message": "too old resource version"}}
    server = ScriptedServer([], "1", [[gone], [{"type": "ERROR", "object": {"code": 500}}]])
    kind = WatchedKind(server, "/p", threading.Event())
    with pytest.raises(ExpiredWatch):
        kind.watch("1")
    with pytest.raises(ValueError, match="watch error"):
        kind.watch("1")


def test_run_lists_again_after_an_expired_watch_and_keeps_the_new_list() -> None:
    stop = threading.Event()
    gone = {"type": "ERROR", "object": {"code": 410, "message": "expired"}}

    class Server(ScriptedServer):
        def stream(self, path: str, query: Query, read_timeout: float) -> Iterator[Obj]:
            if len(self.calls) >= 3:  # LIST, WATCH (expired), LIST: then stop
                stop.set()
            yield from super().stream(path, query, read_timeout)

    server = Server([es("a", "1")], "2", [[gone], [], []])
    kind = WatchedKind(server, "/p", threading.Event())
    kind.run(stop)
    assert [verb for verb, _ in server.calls] == ["LIST", "WATCH", "LIST", "WATCH"]
    assert names(kind) == ["a"]
