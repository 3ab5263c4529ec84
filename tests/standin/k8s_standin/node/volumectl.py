"""PersistentVolume controller (kube-controller-manager): binds claims to volumes.

Binds a Pending claim to the PV whose claimRef names it (dynamic provisioning) or
to a matching Available PV (static), marks volumes Released when their claim is
gone, and announces WaitForFirstConsumer / ExternalProvisioning on claims the way
the upstream controller does. Deleting released dynamic volumes is the
provisioner's job (reclaimPolicy Delete).
"""

from __future__ import annotations

import time

from .client import Client
from .events import emit
from .util import Obj, now

SELECTED_NODE = "volume.kubernetes.io/selected-node"


def _quantity(value: str | None) -> float:
    if not value:
        return 0.0
    units = {
        "Ki": 2**10,
        "Mi": 2**20,
        "Gi": 2**30,
        "Ti": 2**40,
        "k": 1e3,
        "M": 1e6,
        "G": 1e9,
        "T": 1e12,
    }
    for suffix, factor in units.items():
        if value.endswith(suffix):
            return float(value[: -len(suffix)]) * factor
    return float(value)


class VolumeBinder:
    def __init__(self, client: Client) -> None:
        self.client = client
        self._announced: dict[tuple[str, str], float] = {}

    def step(self) -> None:
        claims = self.client.list("persistentvolumeclaims")
        volumes = self.client.list("persistentvolumes")
        classes = {c["metadata"]["name"]: c for c in self.client.list("storageclasses")}
        uids = {c["metadata"]["uid"] for c in claims}
        for pv in volumes:
            ref = pv["spec"].get("claimRef") or {}
            phase = pv.get("status", {}).get("phase")
            if ref.get("uid") and ref["uid"] not in uids and phase == "Bound":
                self._pv_status(pv, "Released")
            elif not ref and phase != "Available":
                self._pv_status(pv, "Available")
        for pvc in claims:
            if pvc.get("status", {}).get("phase") == "Bound" or pvc["metadata"].get(
                "deletionTimestamp"
            ):
                continue
            self._sync_claim(pvc, volumes, classes)

    def _sync_claim(self, pvc: Obj, volumes: list[Obj], classes: dict[str, Obj]) -> None:
        meta = pvc["metadata"]
        uid = meta["uid"]
        mine = [
            pv
            for pv in volumes
            if (pv["spec"].get("claimRef") or {}).get("uid") == uid
            or pv["metadata"]["name"] == pvc["spec"].get("volumeName")
        ]
        if mine:
            self._bind(pvc, mine[0])
            return
        cls_name = pvc["spec"].get("storageClassName") or ""
        sc = classes.get(cls_name)
        static = [
            pv
            for pv in volumes
            if not pv["spec"].get("claimRef")
            and pv["spec"].get("storageClassName", "") == cls_name
            and _quantity(pv["spec"].get("capacity", {}).get("storage"))
            >= _quantity(pvc["spec"].get("resources", {}).get("requests", {}).get("storage"))
            and set(pvc["spec"].get("accessModes") or [])
            <= set(pv["spec"].get("accessModes") or [])
        ]
        wait = (sc or {}).get("volumeBindingMode") == "WaitForFirstConsumer"
        selected = (meta.get("annotations") or {}).get(SELECTED_NODE)
        if static and (not wait or selected):
            self._bind(pvc, static[0])
            return
        if wait and not selected:
            self._announce(
                pvc,
                "WaitForFirstConsumer",
                "waiting for first consumer to be created before binding",
            )
        elif sc is not None:
            self._announce(
                pvc,
                "ExternalProvisioning",
                "Waiting for a volume to be created either by the external "
                f"provisioner '{sc.get('provisioner')}' or manually by the system "
                "administrator. If volume creation is delayed, please verify that "
                "the provisioner is running and correctly registered.",
            )
        elif cls_name:
            self._announce(
                pvc,
                "ProvisioningFailed",
                f'storageclass.storage.k8s.io "{cls_name}" not found',
                "Warning",
            )
        else:
            self._announce(
                pvc,
                "FailedBinding",
                "no persistent volumes available for this claim and no storage class is set",
                "Warning",
            )

    def _announce(self, pvc: Obj, reason: str, message: str, type_: str = "Normal") -> None:
        key = (pvc["metadata"]["uid"], reason)
        # Upstream repeats these every resync; one per 15 s keeps the event list readable.
        if time.monotonic() - self._announced.get(key, -1e9) < 15:
            return
        self._announced[key] = time.monotonic()
        emit(
            self.client, pvc, reason, message, type_=type_, component="persistentvolume-controller"
        )

    def _bind(self, pvc: Obj, pv: Obj) -> None:
        meta = pvc["metadata"]
        name = pv["metadata"]["name"]
        if not pv["spec"].get("claimRef"):
            self.client.patch(
                "persistentvolumes",
                name,
                {
                    "spec": {
                        "claimRef": {
                            "kind": "PersistentVolumeClaim",
                            "apiVersion": "v1",
                            "namespace": meta["namespace"],
                            "name": meta["name"],
                            "uid": meta["uid"],
                        }
                    }
                },
            )
        self._pv_status(pv, "Bound")
        self.client.patch(
            "persistentvolumeclaims",
            meta["name"],
            {
                "metadata": {
                    "annotations": {
                        "pv.kubernetes.io/bind-completed": "yes",
                        "pv.kubernetes.io/bound-by-controller": "yes",
                    }
                },
                "spec": {"volumeName": name},
            },
            namespace=meta["namespace"],
        )
        self.client.patch(
            "persistentvolumeclaims",
            meta["name"],
            {
                "status": {
                    "phase": "Bound",
                    "accessModes": pv["spec"].get("accessModes") or [],
                    "capacity": pv["spec"].get("capacity") or {},
                }
            },
            namespace=meta["namespace"],
            sub="status",
        )

    def _pv_status(self, pv: Obj, phase: str) -> None:
        if pv.get("status", {}).get("phase") == phase:
            return
        self.client.patch(
            "persistentvolumes",
            pv["metadata"]["name"],
            {"status": {"phase": phase, "lastPhaseTransitionTime": now()}},
            sub="status",
        )
        pv.setdefault("status", {})["phase"] = phase


