"""Watch-driven wake-ups for the reconcile loops.

One watch per resource type streams changes; each event wakes the loops that
subscribed to that resource, so they reconcile right after a change instead of
polling. Loops still list fresh state from the API when they run (no cache, so a
controller never acts on a view older than its own writes) and still resync on a
timer, which covers time-based work and any missed event.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .client import ApiError, Client
from .util import log


class ChangeFeed:
    def __init__(self, client: Client) -> None:
        self.client = client
        self._subscribers: dict[str, list[threading.Event]] = {}
        self._started: set[str] = set()
        self.stopped = threading.Event()

    def subscribe(self, resources: tuple[str, ...], wake: threading.Event) -> None:
        for resource in resources:
            self._subscribers.setdefault(resource, []).append(wake)
            if resource not in self._started:
                self._started.add(resource)
                threading.Thread(
                    target=self._watch, args=(resource,), daemon=True, name=f"watch {resource}"
                ).start()

    def _notify(self, resource: str) -> None:
        for wake in self._subscribers.get(resource, []):
            wake.set()

    def _watch(self, resource: str) -> None:
        version: str | None = None
        while not self.stopped.is_set():
            try:
                if version is None:
                    listing = self.client.request("GET", _collection(resource))
                    version = str((listing.get("metadata") or {}).get("resourceVersion") or "")
                    self._notify(resource)
                for event in self.client.watch(resource, resource_version=version or None):
                    kind = event.get("type")
                    obj = event.get("object") or {}
                    if kind == "ERROR":
                        version = None  # 410 Gone and friends: list again
                        break
                    rv = (obj.get("metadata") or {}).get("resourceVersion")
                    if rv:
                        version = str(rv)
                    if kind in ("ADDED", "MODIFIED", "DELETED"):
                        self._notify(resource)
            except (OSError, ApiError, ValueError) as err:
                log.debug("watch %s: %s", resource, err)
                version = None
                self._notify(resource)  # the API came back or changed: look again
                self.stopped.wait(1.0)
            else:
                # A watch ended normally (its timeout); avoid a hot loop if it ends at once.
                time.sleep(0.05)


def _collection(resource: str) -> str:
    from .client import resource_path

    return resource_path(resource)


def run_on_changes(
    client: Client,
    resources: tuple[str, ...],
    step: Callable[[], None],
    resync: float = 10.0,
    name: str = "",
) -> None:
    """Run `step` now, after every change to `resources`, and every `resync` seconds.

    For the add-on processes (DNS, ingress, provisioner): they see changes at once
    without polling the API every second.
    """
    wake = threading.Event()
    ChangeFeed(client).subscribe(resources, wake)
    while True:
        try:
            step()
        except Exception as err:  # keep the last good state while the API is unavailable
            log.warning("%s: %s", name or step, err)
        wake.wait(resync)
        wake.clear()
        time.sleep(0.05)  # coalesce bursts
