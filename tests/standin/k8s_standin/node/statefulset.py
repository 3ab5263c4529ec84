"""The StatefulSet controller (pkg/controller/statefulset: stateful_set_control.go
updateStatefulSet, stateful_set_utils.go newStatefulSetPod, getPersistentVolumeClaims).

- Pods are `<set>-<ordinal>` (from `spec.ordinals.start`, default 0) with the labels
  `statefulset.kubernetes.io/pod-name`, `apps.kubernetes.io/pod-index` and
  `controller-revision-hash` (the ControllerRevision's name, `<set>-<hash>`), and
  `hostname` = the pod's name, `subdomain` = `serviceName` (updateIdentity), so a
  headless Service of that name gives each a stable DNS name.
- Each `volumeClaimTemplate` becomes the claim `<template>-<pod>` (labels: the
  template's plus the selector's), created before the pod if missing and never
  replaced while it exists, so a re-created pod gets its claim, and its data, back.
  The claim has no class when the template names none: the API's DefaultStorageClass
  admission gives it the default one, or it stays Pending without one.
- OrderedReady creates ordinals in order, each once the previous is Running and
  Ready, deletes from the highest down, one at a time, only while the rest are
  healthy; Parallel creates and deletes without waiting. A Failed or Succeeded pod is
  deleted and re-created. RollingUpdate replaces pods of another revision from the
  highest ordinal down to `partition`, one at a time; OnDelete leaves them.
- `persistentVolumeClaimRetentionPolicy`: with `whenDeleted: Delete` claims are owned
  by the set (the garbage collector deletes them with it); with `whenScaled: Delete`
  a condemned pod's claims are given to the pod before it is deleted.
- Status: replicas, readyReplicas, availableReplicas (`minReadySeconds`),
  currentReplicas/updatedReplicas and currentRevision/updateRevision,
  observedGeneration, collisionCount.

Fault: `STANDIN_STATEFULSET_NEW_VOLUMES` gives a re-created pod a new claim
(`<template>-<pod>-<random>`) instead of its own, losing its data.
"""

from __future__ import annotations

import copy
import time

from .client import ApiError, Client
from .events import emit
from .util import Obj, controller_of, is_terminating, parse_time, pod_ready, stable_hash, suffix

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
REVISION_LABEL = "controller-revision-hash"
HASH_LABEL = "controller.kubernetes.io/hash"


def _owned(objs: list[Obj], owner: Obj) -> list[Obj]:
    uid = owner["metadata"]["uid"]
    return [o for o in objs if (controller_of(o) or {}).get("uid") == uid]


def _ordinal(name: str, set_name: str) -> int | None:
    prefix, _, tail = name.rpartition("-")
    return int(tail) if prefix == set_name and tail.isdigit() else None


