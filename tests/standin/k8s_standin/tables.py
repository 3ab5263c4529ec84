"""Server-side printing: the meta.k8s.io/v1 Table that `kubectl get` asks for."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
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


def _since(stamp: str | None) -> str:
    return age({"metadata": {"creationTimestamp": stamp}}) if stamp else "<none>"


def _human(secs: int) -> str:
    """apimachinery's duration.HumanDuration, to the hours."""
    if secs < 120:
        return f"{max(secs, 0)}s"
    if secs < 600:
        return f"{secs // 60}m{secs % 60}s" if secs % 60 else f"{secs // 60}m"
    if secs < 3600 * 3:
        return f"{secs // 60}m"
    if secs < 3600 * 8:
        rest = (secs % 3600) // 60
        return f"{secs // 3600}h{rest}m" if rest else f"{secs // 3600}h"
    if secs < 86400 * 2:
        return f"{secs // 3600}h"
    return f"{secs // 86400}d"


def _parse(stamp: str) -> dt.datetime:
    return dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


def _job_status(j: Obj) -> str:
    """printJob: the first terminal or pending-terminal condition that is True."""
    conditions = {
        c.get("type"): c.get("status") for c in j.get("status", {}).get("conditions") or []
    }
    for type_ in ("Failed", "Complete", "Suspended", "FailureTarget", "SuccessCriteriaMet"):
        if conditions.get(type_) == "True":
            return type_
    if j["metadata"].get("deletionTimestamp"):
        return "Terminating"
    return "Running"


def _job_completions(j: Obj) -> str:
    spec, succeeded = j.get("spec", {}), j.get("status", {}).get("succeeded", 0)
    if spec.get("completions") is not None:
        return f"{succeeded}/{spec['completions']}"
    parallelism = spec.get("parallelism") or 0
    if parallelism > 1:
        return f"{succeeded}/1 of {parallelism}"
    return f"{succeeded}/1"


def _job_duration(j: Obj) -> str:
    status = j.get("status", {})
    if not status.get("startTime"):
        return ""
    start = _parse(status["startTime"])
    end = _parse(status["completionTime"]) if status.get("completionTime") else None
    return _human(int(((end or dt.datetime.now(dt.UTC)) - start).total_seconds()))


def _containers(template: Callable[[Obj], Obj]) -> list[Column]:
    def names(o: Obj) -> str:
        cs = (template(o).get("spec") or {}).get("containers") or []
        return ",".join(c.get("name", "") for c in cs)

    def images(o: Obj) -> str:
        cs = (template(o).get("spec") or {}).get("containers") or []
        return ",".join(c.get("image", "") for c in cs)

    return [("Containers", "string", 1, names), ("Images", "string", 1, images)]


