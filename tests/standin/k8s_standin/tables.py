"""Server-side printing: the meta.k8s.io/v1 Table that `kubectl get` asks for."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

Obj = dict[str, Any]
Column = tuple[str, str, int, Callable[[Obj], Any]]  # name, type, priority, cell


def wants_table(accept: str) -> bool:
    return any("as=Table" in part for part in accept.split(","))


def wants_metadata(accept: str) -> bool:
    """Metadata-only clients (client-go's metadata informers, `kubectl get -o name`)."""
    return any("as=PartialObjectMetadata" in part and "json" in part for part in accept.split(","))


def partial(obj: Obj) -> Obj:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata", {}),
    }


def partial_list(result: Obj) -> Obj:
    return {
        "kind": "PartialObjectMetadataList",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": result.get("metadata", {}),
        "items": [partial(o) for o in result.get("items", [])],
    }


def age(obj: Obj) -> str:
    created = obj.get("metadata", {}).get("creationTimestamp")
    if not created:
        return "<unknown>"
    then = dt.datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    secs = int((dt.datetime.now(dt.UTC) - then).total_seconds())
    if secs < 120:
        return f"{max(secs, 0)}s"
    if secs < 3600 * 3:
        return f"{secs // 60}m"
    if secs < 86400 * 2:
        return f"{secs // 3600}h"
    return f"{secs // 86400}d"


def _pod_ready(p: Obj) -> str:
    statuses = p.get("status", {}).get("containerStatuses") or []
    ready = sum(1 for s in statuses if s.get("ready"))
    return f"{ready}/{len(p.get('spec', {}).get('containers') or [])}"


def _pod_status(p: Obj) -> str:
    if p["metadata"].get("deletionTimestamp"):
        return "Terminating"
    status = p.get("status", {})
    for s in status.get("containerStatuses") or []:
        waiting = (s.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason"):
            return str(waiting["reason"])
        term = (s.get("state") or {}).get("terminated")
        if term and term.get("reason") and status.get("phase") not in ("Running",):
            return str(term["reason"])
    return str(status.get("reason") or status.get("phase") or "Pending")


def _node_status(n: Obj) -> str:
    ready = "Unknown"
    for c in n.get("status", {}).get("conditions") or []:
        if c.get("type") == "Ready":
            ready = "Ready" if c.get("status") == "True" else "NotReady"
    if n.get("spec", {}).get("unschedulable"):
        ready += ",SchedulingDisabled"
    return ready


def _roles(n: Obj) -> str:
    prefix = "node-role.kubernetes.io/"
    roles = sorted(
        k[len(prefix) :] for k in n["metadata"].get("labels") or {} if k.startswith(prefix)
    )
    return ",".join(roles) or "<none>"


def _ports(s: Obj) -> str:
    out = []
    for p in s.get("spec", {}).get("ports") or []:
        text = str(p.get("port"))
        if p.get("nodePort"):
            text += f":{p['nodePort']}"
        out.append(f"{text}/{p.get('protocol', 'TCP')}")
    return ",".join(out) or "<none>"


def _external_ip(s: Obj) -> str:
    ingress = s.get("status", {}).get("loadBalancer", {}).get("ingress") or []
    ips = [i.get("ip") or i.get("hostname") for i in ingress]
    if ips:
        return ",".join(str(i) for i in ips)
    if s.get("spec", {}).get("type") == "LoadBalancer":
        return "<pending>"
    return "<none>"


def _st(key: str, default: Any = 0) -> Callable[[Obj], Any]:
    return lambda o: o.get("status", {}).get(key, default)


_NAME: Column = ("Name", "string", 0, lambda o: o["metadata"]["name"])
_AGE: Column = ("Age", "string", 0, age)
COLUMNS: dict[str, list[Column]] = {
    "Pod": [
        _NAME,
        ("Ready", "string", 0, _pod_ready),
        ("Status", "string", 0, _pod_status),
        (
            "Restarts",
            "string",
            0,
            lambda p: str(
                sum(
                    s.get("restartCount", 0)
                    for s in p.get("status", {}).get("containerStatuses") or []
                )
            ),
        ),
        _AGE,
        ("IP", "string", 1, lambda p: p.get("status", {}).get("podIP") or "<none>"),
        ("Node", "string", 1, lambda p: p.get("spec", {}).get("nodeName") or "<none>"),
    ],
    "Node": [
        _NAME,
        ("Status", "string", 0, _node_status),
        ("Roles", "string", 0, _roles),
        _AGE,
        (
            "Version",
            "string",
            0,
            lambda n: n.get("status", {}).get("nodeInfo", {}).get("kubeletVersion", ""),
        ),
    ],
    "Namespace": [_NAME, ("Status", "string", 0, lambda n: n.get("status", {}).get("phase")), _AGE],
    "Deployment": [
        _NAME,
        (
            "Ready",
            "string",
            0,
            lambda d: (
                f"{d.get('status', {}).get('readyReplicas', 0)}/"
                f"{d.get('spec', {}).get('replicas', 1)}"
            ),
        ),
        ("Up-to-date", "integer", 0, _st("updatedReplicas")),
        ("Available", "integer", 0, _st("availableReplicas")),
        _AGE,
    ],
    "ReplicaSet": [
        _NAME,
        ("Desired", "integer", 0, lambda r: r.get("spec", {}).get("replicas", 0)),
        ("Current", "integer", 0, _st("replicas")),
        ("Ready", "integer", 0, _st("readyReplicas")),
        _AGE,
    ],
    "DaemonSet": [
        _NAME,
        ("Desired", "integer", 0, _st("desiredNumberScheduled")),
        ("Current", "integer", 0, _st("currentNumberScheduled")),
        ("Ready", "integer", 0, _st("numberReady")),
        ("Up-to-date", "integer", 0, _st("updatedNumberScheduled")),
        ("Available", "integer", 0, _st("numberAvailable")),
        _AGE,
    ],
    "Service": [
        _NAME,
        ("Type", "string", 0, lambda s: s.get("spec", {}).get("type")),
        ("Cluster-IP", "string", 0, lambda s: s.get("spec", {}).get("clusterIP") or "<none>"),
        ("External-IP", "string", 0, _external_ip),
        ("Port(s)", "string", 0, _ports),
        _AGE,
    ],
    "PersistentVolumeClaim": [
        _NAME,
        ("Status", "string", 0, _st("phase", "")),
        ("Volume", "string", 0, lambda c: c.get("spec", {}).get("volumeName", "")),
        ("StorageClass", "string", 0, lambda c: c.get("spec", {}).get("storageClassName", "")),
        _AGE,
    ],
    "StorageClass": [
        _NAME,
        ("Provisioner", "string", 0, lambda s: s.get("provisioner", "")),
        ("ReclaimPolicy", "string", 0, lambda s: s.get("reclaimPolicy", "")),
        ("VolumeBindingMode", "string", 0, lambda s: s.get("volumeBindingMode", "")),
        _AGE,
    ],
}


def to_table(kind: str, objs: list[Obj], list_meta: Obj, include_object: str) -> Obj:
    columns = COLUMNS.get(kind, [_NAME, _AGE])
    rows = []
    for obj in objs:
        if include_object == "Object":
            embedded: Any = obj
        elif include_object == "None":
            embedded = None
        else:
            embedded = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj.get("metadata", {}),
            }
        rows.append({"cells": [fn(obj) for _, _, _, fn in columns], "object": embedded})
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": [
            {
                "name": name,
                "type": typ,
                "format": "name" if name == "Name" else "",
                "description": name,
                "priority": prio,
            }
            for name, typ, prio, _ in columns
        ],
        "rows": rows,
    }
