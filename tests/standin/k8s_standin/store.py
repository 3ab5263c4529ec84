"""Object storage with a global resourceVersion and an event log for watches.

Objects live in memory and are written through to SQLite, so a restarted stand-in
keeps every object and continues counting resourceVersions where it stopped (the
property clients rely on across a real control-plane restart). Watches are served
from an in-memory event log; a watch asking for a version older than this process
gets 410 Expired, as a compacted etcd would answer.
"""

from __future__ import annotations

import bisect
import builtins
import copy
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

Obj = dict[str, Any]
ObjList = list[Obj]  # the method named list() shadows the builtin in class bodies

# Bounded so a long test session cannot grow the log without limit.
_MAX_EVENTS = 50_000


@dataclass(frozen=True)
class Event:
    rv: int
    rkey: str  # "<group>/<plural>"
    type: str  # ADDED, MODIFIED, DELETED
    obj: Obj
    prev: Obj | None = None  # the object before a MODIFIED, for selector transitions


class Expired(Exception):
    """The requested resourceVersion is older than the event log."""


class Backend(Protocol):
    """Where objects are written through to instead of the SQLite file (kine.py)."""

    def load(self) -> tuple[builtins.list[tuple[str, str, str, Obj]], int]: ...

    def write(self, rkey: str, ns: str, name: str, obj: Obj | None, rv: int) -> None: ...

    def close(self) -> None: ...


