"""ResourceQuotas: what an object uses, the ResourceQuota admission plugin's checks, and
the usage the resource quota controller writes into a quota's status.

Facts from kubernetes v1.36: pkg/quota/v1/evaluator/core (pods.go: count/pods for every
pod, pods and compute usage for pods neither finished nor past their deletion's grace,
summed over containers with init containers' maximum, and the constraint that every
container names each constrained cpu and memory resource; services.go;
persistent_volume_claims.go), pkg/quota/v1/generic (count/<resource>.<group>), and
staging/src/k8s.io/apiserver/pkg/admission/plugin/resourcequota/controller.go (the
"failed quota" and "exceeded quota: NAME, requested: ..., used: ..., limited: ..."
403s, names and values sorted and printed as name=quantity).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from . import quantity
from .errors import ApiError
from .quantity import Quantity
from .resources import Resource

Obj = dict[str, Any]
Usage = dict[str, Quantity]
ONE = quantity.parse("1")
#: Compute resources counted for pods with their requests.* and limits.* names.
_COMPUTE = ("cpu", "memory", "ephemeral-storage")
_POD_RESOURCES = frozenset(
    [
        "pods",
        "count/pods",
        *_COMPUTE,
        *(f"requests.{c}" for c in _COMPUTE),
        *(f"limits.{c}" for c in _COMPUTE),
    ]
)
#: What each container must name once a quota constrains it: only cpu and memory, a
#: compatibility rule pods.go keeps and extends to nothing else.
_VALIDATED = frozenset(
    ["cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"]
)


def _extended(name: str) -> bool:
    """helper.IsExtendedResourceName: a domain-qualified name outside kubernetes.io."""
    return "/" in name and not name.split("/", 1)[0].endswith("kubernetes.io")


def count_name(res: Resource) -> str:
    """`count/<plural>` for core kinds, `count/<plural>.<group>` for the others."""
    return f"count/{res.plural}.{res.group}" if res.group else f"count/{res.plural}"


def _add(total: Usage, more: Usage) -> Usage:
    out = dict(total)
    for key, value in more.items():
        out[key] = out[key] + value if key in out else value
    return out


def _container_usage(container: Obj) -> Usage:
    """podComputeUsageHelper of one container: cpu, memory and ephemeral-storage
    requests (bare and requests.*) and limits (limits.*), hugepages requests, and
    extended resources as requests.* only."""
    resources = container.get("resources") or {}
    usage: Usage = {}
    for key, value in (resources.get("requests") or {}).items():
        if key in _COMPUTE or key.startswith("hugepages-"):
            usage[key] = quantity.parse(value)
            usage[f"requests.{key}"] = quantity.parse(value)
        elif _extended(key):
            usage[f"requests.{key}"] = quantity.parse(value)
    for key, value in (resources.get("limits") or {}).items():
        if key in _COMPUTE:
            usage[f"limits.{key}"] = quantity.parse(value)
    return usage


def _charged(pod: Obj, now: dt.datetime) -> bool:
    """QuotaV1Pod: not finished, and not still held past its deletion's grace period."""
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return False
    meta = pod["metadata"]
    stamp, grace = meta.get("deletionTimestamp"), meta.get("deletionGracePeriodSeconds")
    if stamp and grace is not None:
        try:
            deleted = dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
        except ValueError:
            return True
        return now <= deleted + dt.timedelta(seconds=int(grace))
    return True


def _pod_compute(spec: Obj) -> Usage:
    """Containers summed, then each resource raised to any init container's need."""
    total: Usage = {}
    for container in spec.get("containers") or []:
        total = _add(total, _container_usage(container))
    for container in spec.get("initContainers") or []:
        for key, value in _container_usage(container).items():
            if key not in total or value.value > total[key].value:
                total[key] = value
    return total


def usage(res: Resource, obj: Obj) -> Usage:
    """What one object counts against a quota."""
    counted: Usage = {count_name(res): ONE}
    if res.group == "" and res.kind == "Pod":
        # count/pods counts every stored pod; pods and compute only those still charged.
        if not _charged(obj, dt.datetime.now(dt.UTC)):
            return counted
        return {"pods": ONE, **counted, **_pod_compute(obj.get("spec") or {})}
    if res.group == "" and res.kind == "Service":
        spec = obj.get("spec") or {}
        counted["services"] = ONE
        if spec.get("type") == "LoadBalancer":
            counted["services.loadbalancers"] = ONE
        if spec.get("type") in ("NodePort", "LoadBalancer"):
            ports = len(spec.get("ports") or [])
            counted["services.nodeports"] = quantity.parse(str(ports))
        return counted
    if res.group == "" and res.kind in ("ConfigMap", "Secret", "ResourceQuota"):
        counted[res.plural] = ONE
        return counted
    if res.group == "" and res.kind == "PersistentVolumeClaim":
        spec = obj.get("spec") or {}
        storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
        counted["persistentvolumeclaims"] = ONE
        klass = spec.get("storageClassName")
        if klass:
            counted[f"{klass}.storageclass.storage.k8s.io/persistentvolumeclaims"] = ONE
        if storage is not None:
            counted["requests.storage"] = quantity.parse(storage)
            if klass:
                counted[f"{klass}.storageclass.storage.k8s.io/requests.storage"] = quantity.parse(
                    storage
                )
        return counted
    return counted


