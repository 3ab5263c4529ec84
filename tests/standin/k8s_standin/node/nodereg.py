"""Node registration and heartbeat, as the kubelet does on start.

The Node carries the markers suites use to recognise a distribution: kubelet and
containerd versions in the flavour's style, k3s's flannel annotations, the
control-plane role label on servers. Readiness is kept fresh through a Lease in
kube-node-lease plus a periodic Ready condition heartbeat.
"""

from __future__ import annotations

import os
import platform

from ..config import NodeConfig
from . import containerd, env
from .client import ApiError, Client
from .util import Obj, log, now

HEARTBEAT_SECONDS = 10.0


def _capacity() -> Obj:
    cpus = os.cpu_count() or 1
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        pages = 4 << 30
    return {
        "cpu": str(cpus),
        "memory": f"{pages // 1024}Ki",
        "pods": "110",
        "ephemeral-storage": "61255492Ki",
        "hugepages-2Mi": "0",
    }


def _os_image() -> str:
    try:
        for line in env.under_root("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Debian GNU/Linux 12 (bookworm)"


def node_labels(config: NodeConfig) -> dict[str, str]:
    labels = {
        "kubernetes.io/hostname": config.node_name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64" if platform.machine() in ("x86_64", "amd64") else "arm64",
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": "amd64"
        if platform.machine() in ("x86_64", "amd64")
        else "arm64",
    }
    if config.is_server:
        labels["node-role.kubernetes.io/control-plane"] = "true"
        if config.flavor == "k3s":
            labels["node-role.kubernetes.io/master"] = "true"
    if config.flavor == "k3s":
        labels["node.kubernetes.io/instance-type"] = "k3s"
    if config.flavor == "microk8s":
        labels["microk8s.io/cluster"] = "true"
        labels["node.kubernetes.io/microk8s-controlplane"] = "microk8s-controlplane"
    return labels


def node_annotations(config: NodeConfig) -> dict[str, str]:
    ann = {
        "node.alpha.kubernetes.io/ttl": "0",
        "volumes.kubernetes.io/controller-managed-attach-detach": "true",
    }
    if config.flavor == "k3s":
        ann.update(
            {
                "flannel.alpha.coreos.com/backend-type": "vxlan",
                "flannel.alpha.coreos.com/backend-data": '{"VNI":1,"VtepMAC":"0a:58:0a:2a:00:01"}',
                "flannel.alpha.coreos.com/kube-subnet-manager": "true",
                "flannel.alpha.coreos.com/public-ip": config.node_ip,
                "k3s.io/hostname": config.node_name,
                "k3s.io/internal-ip": ",".join(node_ips(config)),
                "k3s.io/node-args": '["server"]' if config.is_server else '["agent"]',
            }
        )
        if config.node_ipv6 and not config.faults.no_ipv6:
            ann["flannel.alpha.coreos.com/public-ipv6"] = config.node_ipv6
    elif config.flavor == "microk8s":
        # calico-node annotates each node with its address and VXLAN tunnel address.
        ann["projectcalico.org/IPv4Address"] = f"{config.node_ip}/24"
        ann["projectcalico.org/IPv4VXLANTunnelAddr"] = config.node_ip
    else:
        ann["kube-router.io/node.internal-ip"] = config.node_ip
    return ann


def node_ips(config: NodeConfig) -> tuple[str, ...]:
    return (config.node_ip,) if config.faults.no_ipv6 else config.node_ips


def node_status(config: NodeConfig) -> Obj:
    stamp = now()
    capacity = _capacity()
    return {
        "capacity": capacity,
        "allocatable": capacity,
        "addresses": [{"type": "InternalIP", "address": ip} for ip in node_ips(config)]
        + [{"type": "Hostname", "address": config.node_name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "kubeletVersion": config.version,
            "kubeProxyVersion": config.version,
            "containerRuntimeVersion": config.runtime_version or containerd.BUILT_IN[config.flavor],
            "osImage": _os_image(),
            "operatingSystem": "linux",
            "architecture": node_labels(config)["kubernetes.io/arch"],
            "kernelVersion": platform.release(),
            "machineID": config.node_name,
            "systemUUID": config.node_name,
            "bootID": "",
        },
        "conditions": [
            _cond(
                "MemoryPressure",
                "False",
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory available",
                stamp,
            ),
            _cond(
                "DiskPressure",
                "False",
                "KubeletHasNoDiskPressure",
                "kubelet has no disk pressure",
                stamp,
            ),
            _cond(
                "PIDPressure",
                "False",
                "KubeletHasSufficientPID",
                "kubelet has sufficient PID available",
                stamp,
            ),
            # STANDIN_NEVER_READY: the node never becomes Ready, as with a broken CNI.
            _cond(
                "Ready",
                "False",
                "KubeletNotReady",
                "container runtime network not ready: NetworkReady=false",
                stamp,
            )
            if config.faults.never_ready
            else _cond("Ready", "True", "KubeletReady", "kubelet is posting ready status", stamp),
        ],
    }


# Conditions only change status when the process (re)starts; keep the first stamp so
# lastTransitionTime means what it says while heartbeats refresh lastHeartbeatTime.
_TRANSITIONS: dict[str, str] = {}


def _cond(type_: str, status: str, reason: str, message: str, stamp: str) -> Obj:
    since = _TRANSITIONS.setdefault(f"{type_}={status}", stamp)
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastHeartbeatTime": stamp,
        "lastTransitionTime": since,
    }


class NodeRegistration:
    def __init__(self, client: Client, config: NodeConfig) -> None:
        self.client = client
        self.config = config
        self._last = 0.0
        self._registered = False

    def register(self) -> Obj:
        cfg = self.config
        body = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": cfg.node_name,
                "labels": node_labels(cfg),
                "annotations": node_annotations(cfg),
            },
            "spec": {},
        }
        if cfg.is_server and cfg.flavor == "k0s" and not cfg.no_taints and not cfg.enable_worker:
            body["spec"]["taints"] = [
                {"key": "node-role.kubernetes.io/master", "effect": "NoSchedule"}
            ]
        try:
            node = self.client.create("nodes", body)
        except ApiError as err:
            if err.status != 409:
                raise
            # Re-registration after a restart keeps spec (podCIDR) and refreshes markers.
            node = self.client.patch(
                "nodes",
                cfg.node_name,
                {
                    "metadata": {
                        "labels": body["metadata"]["labels"],
                        "annotations": body["metadata"]["annotations"],
                    }
                },
            )
        self.client.patch("nodes", cfg.node_name, {"status": node_status(cfg)}, sub="status")
        if not self._registered:
            # The line k3s agents print; readiness checks of suites may look for it.
            log.info("Successfully registered node %s", cfg.node_name)
        self._registered = True
        return node

    def heartbeat(self) -> None:
        import time

        if not self._registered:
            self.register()
        if time.monotonic() - self._last < HEARTBEAT_SECONDS:
            return
        self._last = time.monotonic()
        self.client.patch(
            "nodes", self.config.node_name, {"status": node_status(self.config)}, sub="status"
        )
        self._renew_lease()

    def _renew_lease(self) -> None:
        name = self.config.node_name
        spec = {
            "holderIdentity": name,
            "leaseDurationSeconds": 40,
            "renewTime": now().replace("Z", ".000000Z"),
        }
        try:
            self.client.patch("leases", name, {"spec": spec}, namespace="kube-node-lease")
        except ApiError as err:
            if err.status != 404:
                raise
            self.client.ensure(
                "namespaces",
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-node-lease"}},
            )
            self.client.create(
                "leases",
                {
                    "apiVersion": "coordination.k8s.io/v1",
                    "kind": "Lease",
                    "metadata": {"name": name, "namespace": "kube-node-lease"},
                    "spec": spec,
                },
                namespace="kube-node-lease",
            )
