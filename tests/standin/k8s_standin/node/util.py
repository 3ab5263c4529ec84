"""Small helpers shared by the controllers: timestamps, names, selectors, owners."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

Obj = dict[str, Any]
log = logging.getLogger("k8s_standin.node")


def now() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_nano() -> str:
    """RFC 3339 with nanoseconds, the timestamp format of CRI log lines."""
    t = time.time_ns()
    base = _dt.datetime.fromtimestamp(t // 1_000_000_000, _dt.UTC)
    return base.strftime("%Y-%m-%dT%H:%M:%S") + f".{t % 1_000_000_000:09d}Z"


def parse_time(value: str | None) -> float:
    if not value:
        return 0.0
    value = value.replace("Z", "+00:00")
    return _dt.datetime.fromisoformat(value).timestamp()


def suffix(n: int = 5) -> str:
    """Random name suffix in the alphabet the apiserver's generateName uses."""
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    return "".join(secrets.choice(alphabet) for _ in range(n))


def stable_hash(value: Any, n: int = 10) -> str:
    """Deterministic hash, e.g. pod-template-hash, so a template maps to one ReplicaSet."""
    digest = hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    num = int(digest, 16)
    out = []
    for _ in range(n):
        num, rem = divmod(num, len(alphabet))
        out.append(alphabet[rem])
    return "".join(out)


def matches(selector: Obj | None, labels: dict[str, str] | None) -> bool:
    """LabelSelector semantics: matchLabels plus the common matchExpressions operators."""
    if not selector:
        return False
    labels = labels or {}
    plain = selector.get("matchLabels", selector if "matchExpressions" not in selector else {})
    if not isinstance(plain, dict):
        return False
    for key, value in plain.items():
        if key == "matchExpressions":
            continue
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def service_matches(selector: dict[str, str] | None, labels: dict[str, str] | None) -> bool:
    """Service selectors are plain maps; an empty one selects nothing."""
    if not selector:
        return False
    labels = labels or {}
    return all(labels.get(k) == v for k, v in selector.items())


def owner_ref(owner: Obj, controller: bool = True) -> Obj:
    return {
        "apiVersion": owner.get("apiVersion", "v1"),
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": controller,
        "blockOwnerDeletion": True,
    }


def controller_of(obj: Obj) -> Obj | None:
    for ref in obj.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def pod_ready(pod: Obj) -> bool:
    for cond in pod.get("status", {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return False


def is_terminating(obj: Obj) -> bool:
    return bool(obj.get("metadata", {}).get("deletionTimestamp"))


MIN_PASS_GAP = 0.05


class Loop(threading.Thread):
    """Run `step` every `period` seconds until stopped; log and survive errors.

    Controllers are level-triggered reconcilers: each pass lists current state and
    converges, so a missed event or an API restart only delays convergence.
    """

    def __init__(
        self,
        name: str,
        step: Callable[[], None],
        period: float,
        wake: threading.Event | None = None,
    ) -> None:
        super().__init__(name=name, daemon=True)
        self.step = step
        self.period = period
        self.stopped = threading.Event()
        # Set by watch events (feed.ChangeFeed); None means plain polling.
        self.wake = wake
        self._last_error = ""

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                self.step()
                self._last_error = ""
            except Exception as err:
                msg = f"{type(err).__name__}: {err}"
                if msg != self._last_error:
                    log.warning("%s: %s", self.name, msg, exc_info=True)
                self._last_error = msg
            if self.wake is None:
                self.stopped.wait(self.period)
                continue
            self.wake.wait(self.period)
            self.wake.clear()
            # Coalesce a burst of events (one write often triggers several) into one pass.
            self.stopped.wait(MIN_PASS_GAP)

    def stop(self) -> None:
        self.stopped.set()
        if self.wake is not None:
            self.wake.set()
