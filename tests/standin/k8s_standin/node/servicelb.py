"""ServiceLB (klipper-lb semantics), part of the k3s server.

For every LoadBalancer Service without a loadBalancerClass: a DaemonSet
`svclb-<svc>-<hash>` in kube-system whose pods take each port as a hostPort and
forward it to the Service (`k8s_standin.node.forward`), and the Service's
status.loadBalancer.ingress set to the addresses of the nodes running a ready
svclb pod. DaemonSets of Services that are gone or no longer LoadBalancer are
removed.
"""

from __future__ import annotations

from ..config import NodeConfig
from . import env
from .client import ApiError, Client
from .util import Obj, pod_ready, stable_hash

KS = "kube-system"
SVC_NAME = "svccontroller.k3s.cattle.io/svcname"
SVC_NS = "svccontroller.k3s.cattle.io/svcnamespace"
IMAGE = "rancher/klipper-lb:v0.4.9"
SPEC_HASH = "standin.k8s.io/spec-hash"


def daemonset_name(svc: Obj) -> str:
    return f"svclb-{svc['metadata']['name']}-{svc['metadata']['uid'][:8]}"


class ServiceLB:
    def __init__(self, client: Client, config: NodeConfig) -> None:
        self.client = client
        self.config = config

    def step(self) -> None:
        services = [
            s
            for s in self.client.list("services")
            if s["spec"].get("type") == "LoadBalancer"
            and not s["spec"].get("loadBalancerClass")
            and not s["metadata"].get("deletionTimestamp")
        ]
        wanted = {daemonset_name(s): s for s in services}
        existing = {
            d["metadata"]["name"]: d
            for d in self.client.list("daemonsets", KS)
            if SVC_NAME in (d["metadata"].get("labels") or {})
        }
        for name in set(existing) - set(wanted):
            self.client.delete("daemonsets", name, KS)
        pods = self.client.list("pods", KS)
        nodes = {n["metadata"]["name"]: n for n in self.client.list("nodes")}
        for name, svc in wanted.items():
            body = self._daemonset(name, svc)
            current = existing.get(name)
            if current is None:
                try:
                    self.client.create("daemonsets", body, KS)
                except ApiError as err:
                    if err.status != 409:
                        raise
            elif (current["metadata"].get("annotations") or {}).get(SPEC_HASH) != body["metadata"][
                "annotations"
            ][SPEC_HASH]:
                # Compare what we asked for, not the stored spec, which the API defaults.
                self.client.patch(
                    "daemonsets",
                    name,
                    {"metadata": body["metadata"], "spec": body["spec"]},
                    namespace=KS,
                )
            self._status(svc, name, pods, nodes)

    def _daemonset(self, name: str, svc: Obj) -> Obj:
        labels = {
            "app": name,
            SVC_NAME: svc["metadata"]["name"],
            SVC_NS: svc["metadata"]["namespace"],
        }
        # In host mode svclb pods share the machine's ports: tests shift them out of the
        # way (STANDIN_HOSTPORT_OFFSET) and bind loopback only (STANDIN_LISTEN_ADDRESS).
        offset = env.hostport_offset() if env.pod_network() == "host" else 0
        containers = []
        for port in svc["spec"].get("ports") or []:
            protocol = port.get("protocol", "TCP")
            if protocol != "TCP":
                continue  # the stand-in's forwarder carries TCP only
            number = int(port["port"])
            containers.append(
                {
                    "name": f"lb-{protocol.lower()}-{number}",
                    "image": IMAGE,
                    "command": [
                        "python3",
                        "-m",
                        "k8s_standin.node.forward",
                        "--listen",
                        str(number + offset),
                        "--service",
                        f"{svc['metadata']['namespace']}/{svc['metadata']['name']}",
                        "--port",
                        str(number),
                    ],
                    "ports": [
                        {
                            "name": f"lb-{protocol.lower()}-{number}",
                            "containerPort": number,
                            "hostPort": number,
                            "protocol": protocol,
                        }
                    ],
                    "env": [
                        {"name": "SRC_PORT", "value": str(number)},
                        {"name": "DEST_PROTO", "value": protocol},
                        {"name": "DEST_PORT", "value": str(number)},
                        {
                            "name": "DEST_IPS",
                            "value": ",".join(
                                ip for ip in svc["spec"].get("clusterIPs") or [] if ip != "None"
                            ),
                        },
                    ],
                }
            )
        template = {
            "metadata": {"labels": labels},
            "spec": {
                "containers": containers,
                "priorityClassName": "system-node-critical",
                "tolerations": [{"operator": "Exists"}],
            },
        }
        return {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {
                "name": name,
                "namespace": KS,
                "labels": labels,
                "annotations": {SPEC_HASH: stable_hash(template)},
            },
            "spec": {"selector": {"matchLabels": {"app": name}}, "template": template},
        }

    def _status(self, svc: Obj, ds_name: str, pods: list[Obj], nodes: dict[str, Obj]) -> None:
        ips: list[str] = []
        for pod in pods:
            if (pod["metadata"].get("labels") or {}).get("app") != ds_name or not pod_ready(pod):
                continue
            node = nodes.get(pod["spec"].get("nodeName", ""))
            addresses = (node or {}).get("status", {}).get("addresses") or []
            external = [a["address"] for a in addresses if a["type"] == "ExternalIP"]
            internal = [a["address"] for a in addresses if a["type"] == "InternalIP"]
            ips += [ip for ip in external or internal if ip not in ips]
        ingress = [{"ip": ip, "ipMode": "VIP"} for ip in sorted(ips, key=lambda i: ":" in i)]
        if (svc.get("status", {}).get("loadBalancer") or {}).get("ingress") != (ingress or None):
            self.client.patch(
                "services",
                svc["metadata"]["name"],
                {"status": {"loadBalancer": {"ingress": ingress or None}}},
                namespace=svc["metadata"]["namespace"],
                sub="status",
            )