def _selector(o: Obj) -> str:
    sel = (o.get("spec", {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sel.items()) or "<none>"


def _job_template(o: Obj) -> Obj:
    return o.get("spec", {}).get("template") or {}


def _cronjob_template(o: Obj) -> Obj:
    return ((o.get("spec", {}).get("jobTemplate") or {}).get("spec") or {}).get("template") or {}


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
    "StatefulSet": [
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
        _AGE,
        *_containers(_job_template),
    ],
    "ControllerRevision": [
        _NAME,
        (
            "Controller",
            "string",
            0,
            lambda r: next(
                (
                    f"{ref['kind'].lower()}.{ref['apiVersion'].split('/')[0]}/{ref['name']}"
                    for ref in r["metadata"].get("ownerReferences") or []
                    if ref.get("controller")
                ),
                "<none>",
            ),
        ),
        ("Revision", "integer", 0, lambda r: r.get("revision", 0)),
        _AGE,
    ],
    "Job": [
        _NAME,
        ("Status", "string", 0, _job_status),
        ("Completions", "string", 0, _job_completions),
        ("Duration", "string", 0, _job_duration),
        _AGE,
        *_containers(_job_template),
        ("Selector", "string", 1, _selector),
    ],
    "CronJob": [
        _NAME,
        ("Schedule", "string", 0, lambda c: c.get("spec", {}).get("schedule", "")),
        ("Timezone", "string", 0, lambda c: c.get("spec", {}).get("timeZone") or "<none>"),
        ("Suspend", "boolean", 0, lambda c: str(bool(c.get("spec", {}).get("suspend")))),
        ("Active", "integer", 0, lambda c: len(c.get("status", {}).get("active") or [])),
        (
            "Last Schedule",
            "date",
            0,
            lambda c: _since(c.get("status", {}).get("lastScheduleTime")),
        ),
        _AGE,
        *_containers(_cronjob_template),
        ("Selector", "string", 1, lambda c: "<none>"),
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


def _apiservice_service(a: Obj) -> str:
    ref = a.get("spec", {}).get("service") or {}
    return f"{ref['namespace']}/{ref['name']}" if ref.get("name") else "Local"


def _apiservice_available(a: Obj) -> str:
    for c in a.get("status", {}).get("conditions") or []:
        if c.get("type") == "Available":
            status = str(c.get("status", "Unknown"))
            return status if status == "True" else f"{status} ({c.get('reason', '')})"
    return "Unknown"


# kube-aggregator's printer (pkg/registry/apiservice/etcd): the Service, or Local.
COLUMNS["APIService"] = [
    _NAME,
    ("Service", "string", 0, _apiservice_service),
    ("Available", "string", 0, _apiservice_available),
    _AGE,
]


def _created_at(o: Obj) -> Any:
    return o.get("metadata", {}).get("creationTimestamp")


def _int_or_percent(key: str) -> Callable[[Obj], Any]:
    def cell(o: Obj) -> Any:
        value = o.get("spec", {}).get(key)
        return "N/A" if value is None else str(value)

    return cell


# printers.go printPriorityClass.
COLUMNS["PriorityClass"] = [
    _NAME,
    ("Value", "integer", 0, lambda pc: pc.get("value", 0)),
    ("Global-Default", "boolean", 0, lambda pc: pc.get("globalDefault", False)),
    _AGE,
    ("PreemptionPolicy", "string", 0, lambda pc: pc.get("preemptionPolicy", "")),
]


# printers.go printPodDisruptionBudget.
COLUMNS["PodDisruptionBudget"] = [
    _NAME,
    ("Min Available", "string", 0, _int_or_percent("minAvailable")),
    ("Max Unavailable", "string", 0, _int_or_percent("maxUnavailable")),
    ("Allowed Disruptions", "integer", 0, _st("disruptionsAllowed")),
    _AGE,
]


def _quota_usage(limits: bool) -> Callable[[Obj], str]:
    """printResourceQuota: `name: used/hard` of the requests (or the limits.* names)."""

    def cell(o: Obj) -> str:
        status = o.get("status") or {}
        hard, used = status.get("hard") or {}, status.get("used") or {}
        names = sorted(k for k in hard if k.startswith("limits.") == limits)
        return ", ".join(f"{k}: {used.get(k, '0')}/{hard[k]}" for k in names)

    return cell


COLUMNS["ResourceQuota"] = [
    _NAME,
    _AGE,
    ("Request", "string", 0, _quota_usage(False)),
    ("Limit", "string", 0, _quota_usage(True)),
]


# The default table convertor's columns (apiserver's rest.NewDefaultTableConvertor),
# which apiextensions-apiserver uses for CRDs: the time is left to the client to print.
COLUMNS["CustomResourceDefinition"] = [_NAME, ("Created At", "date", 0, _created_at)]


def printer_columns(definitions: tuple[Obj, ...]) -> list[Column]:
    """A CRD version's additionalPrinterColumns after Name; without any, one Age
    column of `.metadata.creationTimestamp` (customresource_handler.go). `date` cells
    are ages, as kubectl shows them; others hold the JSONPath's value as found."""
    if not definitions:
        definitions = ({"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},)
    columns: list[Column] = [_NAME]
    for d in definitions:
        path, kind = str(d.get("jsonPath", "")), str(d.get("type", "string"))
        columns.append((str(d.get("name", "")), kind, int(d.get("priority", 0)), _cell(path, kind)))
    return columns


def _cell(path: str, kind: str) -> Callable[[Obj], Any]:
    """One printer column's cell as the CRD table convertor makes it (kubernetes
    apiextensions-apiserver pkg/registry/customresource/tableconvertor): the first
    JSONPath result; `string` columns print any value, other types hold only a value
    of their own type (else nothing), `date` is an age or `<invalid>`."""

    def cell(obj: Obj) -> Any:
        value = jsonpath(obj, path)
        if value is None:
            return None
        if kind == "string":
            if isinstance(value, (dict, list)):
                return json.dumps(value, separators=(",", ":"))
            if isinstance(value, bool):
                return "true" if value else "false"
            if isinstance(value, float) and value.is_integer():
                return str(int(value))  # as Go's %v prints a whole float64
            return str(value)
        if kind == "integer" and isinstance(value, (int, float)) and not isinstance(value, bool):
            return int(value)
        if kind == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if kind == "boolean" and isinstance(value, bool):
            return value
        if kind == "date" and isinstance(value, str):
            try:
                return _human(int((dt.datetime.now(dt.UTC) - _parse(value)).total_seconds()))
            except ValueError:
                return "<invalid>"
        return None

    return cell


def _steps(path: str) -> list[str]:
    """`.a.b[0][*][?(@.type=="Ready")]` as ["a", "b", "[0]", "[*]", "[?...]"]."""
    steps: list[str] = []
    i = 0
    while i < len(path):
        if path[i] == ".":
            i += 1
            continue
        if path[i] == "[":
            end = path.index("]", i)
            steps.append(path[i : end + 1])
            i = end + 1
            continue
        end = i
        while end < len(path) and path[end] not in ".[":
            end += 1
        steps.append(path[i:end])
        i = end
    return steps


def _step(values: list[Any], step: str) -> list[Any]:
    found: list[Any] = []
    for value in values:
        if step.startswith("[?(@.") and step.endswith(")]"):
            key, _, wanted = step[5:-2].partition("==")
            wanted = wanted.strip().strip("'\"")
            if isinstance(value, list):
                found += [
                    v for v in value if isinstance(v, dict) and str(v.get(key.strip())) == wanted
                ]
        elif step == "[*]":
            if isinstance(value, list):
                found += value
            elif isinstance(value, dict):
                found += list(value.values())
        elif step.startswith("["):
            if isinstance(value, list):
                with contextlib.suppress(ValueError, IndexError):
                    found.append(value[int(step[1:-1])])
        elif isinstance(value, dict) and step in value:
            found.append(value[step])
    return found


def jsonpath(obj: Obj, path: str) -> Any:
    """The subset of kubectl's JSONPath that printer columns use: the first result,
    None for a missing field."""
    values: list[Any] = [obj]
    for step in _steps(path.strip().strip("{}")):
        values = _step(values, step)
    return values[0] if values else None


def to_table(
    kind: str,
    objs: list[Obj],
    list_meta: Obj,
    include_object: str,
    custom: list[Column] | None = None,
) -> Obj:
    columns = custom or COLUMNS.get(kind, [_NAME, _AGE])
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
