"""Deployment, ReplicaSet and DaemonSet controllers (kube-controller-manager).

Level-triggered: each pass lists objects and converges counts and status. Pods and
ReplicaSets carry controller ownerReferences so the garbage collector and clients
(`kubectl rollout status`, suites walking owners) see the real object graph.
"""

from __future__ import annotations

import copy

from .client import ApiError, Client
from .events import emit
from .scheduler import node_affinity_ok, tolerates
from .util import Obj, controller_of, is_terminating, now, pod_ready, stable_hash, suffix

ACTIVE_PHASES = ("Pending", "Running", "Unknown")


def _active(pod: Obj) -> bool:
    return (
        not is_terminating(pod) and pod.get("status", {}).get("phase", "Pending") in ACTIVE_PHASES
    )


def _owned(objs: list[Obj], owner: Obj) -> list[Obj]:
    uid = owner["metadata"]["uid"]
    return [o for o in objs if (controller_of(o) or {}).get("uid") == uid]


def _set_status(client: Client, resource: str, obj: Obj, status: Obj) -> None:
    """Write status only when it changed: needless writes churn resourceVersions."""
    current = obj.get("status") or {}
    # The API may omit zero counts; 0 and absent mean the same here.
    if all(
        (current.get(k) or 0) == (v or 0) for k, v in status.items() if k != "conditions"
    ) and _same_conditions(current.get("conditions"), status.get("conditions")):
        return
    client.patch(
        resource,
        obj["metadata"]["name"],
        {"status": status},
        namespace=obj["metadata"]["namespace"],
        sub="status",
    )


def _same_conditions(old: list[Obj] | None, new: list[Obj] | None) -> bool:
    if new is None:
        return True
    key = [(c["type"], c["status"], c.get("reason")) for c in old or []]
    return key == [(c["type"], c["status"], c.get("reason")) for c in new]


def _conditions(old: list[Obj] | None, wanted: list[tuple[str, str, str, str]]) -> list[Obj]:
    """Keep lastTransitionTime when a condition's status did not change."""
    previous = {c["type"]: c for c in old or []}
    out = []
    for type_, status, reason, message in wanted:
        prev = previous.get(type_)
        stamp = (
            prev["lastTransitionTime"]
            if prev and prev.get("status") == status and prev.get("lastTransitionTime")
            else now()
        )
        out.append(
            {
                "type": type_,
                "status": status,
                "reason": reason,
                "message": message,
                "lastTransitionTime": stamp,
                "lastUpdateTime": now()
                if not prev or prev.get("status") != status
                else prev.get("lastUpdateTime", stamp),
            }
        )
    return out


