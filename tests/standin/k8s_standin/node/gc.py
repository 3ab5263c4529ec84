"""Garbage collector: delete dependents whose controller owner no longer exists.

Background cascading deletion as kube-controller-manager's garbage collector does
it; namespaced dependents can only name owners in their own namespace.
"""

from __future__ import annotations

from .client import Client

OWNER_KINDS = ("deployments", "replicasets", "daemonsets", "services", "persistentvolumeclaims")
KNOWN_OWNERS = ("Deployment", "ReplicaSet", "DaemonSet", "Service", "PersistentVolumeClaim")
DEPENDENT_KINDS = ("replicasets", "pods", "endpointslices")


class GarbageCollector:
    def __init__(self, client: Client) -> None:
        self.client = client

    def step(self) -> None:
        alive: set[str] = set()
        for kind in OWNER_KINDS:
            alive.update(o["metadata"]["uid"] for o in self.client.list(kind)
                         if not o["metadata"].get("deletionTimestamp"))
        for kind in DEPENDENT_KINDS:
            for obj in self.client.list(kind):
                refs = obj["metadata"].get("ownerReferences") or []
                orphan = refs and not any(r.get("uid") in alive for r in refs) \
                    and not obj["metadata"].get("deletionTimestamp")
                # Only owners this collector lists; others may live in unknown resources.
                if orphan and all(r.get("kind") in KNOWN_OWNERS for r in refs):
                    self.client.delete(kind, obj["metadata"]["name"],
                                       obj["metadata"]["namespace"])