PVC_PROTECTION = "kubernetes.io/pvc-protection"
PV_PROTECTION = "kubernetes.io/pv-protection"


def _claims_in_use(pods: list[Obj]) -> set[tuple[str, str]]:
    """(namespace, claim) pairs a pod that has not terminated still refers to."""
    used = set()
    for pod in pods:
        if pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
            continue
        ns = pod["metadata"]["namespace"]
        for volume in pod["spec"].get("volumes") or []:
            if (volume.get("persistentVolumeClaim") or {}).get("claimName"):
                used.add((ns, volume["persistentVolumeClaim"]["claimName"]))
            elif volume.get("ephemeral"):  # generic ephemeral volume: claim <pod>-<volume>
                used.add((ns, f"{pod['metadata']['name']}-{volume['name']}"))
    return used


class ProtectionController:
    """kube-controller-manager's pvc-protection and pv-protection controllers.

    The StorageObjectInUseProtection admission plugin (registry.py) puts the
    finalizers on; these controllers take them off a deleted claim once no pod
    uses it, and off a deleted volume once it is no longer Bound.
    """

    def __init__(self, client: Client) -> None:
        self.client = client

    def step(self) -> None:
        claims = [
            c
            for c in self.client.list("persistentvolumeclaims")
            if c["metadata"].get("deletionTimestamp")
            and PVC_PROTECTION in (c["metadata"].get("finalizers") or [])
        ]
        if claims:
            used = _claims_in_use(self.client.list("pods"))
            for pvc in claims:
                meta = pvc["metadata"]
                if (meta["namespace"], meta["name"]) not in used:
                    self._release("persistentvolumeclaims", pvc, PVC_PROTECTION, meta["namespace"])
        for pv in self.client.list("persistentvolumes"):
            meta = pv["metadata"]
            if (
                meta.get("deletionTimestamp")
                and PV_PROTECTION in (meta.get("finalizers") or [])
                and pv.get("status", {}).get("phase") != "Bound"
            ):
                self._release("persistentvolumes", pv, PV_PROTECTION, None)

    def _release(self, resource: str, obj: Obj, finalizer: str, ns: str | None) -> None:
        meta = obj["metadata"]
        rest = [f for f in meta.get("finalizers") or [] if f != finalizer]
        # resourceVersion makes this a compare-and-swap: a 409 means look again next pass.
        self.client.patch(
            resource,
            meta["name"],
            {"metadata": {"finalizers": rest, "resourceVersion": meta["resourceVersion"]}},
            ns,
        )