def new_pod(owner: Obj, template: Obj, name: str, extra_labels: dict[str, str]) -> Obj:
    meta = copy.deepcopy(template.get("metadata") or {})
    meta["name"] = name
    meta["namespace"] = owner["metadata"]["namespace"]
    meta["labels"] = {**(meta.get("labels") or {}), **extra_labels}
    meta["ownerReferences"] = [
        {
            "apiVersion": "apps/v1",
            "kind": owner["kind"],
            "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    meta.pop("creationTimestamp", None)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": copy.deepcopy(template.get("spec") or {}),
    }


class DeploymentController:
    def __init__(self, client: Client) -> None:
        self.client = client

    def step(self) -> None:
        deployments = self.client.list("deployments")
        replicasets = self.client.list("replicasets")
        for dep in deployments:
            dep.setdefault("kind", "Deployment")
            if not is_terminating(dep):
                self._sync(dep, _owned(replicasets, dep))

    def _sync(self, dep: Obj, owned: list[Obj]) -> None:
        meta, spec = dep["metadata"], dep["spec"]
        ns = meta["namespace"]
        desired = spec.get("replicas", 1)
        template = spec["template"]
        tmpl_hash = stable_hash(template)
        name = f"{meta['name']}-{tmpl_hash}"
        current = next((rs for rs in owned if rs["metadata"]["name"] == name), None)
        if current is None:
            rs_template = copy.deepcopy(template)
            rs_template.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = (
                tmpl_hash
            )
            selector = copy.deepcopy(spec["selector"])
            selector.setdefault("matchLabels", {})["pod-template-hash"] = tmpl_hash
            rs = {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": name,
                    "namespace": ns,
                    "labels": {
                        **(template.get("metadata", {}).get("labels") or {}),
                        "pod-template-hash": tmpl_hash,
                    },
                    "annotations": {
                        "deployment.kubernetes.io/desired-replicas": str(desired),
                        "deployment.kubernetes.io/revision": str(len(owned) + 1),
                    },
                    "ownerReferences": [
                        {
                            "apiVersion": "apps/v1",
                            "kind": "Deployment",
                            "name": meta["name"],
                            "uid": meta["uid"],
                            "controller": True,
                            "blockOwnerDeletion": True,
                        }
                    ],
                },
                "spec": {"replicas": desired, "selector": selector, "template": rs_template},
            }
            try:
                current = self.client.create("replicasets", rs, ns)
            except ApiError as err:
                if err.status != 409:
                    raise
                return
            emit(
                self.client,
                dep,
                "ScalingReplicaSet",
                f"Scaled up replica set {name} from 0 to {desired}",
                component="deployment-controller",
            )
        elif current["spec"].get("replicas") != desired:
            self.client.patch("replicasets", name, {"spec": {"replicas": desired}}, namespace=ns)
        new_ready = current.get("status", {}).get("readyReplicas", 0)
        old = [rs for rs in owned if rs["metadata"]["name"] != name]
        # Rolling update kept simple: old ReplicaSets shrink as new pods become ready;
        # Recreate drops them at once.
        recreate = (spec.get("strategy") or {}).get("type") == "Recreate"
        budget = 0 if recreate else max(0, desired - new_ready)
        for rs in old:
            want = min(rs["spec"].get("replicas", 0), budget)
            budget -= want
            if rs["spec"].get("replicas", 0) != want:
                self.client.patch(
                    "replicasets",
                    rs["metadata"]["name"],
                    {"spec": {"replicas": want}},
                    namespace=ns,
                )
        everything = [current, *old]
        total = sum(rs.get("status", {}).get("replicas", 0) for rs in everything)
        ready = sum(rs.get("status", {}).get("readyReplicas", 0) for rs in everything)
        available = sum(rs.get("status", {}).get("availableReplicas", 0) for rs in everything)
        updated = current.get("status", {}).get("replicas", 0)
        complete = updated == desired and total == desired and available >= desired
        status = {
            "observedGeneration": meta.get("generation", 1),
            "replicas": total,
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": available,
            "unavailableReplicas": max(0, desired - available),
            "conditions": _conditions(
                dep.get("status", {}).get("conditions"),
                [
                    (
                        "Available",
                        "True" if available >= desired else "False",
                        "MinimumReplicasAvailable"
                        if available >= desired
                        else "MinimumReplicasUnavailable",
                        "Deployment has minimum availability."
                        if available >= desired
                        else "Deployment does not have minimum availability.",
                    ),
                    (
                        "Progressing",
                        "True",
                        "NewReplicaSetAvailable" if complete else "ReplicaSetUpdated",
                        f'ReplicaSet "{name}" has successfully progressed.'
                        if complete
                        else f'ReplicaSet "{name}" is progressing.',
                    ),
                ],
            ),
        }
        _set_status(self.client, "deployments", dep, status)


class ReplicaSetController:
    def __init__(self, client: Client) -> None:
        self.client = client

    def step(self) -> None:
        pods = self.client.list("pods")
        for rs in self.client.list("replicasets"):
            rs.setdefault("kind", "ReplicaSet")
            if not is_terminating(rs):
                self._sync(rs, _owned(pods, rs))

    def _sync(self, rs: Obj, pods: list[Obj]) -> None:
        meta = rs["metadata"]
        ns = meta["namespace"]
        desired = rs["spec"].get("replicas", 1)
        active = [p for p in pods if _active(p)]
        if len(active) < desired:
            for _ in range(desired - len(active)):
                pod = new_pod(rs, rs["spec"]["template"], f"{meta['name']}-{suffix()}", {})
                created = self.client.create("pods", pod, ns)
                emit(
                    self.client,
                    rs,
                    "SuccessfulCreate",
                    f"Created pod: {created['metadata']['name']}",
                    component="replicaset-controller",
                )
        elif len(active) > desired:
            # Delete the least useful first: unscheduled, then not ready, then newest.
            victims = sorted(
                active,
                key=lambda p: (
                    bool(p["spec"].get("nodeName")),
                    pod_ready(p),
                    p["metadata"].get("creationTimestamp", ""),
                ),
            )[: len(active) - desired]
            for pod in victims:
                self.client.delete("pods", pod["metadata"]["name"], ns)
                emit(
                    self.client,
                    rs,
                    "SuccessfulDelete",
                    f"Deleted pod: {pod['metadata']['name']}",
                    component="replicaset-controller",
                )
        ready = sum(1 for p in active if pod_ready(p))
        labels = (rs["spec"]["template"].get("metadata") or {}).get("labels") or {}
        status = {
            "replicas": len(active),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "fullyLabeledReplicas": sum(
                1
                for p in active
                if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in labels.items())
            ),
            "observedGeneration": meta.get("generation", 1),
        }
        _set_status(self.client, "replicasets", rs, status)


