"""The few kube-controller-manager loops that upstream runs next to the API:
service accounts and root CA per namespace, namespace finalization, and garbage
collection of owned objects. They run in-process against the registry because in
a real distribution they ship in the same binary as the API server; the node side's
controllers (deployments, scheduling, ...) go through HTTP instead.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from . import authz, crds, disruption, quota
from .errors import ApiError
from .fieldmanager import Writer
from .registry import NS, Registry, rkey
from .resources import Resource, get, served

# The controllers' writes, under the name their process gives them upstream.
CONTROLLER = Writer("kube-controller-manager")
STATUS_WRITER = Writer("kube-controller-manager", "status")

log = logging.getLogger("k8s_standin.controllers")
Obj = dict[str, Any]
SA = get("", "v1", "serviceaccounts")
CM = get("", "v1", "configmaps")
# A real serviceaccount controller takes a moment; clients must cope with that race.
SA_DELAY = 0.5


class Controllers:
    def __init__(self, registry: Registry, ca_pem: bytes, stop: threading.Event) -> None:
        self.registry = registry
        self.ca_pem = ca_pem
        self.stop = stop
        self._first_seen: dict[str, float] = {}  # namespace uid -> monotonic time
        self._swept_rv = -1  # the GC sweeps again only after a write
        self._aggregated_rv = -1  # ClusterRoles are aggregated again only after a write
        self._budgeted_rv = -1  # budgets are computed again only after a write
        self._quotas_rv = -1  # quota usage is counted again only after a write

    def start(self) -> None:
        loops = (self._namespaces_loop, self._gc_loop, self._crd_loop, self._pdb_loop)
        for target in (*loops, self._quota_loop):
            threading.Thread(target=target, daemon=True, name=target.__name__).start()

    # -- service accounts, root CA, namespace finalization -------------------
    def _namespaces_loop(self) -> None:
        while not self.stop.wait(0.2):
            try:
                self._sync_namespaces()
            except Exception:
                log.exception("namespace controller")
            try:
                if self.registry.store.rv != self._aggregated_rv:
                    self._aggregated_rv = self.registry.store.rv
                    aggregate_cluster_roles(self.registry)
            except Exception:
                log.exception("clusterrole-aggregation controller")

    def _sync_namespaces(self) -> None:
        namespaces = self.registry.list(NS, None)["items"]
        for ns in namespaces:
            meta = ns["metadata"]
            if meta.get("deletionTimestamp"):
                self._finalize(ns)
                continue
            seen = self._first_seen.setdefault(meta["uid"], time.monotonic())
            if time.monotonic() - seen < SA_DELAY:
                continue
            name = meta["name"]
            if self.registry.find(SA, name, "default") is None:
                self._create(SA, name, {"metadata": {"name": "default"}})
            if self.registry.find(CM, name, "kube-root-ca.crt") is None:
                self._create(
                    CM,
                    name,
                    {
                        "metadata": {"name": "kube-root-ca.crt"},
                        "data": {"ca.crt": self.ca_pem.decode()},
                    },
                )

    def _create(self, res: Resource, ns: str, body: Obj) -> None:
        try:
            self.registry.create(res, ns, body, writer=CONTROLLER)
        except ApiError as err:
            if err.reason not in ("AlreadyExists", "Forbidden", "NotFound"):
                raise

    def _finalize(self, ns: Obj) -> None:
        name = ns["metadata"]["name"]
        remaining = 0
        for res in _by_key().values():
            if not res.namespaced:
                continue
            for obj in self.registry.list(res, name)["items"]:
                remaining += 1
                if obj["metadata"].get("deletionTimestamp"):
                    continue
                try:
                    self.registry.delete(
                        res, name, obj["metadata"]["name"], {"propagationPolicy": "Background"}
                    )
                except ApiError as err:
                    if err.reason != "NotFound":
                        raise
        if remaining:
            return
        finalizers = [f for f in ns.get("spec", {}).get("finalizers") or [] if f != "kubernetes"]
        if finalizers != (ns.get("spec", {}).get("finalizers") or []):
            body = dict(ns, spec=dict(ns.get("spec", {}), finalizers=finalizers))
            self.registry.update(NS, "", name, body, subresource="finalize", writer=CONTROLLER)

    # -- CRD finalization -------------------------------------------------------
    def _crd_loop(self) -> None:
        while not self.stop.wait(0.25):
            try:
                self._finalize_crds()
            except Exception:
                log.exception("crd finalizer")

    def _finalize_crds(self) -> None:
        """apiextensions-apiserver's finalizing controller: a deleted CRD's objects are
        deleted, then its cleanup finalizer is removed (pkg/controller/finalizer)."""
        for crd in self.registry.list(crds.CRDS, None)["items"]:
            meta = crd["metadata"]
            if not meta.get("deletionTimestamp") or crds.CLEANUP_FINALIZER not in (
                meta.get("finalizers") or []
            ):
                continue
            served_by = crds.resources_of(crd)
            remaining = 0
            if served_by:
                res = served_by[0]
                for obj in self.registry.list(res, None)["items"]:
                    remaining += 1
                    if not obj["metadata"].get("deletionTimestamp"):
                        self._delete(res, obj)
            if not remaining:
                self._drop_finalizer(crds.CRDS, crd, crds.CLEANUP_FINALIZER)

    # -- disruption controller ---------------------------------------------------
    def _pdb_loop(self) -> None:
        while not self.stop.wait(0.25):
            try:
                self._sync_budgets()
            except Exception:
                log.exception("disruption controller")

    def _sync_budgets(self) -> None:
        """kube-controller-manager's disruption controller: each budget's status over
        the pods it selects (disruption.py). Evicted pods expire from disruptedPods
        with time, so a budget holding some is computed again without a write."""
        store = self.registry.store
        budgets = self.registry.list(PDBS, None)["items"]
        waiting = any((b.get("status") or {}).get("disruptedPods") for b in budgets)
        if store.rv == self._budgeted_rv and not waiting:
            return
        self._budgeted_rv = store.rv
        pods_by_ns: dict[str, list[Obj]] = {}
        for pdb in budgets:
            meta = pdb["metadata"]
            ns = meta["namespace"]
            if ns not in pods_by_ns:
                pods_by_ns[ns] = self.registry.list(PODS, ns)["items"]
            new = disruption.status(pdb, pods_by_ns[ns], self._scale_of)
            if new == pdb.get("status"):
                continue
            try:
                self.registry.update(
                    PDBS, ns, meta["name"], dict(pdb, status=new), "status", writer=STATUS_WRITER
                )
            except ApiError as err:
                if err.reason not in ("Conflict", "NotFound"):
                    raise

    def _scale_of(self, pod: Obj) -> tuple[str, int] | None:
        """(uid, replicas) of the pod's controller with a scale: a ReplicaSet's
        Deployment, a bare ReplicaSet, or a StatefulSet (the disruption controller's
        finders); None for any other controller."""
        ns = pod["metadata"]["namespace"]
        ref = _controller_ref(pod)
        if ref is None:
            return None
        if ref.get("kind") == "ReplicaSet":
            rs = self.registry.find(REPLICA_SETS, ns, ref.get("name", ""))
            if rs is None or rs["metadata"]["uid"] != ref.get("uid"):
                return None
            owner = _controller_ref(rs)
            if owner is not None and owner.get("kind") == "Deployment":
                dep = self.registry.find(DEPLOYMENTS, ns, owner.get("name", ""))
                if dep is not None and dep["metadata"]["uid"] == owner.get("uid"):
                    return dep["metadata"]["uid"], int(dep.get("spec", {}).get("replicas", 1))
                return None
            return rs["metadata"]["uid"], int(rs.get("spec", {}).get("replicas", 1))
        if ref.get("kind") == "StatefulSet":
            sts = self.registry.find(STATEFUL_SETS, ns, ref.get("name", ""))
            if sts is not None and sts["metadata"]["uid"] == ref.get("uid"):
                return sts["metadata"]["uid"], int(sts.get("spec", {}).get("replicas", 1))
        return None

    # -- resource quota controller -----------------------------------------------
    def _quota_loop(self) -> None:
        while not self.stop.wait(0.25):
            try:
                self._sync_quotas()
            except Exception:
                log.exception("resource quota controller")

    def _sync_quotas(self) -> None:
        """kube-controller-manager's resource quota controller: status.hard from the
        spec and status.used counted from the namespace's objects, so that deletions
        give quota back. Counted and written under the store's lock, so a create the
        admission plugin charged meanwhile is never counted away."""
        store = self.registry.store
        if store.rv == self._quotas_rv:
            return
        with store.lock:
            self._quotas_rv = store.rv
            for rq in self.registry.list(QUOTAS, None)["items"]:
                meta = rq["metadata"]
                hard = sorted((rq.get("spec") or {}).get("hard") or {})
                used = self.registry.quota_usage(meta["namespace"], hard)
                new = quota.status_for(rq, used)
                if new == rq.get("status"):
                    continue
                self.registry.update(
                    QUOTAS,
                    meta["namespace"],
                    meta["name"],
                    dict(rq, status=new),
                    "status",
                    writer=STATUS_WRITER,
                )
            self._quotas_rv = store.rv

    # -- garbage collector -------------------------------------------------
    def _gc_loop(self) -> None:
        while not self.stop.wait(0.25):
            try:
                self._collect()
            except Exception:
                log.exception("garbage collector")

    def _collect(self) -> None:
        """Full sweep: cheap at test scale, and it needs no state across restarts."""
        store = self.registry.store
        if store.rv == self._swept_rv:
            return
        self._swept_rv = store.rv
        by_key = _by_key()
        objects = [(by_key[key], obj) for key, obj in store.snapshot() if key in by_key]
        uids = {o["metadata"]["uid"]: (r, o) for r, o in objects}
        dependents: dict[str, list[tuple[Resource, Obj]]] = {}
        for res, obj in objects:
            for ref in obj["metadata"].get("ownerReferences") or []:
                dependents.setdefault(ref.get("uid", ""), []).append((res, obj))
        # Dependents whose owners are all gone go away (background propagation).
        for res, obj in objects:
            refs = obj["metadata"].get("ownerReferences") or []
            orphaned = refs and not any(r.get("uid") in uids for r in refs)
            if orphaned and not obj["metadata"].get("deletionTimestamp"):
                self._delete(res, obj)
        # Owners waiting on foregroundDeletion / orphan finalizers.
        for uid, (res, owner) in uids.items():
            meta = owner["metadata"]
            finalizers = meta.get("finalizers") or []
            if not meta.get("deletionTimestamp"):
                continue
            deps = dependents.get(uid, [])
            if "orphan" in finalizers:
                for dep_res, dep in deps:
                    self._orphan(dep_res, dep, uid)
                self._drop_finalizer(res, owner, "orphan")
            elif "foregroundDeletion" in finalizers:
                if deps:
                    for dep_res, dep in deps:
                        if not dep["metadata"].get("deletionTimestamp"):
                            self._delete(dep_res, dep, "Foreground")
                else:
                    self._drop_finalizer(res, owner, "foregroundDeletion")

    def _delete(self, res: Resource, obj: Obj, policy: str = "Background") -> None:
        meta = obj["metadata"]
        try:
            self.registry.delete(
                res,
                meta.get("namespace", ""),
                meta["name"],
                {"propagationPolicy": policy, "preconditions": {"uid": meta["uid"]}},
            )
        except ApiError as err:
            if err.reason not in ("NotFound", "Conflict"):
                raise

    def _orphan(self, res: Resource, obj: Obj, owner_uid: str) -> None:
        meta = obj["metadata"]
        refs = [r for r in meta.get("ownerReferences") or [] if r.get("uid") != owner_uid]
        patch = {"metadata": {"ownerReferences": refs or None}}
        self.registry.patch(
            res,
            meta.get("namespace", ""),
            meta["name"],
            "application/merge-patch+json",
            patch,
            writer=CONTROLLER,
        )

    def _drop_finalizer(self, res: Resource, obj: Obj, finalizer: str) -> None:
        meta = obj["metadata"]
        kept = [f for f in meta.get("finalizers") or [] if f != finalizer]
        try:
            self.registry.patch(
                res,
                meta.get("namespace", ""),
                meta["name"],
                "application/merge-patch+json",
                {"metadata": {"finalizers": kept or None}},
                writer=CONTROLLER,
            )
        except ApiError as err:
            if err.reason != "NotFound":
                raise


def _by_key() -> dict[str, Resource]:
    """Each stored kind's resource, one per "<group>/<plural>" (a CRD's versions share
    their objects; the first served version stands for them)."""
    found: dict[str, Resource] = {}
    for res in served():
        found.setdefault(rkey(res), res)
    return found


def _controller_ref(obj: Obj) -> Obj | None:
    refs = obj["metadata"].get("ownerReferences") or []
    return next((r for r in refs if r.get("controller")), None)


PDBS = get("policy", "v1", "poddisruptionbudgets")
QUOTAS = get("", "v1", "resourcequotas")
PODS = get("", "v1", "pods")
REPLICA_SETS = get("apps", "v1", "replicasets")
DEPLOYMENTS = get("apps", "v1", "deployments")
STATEFUL_SETS = get("apps", "v1", "statefulsets")
CLUSTER_ROLES = get("rbac.authorization.k8s.io", "v1", "clusterroles")


def aggregate_cluster_roles(registry: Registry) -> None:
    """kube-controller-manager's clusterrole-aggregation controller: an aggregated
    ClusterRole's rules are the union of the rules of the roles its selectors match."""
    roles = registry.list(CLUSTER_ROLES, None)["items"]
    by_name = {r["metadata"]["name"]: r for r in roles}
    for name, rules in authz.aggregate(roles).items():
        role = by_name[name]
        if (role.get("rules") or []) == rules:
            continue
        try:
            registry.update(CLUSTER_ROLES, "", name, dict(role, rules=rules), writer=CONTROLLER)
        except ApiError as err:
            if err.reason not in ("Conflict", "NotFound"):
                raise
