"""kube-scheduler, reduced to what suites observe.

Binds each unscheduled pod to a Ready, schedulable node that satisfies nodeName,
nodeSelector, required node affinity, taints/tolerations and the nodes of bound
volumes. PVCs of a WaitForFirstConsumer class get `volume.kubernetes.io/selected-node`
and the pod is bound only once its claims are Bound, as the VolumeBinding plugin does.
"""

from __future__ import annotations

import time

from .client import ApiError, Client
from .events import emit
from .util import Obj, is_terminating, now

SELECTED_NODE = "volume.kubernetes.io/selected-node"


def node_ready(node: Obj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in node.get("status", {}).get("conditions") or []
    )


def tolerates(pod: Obj, node: Obj) -> bool:
    tolerations = pod["spec"].get("tolerations") or []
    for taint in node.get("spec", {}).get("taints") or []:
        if taint.get("effect") not in ("NoSchedule", "NoExecute"):
            continue
        if not any(_tolerates(t, taint) for t in tolerations):
            return False
    return True


def _tolerates(tol: Obj, taint: Obj) -> bool:
    if tol.get("effect") and tol["effect"] != taint.get("effect"):
        return False
    if tol.get("operator") == "Exists":
        return not tol.get("key") or tol["key"] == taint.get("key")
    return tol.get("key") == taint.get("key") and tol.get("value", "") == taint.get("value", "")