class DaemonSetController:
    def __init__(self, client: Client) -> None:
        self.client = client

    def step(self) -> None:
        pods = self.client.list("pods")
        nodes = self.client.list("nodes")
        for ds in self.client.list("daemonsets"):
            ds.setdefault("kind", "DaemonSet")
            if not is_terminating(ds):
                self._sync(ds, _owned(pods, ds), nodes)

    def _eligible(self, ds: Obj, node: Obj) -> bool:
        spec = ds["spec"]["template"].get("spec") or {}
        labels = node["metadata"].get("labels") or {}
        # DaemonSet pods tolerate the node lifecycle taints automatically.
        pod = {
            "spec": {
                "tolerations": [
                    *(spec.get("tolerations") or []),
                    {"key": "node.kubernetes.io/not-ready", "operator": "Exists"},
                    {"key": "node.kubernetes.io/unreachable", "operator": "Exists"},
                ]
            }
        }
        return (
            tolerates(pod, node)
            and all(labels.get(k) == v for k, v in (spec.get("nodeSelector") or {}).items())
            and node_affinity_ok((spec.get("affinity") or {}).get("nodeAffinity"), node)
        )

    def _sync(self, ds: Obj, pods: list[Obj], nodes: list[Obj]) -> None:
        meta = ds["metadata"]
        ns = meta["namespace"]
        revision = stable_hash(ds["spec"]["template"])
        eligible = [n for n in nodes if self._eligible(ds, n)]
        names = {n["metadata"]["name"] for n in eligible}
        by_node: dict[str, list[Obj]] = {}
        for pod in pods:
            if is_terminating(pod):
                continue
            node = pod["spec"].get("nodeName", "")
            stale = (pod["metadata"].get("labels") or {}).get(
                "controller-revision-hash"
            ) != revision
            failed = pod.get("status", {}).get("phase") in ("Failed", "Succeeded")
            if node not in names or stale or failed:
                self.client.delete("pods", pod["metadata"]["name"], ns)
                continue
            by_node.setdefault(node, []).append(pod)
        for node in eligible:
            name = node["metadata"]["name"]
            if by_node.get(name):
                continue
            pod = new_pod(
                ds,
                ds["spec"]["template"],
                f"{meta['name']}-{suffix()}",
                {
                    "controller-revision-hash": revision,
                    "pod-template-generation": str(meta.get("generation", 1)),
                },
            )
            # The DaemonSet controller pins pods to their node (what the scheduler would pick).
            pod["spec"]["nodeName"] = name
            created = self.client.create("pods", pod, ns)
            emit(
                self.client,
                ds,
                "SuccessfulCreate",
                f"Created pod: {created['metadata']['name']}",
                component="daemonset-controller",
            )
        current = [p for ps in by_node.values() for p in ps]
        ready = sum(1 for p in current if pod_ready(p))
        status = {
            "desiredNumberScheduled": len(eligible),
            "currentNumberScheduled": len(by_node),
            "numberMisscheduled": 0,
            "numberReady": ready,
            "numberAvailable": ready,
            "updatedNumberScheduled": len(current),
            "numberUnavailable": max(0, len(eligible) - ready),
            "observedGeneration": meta.get("generation", 1),
        }
        _set_status(self.client, "daemonsets", ds, status)