class Store:
    def __init__(self, db_path: Path | None, backend: Backend | None = None) -> None:
        self._cond = threading.Condition(threading.RLock())
        self._objects: dict[str, dict[tuple[str, str], Obj]] = {}
        self._events: list[Event] = []
        self._db: sqlite3.Connection | None = None
        self._backend = backend
        self.rv = 0
        if backend is not None:
            rows, self.rv = backend.load()
            for rkey, ns, name, obj in rows:
                self._objects.setdefault(rkey, {})[(ns, name)] = obj
        elif db_path is not None:
            self._open(db_path)
        # Watches may start from any version at or after this one.
        self.oldest_rv = self.rv
        self.closed = False
        # Called with the "<group>/<plural>" of every write, under the lock: for state
        # derived from stored objects (the resources CRDs serve).
        self._listeners: builtins.list[Callable[[str], None]] = []

    def listen(self, listener: Callable[[str], None]) -> None:
        with self._cond:
            self._listeners.append(listener)

    # -- persistence -------------------------------------------------------
    def _open(self, db_path: Path) -> None:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(str(db_path), check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(
            "CREATE TABLE IF NOT EXISTS objects (rkey TEXT, ns TEXT, name TEXT, data TEXT,"
            " PRIMARY KEY (rkey, ns, name))"
        )
        db.execute("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT)")
        for rkey, ns, name, data in db.execute("SELECT rkey, ns, name, data FROM objects"):
            self._objects.setdefault(rkey, {})[(ns, name)] = json.loads(data)
        row = db.execute("SELECT v FROM meta WHERE k='rv'").fetchone()
        self.rv = int(row[0]) if row else 0
        self._db = db

    def _persist(self, rkey: str, ns: str, name: str, obj: Obj | None) -> None:
        if self._backend is not None:
            self._backend.write(rkey, ns, name, obj, self.rv)
            return
        if self._db is None:
            return
        if obj is None:
            self._db.execute(
                "DELETE FROM objects WHERE rkey=? AND ns=? AND name=?", (rkey, ns, name)
            )
        else:
            self._db.execute(
                "INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?)",
                (rkey, ns, name, json.dumps(obj, separators=(",", ":"))),
            )
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('rv', ?)", (str(self.rv),))

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()
            if self._db is not None:
                self._db.close()
                self._db = None
            if self._backend is not None:
                self._backend.close()
                self._backend = None

    # -- reads -------------------------------------------------------------
    @property
    def lock(self) -> threading.Condition:
        """Callers hold this across read-modify-write sequences."""
        return self._cond

    def get(self, rkey: str, ns: str, name: str) -> Obj | None:
        with self._cond:
            obj = self._objects.get(rkey, {}).get((ns, name))
            return copy.deepcopy(obj) if obj is not None else None

    def list(self, rkey: str, ns: str | None = None) -> tuple[ObjList, int]:
        with self._cond:
            items = [
                copy.deepcopy(obj)
                for (obj_ns, _), obj in sorted(self._objects.get(rkey, {}).items())
                if ns is None or obj_ns == ns
            ]
            return items, self.rv

    def snapshot(self) -> builtins.list[tuple[str, Obj]]:
        """Every (rkey, object) by reference, for read-only sweeps; no copies, because a
        periodic sweep that deep-copied the whole store would dominate CPU time."""
        with self._cond:
            return [
                (rkey, obj) for rkey, bucket in self._objects.items() for obj in bucket.values()
            ]

    def rkeys(self) -> builtins.list[str]:
        with self._cond:
            return [k for k, v in self._objects.items() if v]

    # -- writes ------------------------------------------------------------
    def put(self, rkey: str, obj: Obj, etype: str) -> Obj:
        """Store `obj` under a new resourceVersion; returns a copy as stored."""
        with self._cond:
            self.rv += 1
            meta = obj["metadata"]
            meta["resourceVersion"] = str(self.rv)
            ns = meta.get("namespace", "")
            stored = copy.deepcopy(obj)
            bucket = self._objects.setdefault(rkey, {})
            # Stored dicts are replaced, never mutated, so keeping a reference is safe.
            prev = bucket.get((ns, meta["name"]))
            bucket[(ns, meta["name"])] = stored
            self._persist(rkey, ns, meta["name"], stored)
            self._append(Event(self.rv, rkey, etype, stored, prev))
            self._notify(rkey)
            return copy.deepcopy(stored)

    def remove(self, rkey: str, obj: Obj) -> Obj:
        with self._cond:
            self.rv += 1
            meta = obj["metadata"]
            ns = meta.get("namespace", "")
            self._objects.get(rkey, {}).pop((ns, meta["name"]), None)
            final = copy.deepcopy(obj)
            final["metadata"]["resourceVersion"] = str(self.rv)
            self._persist(rkey, ns, meta["name"], None)
            self._append(Event(self.rv, rkey, "DELETED", final))
            self._notify(rkey)
            return copy.deepcopy(final)

    def _notify(self, rkey: str) -> None:
        for listener in self._listeners:
            listener(rkey)

    def _append(self, event: Event) -> None:
        self._events.append(event)
        if len(self._events) > _MAX_EVENTS:
            drop = len(self._events) - _MAX_EVENTS
            self.oldest_rv = self._events[drop - 1].rv
            del self._events[:drop]
        self._cond.notify_all()

    # -- watch -------------------------------------------------------------
    def events(
        self, since_rv: int, deadline: float, stop: threading.Event | None = None
    ) -> Iterator[Event]:
        """Yield every event after `since_rv` until `deadline` (monotonic time).

        Yields nothing, about once a second, as a heartbeat so the caller can notice
        a closed connection; callers filter by resource themselves.
        """
        if since_rv < self.oldest_rv:
            raise Expired(f"too old resource version: {since_rv} ({self.oldest_rv})")
        return self._follow(since_rv, deadline, stop)

    def _follow(
        self, since_rv: int, deadline: float, stop: threading.Event | None
    ) -> Iterator[Event]:
        last = since_rv
        while True:
            with self._cond:
                idx = bisect.bisect_right(self._events, last, key=lambda e: e.rv)
                if last < self.oldest_rv:
                    raise Expired(f"too old resource version: {last} ({self.oldest_rv})")
                batch = self._events[idx:]
                if not batch:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or self.closed or (stop is not None and stop.is_set()):
                        return
                    self._cond.wait(min(remaining, 1.0))
                    batch = []
            if not batch:
                yield Event(0, "", "HEARTBEAT", {})
                continue
            for event in batch:
                last = event.rv
                yield event