def total(res_objs: Iterable[tuple[Resource, Obj]], names: Iterable[str]) -> dict[str, str]:
    """A quota's status.used: every hard name, summed over the namespace's objects."""
    wanted = set(names)
    sums: Usage = {}
    for res, obj in res_objs:
        used = {k: v for k, v in usage(res, obj).items() if k in wanted}
        sums = _add(sums, used)
    return {name: str(sums.get(name, quantity.ZERO)) for name in sorted(wanted)}


def _hard(quota: Obj) -> dict[str, Quantity]:
    hard = (quota.get("status") or {}).get("hard") or (quota.get("spec") or {}).get("hard") or {}
    return {k: quantity.parse(v) for k, v in hard.items()}


def _pretty(values: dict[str, Quantity]) -> str:
    return ",".join(f"{k}={values[k]}" for k in sorted(values))


def _missing(pod: Obj, constrained: set[str]) -> str:
    """The pods evaluator's Constraints: each container must name every constrained
    compute resource (requests.X or bare X in its requests, limits.X in its limits)."""
    spec = pod.get("spec") or {}
    lacking: dict[str, list[str]] = {}
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        resources = container.get("resources") or {}
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        for name in constrained:
            if name.startswith("limits."):
                has = name[len("limits.") :] in limits
            else:
                has = name.removeprefix("requests.") in requests
            if not has:
                lacking.setdefault(name, []).append(container.get("name", ""))
    return "; ".join(f"{r} for: {','.join(sorted(set(lacking[r])))}" for r in sorted(lacking))


def admit(res: Resource, obj: Obj, quotas: list[Obj], shown_name: str) -> list[tuple[Obj, Obj]]:
    """Check a create against the namespace's quotas. Returns (quota, its new status)
    for each quota the object is charged to; raises a 403 that names the first quota
    that refuses it."""
    delta = usage(res, obj)
    if not delta:
        return []
    what = f"{res.plural}.{res.group}" if res.group else res.plural

    def forbidden(message: str) -> ApiError:
        return ApiError(
            "Forbidden",
            f'{what} "{shown_name}" is forbidden: {message}',
            {"name": shown_name, "group": res.group, "kind": res.plural},
        )

    charged: list[tuple[Obj, Obj]] = []
    for quota in sorted(quotas, key=lambda q: str(q["metadata"]["name"])):
        name = quota["metadata"]["name"]
        hard = _hard(quota)
        tracked = {k for k in hard if k in delta or _could_use(res, k)}
        if not tracked:
            continue
        if res.group == "" and res.kind == "Pod":
            constrained = {k for k in tracked if k in _VALIDATED}
            lacking = _missing(obj, constrained)
            if lacking:
                raise forbidden(f"failed quota: {name}: must specify {lacking}")
        status = quota.get("status") or {}
        if not status.get("hard"):
            listed = ",".join(sorted(tracked))
            raise forbidden(f"status unknown for quota: {name}, resources: {listed}")
        used = {k: quantity.parse(v) for k, v in (status.get("used") or {}).items()}
        requested = {k: v for k, v in delta.items() if k in tracked and v.value != 0}
        if not requested:
            continue
        after = {k: used.get(k, quantity.ZERO) + v for k, v in requested.items()}
        exceeded = sorted(k for k, v in after.items() if v.value > hard[k].value)
        if exceeded:
            raise forbidden(
                f"exceeded quota: {name}, "
                f"requested: {_pretty({k: requested[k] for k in exceeded})}, "
                f"used: {_pretty({k: used.get(k, quantity.ZERO) for k in exceeded})}, "
                f"limited: {_pretty({k: hard[k] for k in exceeded})}"
            )
        new_used = dict(status.get("used") or {})
        for key, value in after.items():
            new_used[key] = str(value)
        charged.append((quota, dict(status, used=new_used)))
    return charged


def _could_use(res: Resource, name: str) -> bool:
    """Whether a quota's resource name is one this kind's evaluator counts (so a pod
    without requests is still held to a quota on requests.cpu)."""
    if name == count_name(res):
        return True
    if res.group == "" and res.kind == "Pod":
        return (
            name in _POD_RESOURCES
            or name.startswith(("hugepages-", "requests.hugepages-"))
            or (name.startswith("requests.") and _extended(name[len("requests.") :]))
        )
    return False


def counts(res: Resource, names: Iterable[str]) -> bool:
    """Whether objects of `res` count for any of a quota's resource names."""
    wanted = set(names)
    if count_name(res) in wanted:
        return True
    if res.group != "":
        return False
    if res.kind == "Pod":
        return any(_could_use(res, n) for n in wanted)
    if res.kind == "Service":
        return bool(wanted & {"services", "services.loadbalancers", "services.nodeports"})
    if res.kind == "PersistentVolumeClaim":
        return any(n.endswith(("persistentvolumeclaims", "requests.storage")) for n in wanted)
    return res.plural in wanted


def validate_hard(quota: Obj) -> list[tuple[str, str, str]]:
    """(field, value, detail) for each spec.hard value that is no non-negative quantity."""
    problems = []
    for key, value in ((quota.get("spec") or {}).get("hard") or {}).items():
        try:
            parsed = quantity.parse(value)
        except quantity.Invalid as err:
            problems.append((f"spec.hard[{key}]", str(value), str(err)))
            continue
        if parsed.value < 0:
            problems.append((f"spec.hard[{key}]", str(value), "must be greater than or equal to 0"))
    return problems


def status_for(quota: Obj, used: dict[str, str]) -> Obj:
    hard = {
        k: quantity.normalize(v) for k, v in ((quota.get("spec") or {}).get("hard") or {}).items()
    }
    return {"hard": hard, "used": used}
