"""Node IPAM (controller-manager): give each Node a pod CIDR per IP family.

Both run the node-ipam controller with /24 per node for IPv4. For IPv6, k3s keeps
kube-controller-manager's default of /64 and k0s sets /117 (k0s docs/dual-stack.md).
The kubelet assigns pod IPs from the node's range.
"""

from __future__ import annotations

import ipaddress

from ..config import NodeConfig
from .client import Client

#: Per-node IPv6 mask size, by flavour.
IPV6_NODE_MASK = {"k3s": 64, "k0s": 117, "microk8s": 122}


def _subnet(cidr: str, index: int, ipv6_mask: int = 64) -> str:
    net = ipaddress.ip_network(cidr, strict=False)
    prefix = 24 if net.version == 4 else ipv6_mask
    prefix = max(prefix, net.prefixlen)
    size = 1 << ((32 if net.version == 4 else 128) - prefix)
    base = int(net.network_address) + index * size
    return f"{ipaddress.ip_address(base)}/{prefix}"


class NodeIpam:
    def __init__(self, client: Client, config: NodeConfig) -> None:
        self.client = client
        self.cidrs = [c for c in config.cluster_cidrs if not (config.faults.no_ipv6 and ":" in c)]
        self.ipv6_mask = IPV6_NODE_MASK[config.flavor]

    def step(self) -> None:
        nodes = self.client.list("nodes")
        used = {n["spec"]["podCIDR"] for n in nodes if n.get("spec", {}).get("podCIDR")}
        for node in nodes:
            if node.get("spec", {}).get("podCIDR"):
                continue
            index = 0
            while _subnet(self.cidrs[0], index, self.ipv6_mask) in used:
                index += 1
            cidrs = [_subnet(c, index, self.ipv6_mask) for c in self.cidrs]
            used.add(cidrs[0])
            self.client.patch(
                "nodes",
                node["metadata"]["name"],
                {"spec": {"podCIDR": cidrs[0], "podCIDRs": cidrs}},
            )