def _running_ready(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and pod_ready(pod)


def _available(pod: Obj, min_ready: int) -> bool:
    if not _running_ready(pod):
        return False
    if not min_ready:
        return True
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return time.time() - parse_time(cond.get("lastTransitionTime")) >= min_ready
    return False


class StatefulSetController:
    def __init__(self, client: Client, new_volumes: bool = False) -> None:
        self.client = client
        self.new_volumes = new_volumes

    def step(self) -> None:
        pods = self.client.list("pods")
        claims = self.client.list("persistentvolumeclaims")
        revisions = self.client.list("controllerrevisions")
        for sts in self.client.list("statefulsets"):
            sts.setdefault("kind", "StatefulSet")
            sts.setdefault("apiVersion", "apps/v1")
            if is_terminating(sts):
                continue
            ns = sts["metadata"]["namespace"]
            try:
                self._sync(
                    sts,
                    _owned(pods, sts),
                    {c["metadata"]["name"]: c for c in claims if c["metadata"]["namespace"] == ns},
                    _owned(revisions, sts),
                )
            except ApiError as err:
                if err.status not in (404, 409):
                    raise

    # -- revisions ----------------------------------------------------------------
    def _revision(self, sts: Obj, revisions: list[Obj], live: set[str]) -> str:
        """The ControllerRevision of the current template, created when missing."""
        meta, spec = sts["metadata"], sts["spec"]
        digest = stable_hash(spec["template"])
        name = f"{meta['name']}-{digest}"
        if any(r["metadata"]["name"] == name for r in revisions):
            return name
        number = max((int(r.get("revision", 0)) for r in revisions), default=0) + 1
        revision = {
            "apiVersion": "apps/v1",
            "kind": "ControllerRevision",
            "metadata": {
                "name": name,
                "namespace": meta["namespace"],
                "labels": {**(spec["selector"].get("matchLabels") or {}), HASH_LABEL: digest},
                "ownerReferences": [self._owner(sts)],
            },
            "data": {"spec": {"template": {**spec["template"], "$patch": "replace"}}},
            "revision": number,
        }
        try:
            self.client.create("controllerrevisions", revision, meta["namespace"])
        except ApiError as err:
            if err.status != 409:
                raise
        # truncateHistory: beyond revisionHistoryLimit, revisions no pod uses go, oldest
        # first.
        history = sorted(
            (r for r in revisions if r["metadata"]["name"] not in live | {name}),
            key=lambda r: int(r.get("revision", 0)),
        )
        excess = len(history) - spec.get("revisionHistoryLimit", 10)
        for stale in history[: max(0, excess)]:
            self.client.delete("controllerrevisions", stale["metadata"]["name"], meta["namespace"])
        return name

    @staticmethod
    def _owner(sts: Obj) -> Obj:
        return {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "name": sts["metadata"]["name"],
            "uid": sts["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }

    # -- claims -----------------------------------------------------------------------
    def _claim_name(self, template: Obj, pod_name: str) -> str:
        return f"{template['metadata']['name']}-{pod_name}"

    def _ensure_claims(self, sts: Obj, pod_name: str, claims: dict[str, Obj]) -> dict[str, str]:
        """Template name -> the claim the pod mounts, each created when missing."""
        spec = sts["spec"]
        ns = sts["metadata"]["namespace"]
        chosen: dict[str, str] = {}
        for template in spec.get("volumeClaimTemplates") or []:
            name = self._claim_name(template, pod_name)
            if self.new_volumes and name in claims:
                name = f"{name}-{suffix()}"  # the fault: a fresh claim for a re-created pod
            chosen[template["metadata"]["name"]] = name
            if name in claims:
                continue
            claim = copy.deepcopy(template)
            claim.pop("status", None)
            cmeta = claim.setdefault("metadata", {})
            cmeta.pop("creationTimestamp", None)
            cmeta["name"] = name
            cmeta["labels"] = {
                **(cmeta.get("labels") or {}),
                **(spec["selector"].get("matchLabels") or {}),
            }
            retention = spec.get("persistentVolumeClaimRetentionPolicy") or {}
            if retention.get("whenDeleted") == "Delete":
                cmeta["ownerReferences"] = [{**self._owner(sts), "controller": False}]
            try:
                claims[name] = self.client.create("persistentvolumeclaims", claim, ns)
            except ApiError as err:
                if err.status != 409:
                    raise
            emit(
                self.client,
                sts,
                "SuccessfulCreate",
                f"create Claim {name} Pod {pod_name} in StatefulSet "
                f"{sts['metadata']['name']} success",
                component="statefulset-controller",
            )
        return chosen

    # -- pods ---------------------------------------------------------------------------
    def _new_pod(self, sts: Obj, ordinal: int, revision: str, volumes: dict[str, str]) -> Obj:
        meta, spec = sts["metadata"], sts["spec"]
        name = f"{meta['name']}-{ordinal}"
        template = copy.deepcopy(spec["template"])
        pmeta = template.get("metadata") or {}
        pmeta.pop("creationTimestamp", None)
        pmeta["name"] = name
        pmeta["labels"] = {
            **(pmeta.get("labels") or {}),
            POD_NAME_LABEL: name,
            POD_INDEX_LABEL: str(ordinal),
            REVISION_LABEL: revision,
        }
        pmeta["ownerReferences"] = [self._owner(sts)]
        pod_spec = template["spec"]
        pod_spec["hostname"] = name
        if spec.get("serviceName"):
            pod_spec["subdomain"] = spec["serviceName"]
        mounted = [v for v in pod_spec.get("volumes") or [] if v.get("name") not in volumes]
        mounted += [
            {"name": volume, "persistentVolumeClaim": {"claimName": claim}}
            for volume, claim in volumes.items()
        ]
        if mounted:
            pod_spec["volumes"] = mounted
        return {"apiVersion": "v1", "kind": "Pod", "metadata": pmeta, "spec": pod_spec}

    def _create(self, sts: Obj, ordinal: int, revision: str, claims: dict[str, Obj]) -> Obj:
        name = f"{sts['metadata']['name']}-{ordinal}"
        volumes = self._ensure_claims(sts, name, claims)
        pod = self.client.create(
            "pods", self._new_pod(sts, ordinal, revision, volumes), sts["metadata"]["namespace"]
        )
        emit(
            self.client,
            sts,
            "SuccessfulCreate",
            f"create Pod {name} in StatefulSet {sts['metadata']['name']} successful",
            component="statefulset-controller",
        )
        return pod

    def _delete(self, sts: Obj, pod: Obj, condemned: bool = False) -> None:
        ns = sts["metadata"]["namespace"]
        name = pod["metadata"]["name"]
        retention = sts["spec"].get("persistentVolumeClaimRetentionPolicy") or {}
        if condemned and retention.get("whenScaled") == "Delete":
            for template in sts["spec"].get("volumeClaimTemplates") or []:
                claim = self._claim_name(template, name)
                owner = {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "name": name,
                    "uid": pod["metadata"]["uid"],
                    "controller": False,
                    "blockOwnerDeletion": True,
                }
                try:
                    self.client.patch(
                        "persistentvolumeclaims",
                        claim,
                        {"metadata": {"ownerReferences": [owner]}},
                        namespace=ns,
                    )
                except ApiError as err:
                    if err.status != 404:
                        raise
        self.client.delete("pods", name, ns)
        emit(
            self.client,
            sts,
            "SuccessfulDelete",
            f"delete Pod {name} in StatefulSet {sts['metadata']['name']} successful",
            component="statefulset-controller",
        )

    def _sync(self, sts: Obj, pods: list[Obj], claims: dict[str, Obj], revs: list[Obj]) -> None:
        meta, spec = sts["metadata"], sts["spec"]
        set_name = meta["name"]
        replicas = spec.get("replicas", 1)
        start = (spec.get("ordinals") or {}).get("start", 0)
        parallel = spec.get("podManagementPolicy") == "Parallel"
        live = {(p["metadata"].get("labels") or {}).get(REVISION_LABEL, "") for p in pods}
        live.add((sts.get("status") or {}).get("currentRevision") or "")
        update_revision = self._revision(sts, revs, live)
        by_ordinal: dict[int, Obj] = {}
        for pod in pods:
            ordinal = _ordinal(pod["metadata"]["name"], set_name)
            if ordinal is not None:
                by_ordinal[ordinal] = pod
        wanted = range(start, start + replicas)
        blocked = False
        for ordinal in wanted:
            pod = by_ordinal.get(ordinal)
            if pod is None:
                by_ordinal[ordinal] = self._create(sts, ordinal, update_revision, claims)
                blocked = True
                if not parallel:
                    break
                continue
            phase = (pod.get("status") or {}).get("phase")
            if phase in ("Failed", "Succeeded") and not is_terminating(pod):
                self._delete(sts, pod)
                blocked = True
                if not parallel:
                    break
                continue
            if not is_terminating(pod):
                # A claim deleted under a pod is made again (createMissingPersistentVolumeClaims).
                for template in spec.get("volumeClaimTemplates") or []:
                    claim = self._claim_name(template, pod["metadata"]["name"])
                    mounted = [
                        (v.get("persistentVolumeClaim") or {}).get("claimName")
                        for v in pod["spec"].get("volumes") or []
                    ]
                    if claim in mounted and claim not in claims:
                        self._ensure_claims(sts, pod["metadata"]["name"], claims)
            if not _running_ready(pod) or is_terminating(pod):
                blocked = True
                if not parallel:
                    break
        condemned = sorted((o for o in by_ordinal if o not in wanted), reverse=True)
        for ordinal in condemned:
            pod = by_ordinal[ordinal]
            if is_terminating(pod):
                if not parallel:
                    break
                continue
            if not parallel and blocked:
                break
            self._delete(sts, pod, condemned=True)
            if not parallel:
                break
        strategy = spec.get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") == "RollingUpdate" and not blocked:
            partition = (strategy.get("rollingUpdate") or {}).get("partition", 0)
            current = [by_ordinal[o] for o in wanted if o in by_ordinal]
            if all(_running_ready(p) and not is_terminating(p) for p in current):
                for ordinal in sorted((o for o in wanted if o >= start + partition), reverse=True):
                    pod = by_ordinal.get(ordinal)
                    labels = (pod or {}).get("metadata", {}).get("labels") or {}
                    if pod is not None and labels.get(REVISION_LABEL) != update_revision:
                        self._delete(sts, pod)
                        break
        self._status(sts, list(by_ordinal.values()), update_revision)

    def _status(self, sts: Obj, pods: list[Obj], update_revision: str) -> None:
        spec = sts["spec"]
        old = sts.get("status") or {}
        current_revision = old.get("currentRevision") or update_revision
        min_ready = spec.get("minReadySeconds", 0)
        counts = {"replicas": 0, "ready": 0, "available": 0, "current": 0, "updated": 0}
        for pod in pods:
            counts["replicas"] += 1
            if _running_ready(pod):
                counts["ready"] += 1
                counts["available"] += _available(pod, min_ready)
            if not is_terminating(pod):
                revision = (pod["metadata"].get("labels") or {}).get(REVISION_LABEL)
                counts["current"] += revision == current_revision
                counts["updated"] += revision == update_revision
        replicas = spec.get("replicas", 1)
        if counts["updated"] == replicas and counts["ready"] >= replicas:
            # completeRollingUpdate: the update revision becomes the current one.
            current_revision, counts["current"] = update_revision, counts["updated"]
        status = {
            "observedGeneration": sts["metadata"].get("generation", 1),
            "replicas": counts["replicas"],
            "readyReplicas": counts["ready"],
            "availableReplicas": counts["available"],
            "currentReplicas": counts["current"],
            "updatedReplicas": counts["updated"],
            "currentRevision": current_revision,
            "updateRevision": update_revision,
            "collisionCount": old.get("collisionCount", 0),
        }
        if all(old.get(k) == v or (not old.get(k) and not v) for k, v in status.items()):
            return
        self.client.patch(
            "statefulsets",
            sts["metadata"]["name"],
            {"status": status},
            namespace=sts["metadata"]["namespace"],
            sub="status",
        )
