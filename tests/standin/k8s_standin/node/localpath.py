"""local-path provisioner, the process inside k3s's local-path-provisioner pod.

Provisions claims of classes whose provisioner is `rancher.io/local-path` once the
scheduler has picked a node (`volume.kubernetes.io/selected-node`, the class is
WaitForFirstConsumer): a directory `<storage>/pvc-<uid>_<ns>_<name>` and a
hostPath PV pinned to that node. Released volumes with reclaimPolicy Delete lose
their directory and their PV. STANDIN_PVC_PENDING makes it refuse, with a
Warning event on the claim saying why.

Run: python3 -m k8s_standin.node.localpath --storage DIR
"""

from __future__ import annotations

import argparse
import logging
import shutil
import time
from pathlib import Path

from ..faults import Faults
from .client import ApiError, Client
from .events import emit
from .feed import run_on_changes
from .podclient import from_env
from .util import Obj

PROVISIONER = "rancher.io/local-path"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
log = logging.getLogger("local-path-provisioner")


class Provisioner:
    def __init__(
        self, client: Client, storage: Path, faults: Faults, name: str = PROVISIONER
    ) -> None:
        self.name = name
        self.client = client
        self.storage = storage
        self.faults = faults
        self._warned: dict[str, float] = {}

    def step(self) -> None:
        classes = {
            c["metadata"]["name"]
            for c in self.client.list("storageclasses")
            if c.get("provisioner") == self.name
        }
        for pvc in self.client.list("persistentvolumeclaims"):
            if (
                pvc.get("status", {}).get("phase") == "Bound"
                or pvc["spec"].get("volumeName")
                or pvc["metadata"].get("deletionTimestamp")
            ):
                continue
            if pvc["spec"].get("storageClassName") not in classes:
                continue
            node = (pvc["metadata"].get("annotations") or {}).get(SELECTED_NODE)
            if node:
                self._provision(pvc, node)
        for pv in self.client.list("persistentvolumes"):
            ann = pv["metadata"].get("annotations") or {}
            if (
                ann.get("pv.kubernetes.io/provisioned-by") == self.name
                and pv.get("status", {}).get("phase") == "Released"
                and not pv["metadata"].get("deletionTimestamp")
                and pv["spec"].get("persistentVolumeReclaimPolicy", "Delete") == "Delete"
            ):
                self._delete(pv)

    def _provision(self, pvc: Obj, node: str) -> None:
        meta = pvc["metadata"]
        if self.faults.pvc_pending:
            if time.monotonic() - self._warned.get(meta["uid"], -1e9) > 15:
                self._warned[meta["uid"]] = time.monotonic()
                emit(
                    self.client,
                    pvc,
                    "ProvisioningFailed",
                    f"failed to provision volume with StorageClass "
                    f'"{pvc["spec"].get("storageClassName")}": no local path available on '
                    f'node "{node}" (stand-in fault STANDIN_PVC_PENDING)',
                    type_="Warning",
                    component=f"{self.name}_local-path-provisioner",
                )
            return
        name = f"pvc-{meta['uid']}"
        path = self.storage / f"{name}_{meta['namespace']}_{meta['name']}"
        emit(
            self.client,
            pvc,
            "Provisioning",
            f"External provisioner is provisioning volume for claim "
            f'"{meta["namespace"]}/{meta["name"]}"',
            component=f"{self.name}_local-path-provisioner",
        )
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o777)
        size = pvc["spec"].get("resources", {}).get("requests", {}).get("storage", "1Gi")
        pv = {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {
                "name": name,
                "annotations": {
                    "pv.kubernetes.io/provisioned-by": self.name,
                    "local.path.provisioner/selected-node": node,
                },
            },
            "spec": {
                "capacity": {"storage": size},
                "accessModes": pvc["spec"].get("accessModes") or ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Delete",
                "storageClassName": pvc["spec"]["storageClassName"],
                "volumeMode": "Filesystem",
                "hostPath": {"path": str(path), "type": "DirectoryOrCreate"},
                "nodeAffinity": {
                    "required": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {
                                        "key": "kubernetes.io/hostname",
                                        "operator": "In",
                                        "values": [node],
                                    }
                                ]
                            }
                        ]
                    }
                },
                "claimRef": {
                    "kind": "PersistentVolumeClaim",
                    "apiVersion": "v1",
                    "namespace": meta["namespace"],
                    "name": meta["name"],
                    "uid": meta["uid"],
                },
            },
        }
        try:
            self.client.create("persistentvolumes", pv)
        except ApiError as err:
            if err.status != 409:
                raise
            return
        emit(
            self.client,
            pvc,
            "ProvisioningSucceeded",
            f"Successfully provisioned volume {name}",
            component=f"{self.name}_local-path-provisioner",
        )
        log.info("provisioned %s at %s on %s", name, path, node)

    def _delete(self, pv: Obj) -> None:
        path = Path((pv["spec"].get("hostPath") or pv["spec"].get("local") or {}).get("path", ""))
        # Only ever remove directories under our storage root.
        if path.is_relative_to(self.storage) and path != self.storage:
            shutil.rmtree(path, ignore_errors=True)
        self.client.delete("persistentvolumes", pv["metadata"]["name"])
        log.info("deleted %s and %s", pv["metadata"]["name"], path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="k8s_standin.node.localpath")
    parser.add_argument("--storage", required=True)
    parser.add_argument("--resync", type=float, default=10.0)
    # microk8s's hostpath provisioner works the same way under its own name.
    parser.add_argument("--provisioner", default=PROVISIONER)
    args = parser.parse_args(argv)
    provisioner = Provisioner(
        from_env("local-path-provisioner"), Path(args.storage), Faults.from_env(), args.provisioner
    )
    log.info("watching claims; storage under %s", args.storage)
    run_on_changes(
        provisioner.client,
        ("persistentvolumeclaims", "persistentvolumes", "storageclasses"),
        provisioner.step,
        args.resync,
        "local-path-provisioner",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
