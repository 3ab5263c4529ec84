"""core/v1 Events with the reason strings real components use."""

from __future__ import annotations

import contextlib

from .client import ApiError, Client
from .util import Obj, now, suffix


def emit(
    client: Client,
    obj: Obj,
    reason: str,
    message: str,
    *,
    type_: str = "Normal",
    component: str = "kubelet",
    host: str | None = None,
) -> None:
    meta = obj.get("metadata", {})
    namespace = meta.get("namespace") or "default"
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{meta.get('name', 'unknown')}.{suffix(10)}", "namespace": namespace},
        "involvedObject": {
            "apiVersion": obj.get("apiVersion", "v1"),
            "kind": obj.get("kind", ""),
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
        },
        "reason": reason,
        "message": message,
        "type": type_,
        "source": {"component": component, **({"host": host} if host else {})},
        "reportingComponent": component,
        "reportingInstance": host or component,
        "firstTimestamp": now(),
        "lastTimestamp": now(),
        "count": 1,
    }
    # Events are best effort, as in Kubernetes: never fail the caller over one.
    with contextlib.suppress(ApiError, OSError):
        client.create("events", event, namespace)