def node_affinity_ok(affinity: Obj | None, node: Obj) -> bool:
    """requiredDuringScheduling node affinity / PV nodeAffinity: any term must match."""
    terms = (
        (affinity or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
        or (affinity or {}).get("required")
        or {}
    ).get("nodeSelectorTerms")
    if not terms:
        return True
    labels = dict(node["metadata"].get("labels") or {})
    labels.setdefault("metadata.name", node["metadata"]["name"])
    for term in terms:
        exprs = (term.get("matchExpressions") or []) + (term.get("matchFields") or [])
        if all(_expr_ok(e, labels) for e in exprs):
            return True
    return False


def _expr_ok(expr: Obj, labels: dict[str, str]) -> bool:
    key, op, values = expr["key"], expr["operator"], expr.get("values") or []
    if op == "In":
        return labels.get(key) in values
    if op == "NotIn":
        return labels.get(key) not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    return True


class Scheduler:
    def __init__(self, client: Client) -> None:
        self.client = client
        self._last_warning: dict[str, float] = {}

    def step(self) -> None:
        pods = self.client.list("pods")
        pending = [
            p
            for p in pods
            if not p["spec"].get("nodeName")
            and not is_terminating(p)
            and p.get("status", {}).get("phase", "Pending") == "Pending"
            and p["spec"].get("schedulerName", "default-scheduler") == "default-scheduler"
        ]
        if not pending:
            return
        nodes = self.client.list("nodes")
        load: dict[str, int] = {}
        for p in pods:
            if p["spec"].get("nodeName"):
                load[p["spec"]["nodeName"]] = load.get(p["spec"]["nodeName"], 0) + 1
        for pod in pending:
            self._schedule(pod, nodes, load)

    def _schedule(self, pod: Obj, nodes: list[Obj], load: dict[str, int]) -> None:
        ns = pod["metadata"]["namespace"]
        spec = pod["spec"]
        fits = []
        for node in nodes:
            labels = node["metadata"].get("labels") or {}
            if not node_ready(node) or node.get("spec", {}).get("unschedulable"):
                continue
            if not tolerates(pod, node):
                continue
            if any(labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()):
                continue
            if not node_affinity_ok((spec.get("affinity") or {}).get("nodeAffinity"), node):
                continue
            fits.append(node)
        if not fits:
            return self._fail(
                pod,
                f"0/{len(nodes)} nodes are available: "
                f"{len(nodes)} node(s) didn't match Pod's node affinity/selector.",
            )
        claims = [
            v["persistentVolumeClaim"]["claimName"]
            for v in spec.get("volumes") or []
            if v.get("persistentVolumeClaim")
        ]
        waiting = False
        for claim in claims:
            pvc = self.client.get_or_none("persistentvolumeclaims", claim, ns)
            if pvc is None:
                return self._fail(pod, f'persistentvolumeclaim "{claim}" not found')
            if pvc.get("status", {}).get("phase") == "Bound":
                pv = self.client.get_or_none("persistentvolumes", pvc["spec"].get("volumeName", ""))
                if pv:
                    fits = [n for n in fits if node_affinity_ok(pv["spec"].get("nodeAffinity"), n)]
                continue
            waiting = True
            mode = self._binding_mode(pvc)
            if mode != "WaitForFirstConsumer":
                return self._fail(
                    pod,
                    f"0/{len(nodes)} nodes are available: pod has unbound "
                    "immediate PersistentVolumeClaims.",
                )
            annotations = pvc["metadata"].get("annotations") or {}
            if SELECTED_NODE not in annotations and fits:
                chosen = min(fits, key=lambda n: load.get(n["metadata"]["name"], 0))
                self.client.patch(
                    "persistentvolumeclaims",
                    claim,
                    {"metadata": {"annotations": {SELECTED_NODE: chosen["metadata"]["name"]}}},
                    namespace=ns,
                )
            elif SELECTED_NODE in annotations:
                fits = [n for n in fits if n["metadata"]["name"] == annotations[SELECTED_NODE]]
        if not fits:
            return self._fail(
                pod,
                f"0/{len(nodes)} nodes are available: "
                f"{len(nodes)} node(s) had volume node affinity conflict.",
            )
        if waiting:
            # VolumeBinding PreBind: the pod waits until the provisioner binds its claims.
            return None
        if spec.get("nodeName"):
            return None
        node = min(fits, key=lambda n: load.get(n["metadata"]["name"], 0))
        self._bind(pod, node["metadata"]["name"])
        load[node["metadata"]["name"]] = load.get(node["metadata"]["name"], 0) + 1
        return None

    def _binding_mode(self, pvc: Obj) -> str | None:
        name = pvc["spec"].get("storageClassName")
        if name is None:
            classes = self.client.list("storageclasses")
            default = [
                c
                for c in classes
                if (c["metadata"].get("annotations") or {}).get(
                    "storageclass.kubernetes.io/is-default-class"
                )
                == "true"
            ]
            return default[0].get("volumeBindingMode") if default else None
        sc = self.client.get_or_none("storageclasses", name) if name else None
        return sc.get("volumeBindingMode", "Immediate") if sc else None

    def _bind(self, pod: Obj, node: str) -> None:
        meta = pod["metadata"]
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        }
        try:
            self.client.request(
                "POST",
                f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/binding",
                binding,
            )
        except ApiError as err:
            if err.status not in (404, 405):
                raise
            self.client.patch(
                "pods", meta["name"], {"spec": {"nodeName": node}}, namespace=meta["namespace"]
            )
        self.client.patch(
            "pods",
            meta["name"],
            {
                "status": {
                    "conditions": [
                        {"type": "PodScheduled", "status": "True", "lastTransitionTime": now()}
                    ]
                }
            },
            namespace=meta["namespace"],
            sub="status",
        )
        emit(
            self.client,
            pod,
            "Scheduled",
            f"Successfully assigned {meta['namespace']}/{meta['name']} to {node}",
            component="default-scheduler",
        )

    def _fail(self, pod: Obj, message: str) -> None:
        uid = pod["metadata"]["uid"]
        # Like the scheduler's backoff: one FailedScheduling event per pod per 30 s.
        if time.monotonic() - self._last_warning.get(uid, -1e9) < 30:
            return
        self._last_warning[uid] = time.monotonic()
        self.client.patch(
            "pods",
            pod["metadata"]["name"],
            {
                "status": {
                    "conditions": [
                        {
                            "type": "PodScheduled",
                            "status": "False",
                            "reason": "Unschedulable",
                            "message": message,
                            "lastTransitionTime": now(),
                        }
                    ]
                }
            },
            namespace=pod["metadata"]["namespace"],
            sub="status",
        )
        emit(
            self.client,
            pod,
            "FailedScheduling",
            message,
            type_="Warning",
            component="default-scheduler",
        )
