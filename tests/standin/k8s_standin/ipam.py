"""ClusterIP and NodePort allocation for Services.

Allocations are derived from the stored Services on every call rather than kept in
a bitmap, so they survive restarts for free; the API holds the store lock around
the allocate-and-write sequence.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

NODE_PORT_RANGE = range(30000, 32768)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def family(cidr_or_ip: str) -> str:
    return "IPv6" if ":" in cidr_or_ip else "IPv4"


class ServiceIPs:
    def __init__(self, service_cidrs: Iterable[str]) -> None:
        self.networks: dict[str, Network] = {}
        for cidr in service_cidrs:
            net = ipaddress.ip_network(cidr, strict=False)
            self.networks.setdefault("IPv6" if net.version == 6 else "IPv4", net)

    @property
    def families(self) -> list[str]:
        return list(self.networks)

    def first_ip(self, fam: str) -> str:
        return str(self.networks[fam].network_address + 1)

    def nth_ip(self, fam: str, n: int) -> str:
        return str(self.networks[fam].network_address + n)

    def contains(self, fam: str, ip: str) -> bool:
        try:
            return ipaddress.ip_address(ip) in self.networks[fam]
        except (ValueError, KeyError):
            return False

    def allocate(self, fam: str, used: set[str]) -> str:
        net = self.networks[fam]
        # Skip .1 (the kubernetes Service) and the network's first 10 addresses that
        # upstream also prefers for static assignments such as the DNS service.
        start = 11 if net.num_addresses > 64 else 2
        limit = min(net.num_addresses - 1, 1 << 20)
        for offset in range(start, limit):
            ip = str(net.network_address + offset)
            if ip not in used:
                return ip
        for offset in range(2, start):
            ip = str(net.network_address + offset)
            if ip not in used:
                return ip
        raise RuntimeError(f"service CIDR {net} is full")


def used_cluster_ips(services: Iterable[dict[str, Any]], skip_uid: str = "") -> set[str]:
    used: set[str] = set()
    for svc in services:
        if svc["metadata"].get("uid") == skip_uid:
            continue
        for ip in svc.get("spec", {}).get("clusterIPs") or []:
            used.add(ip)
    return used


def used_node_ports(services: Iterable[dict[str, Any]], skip_uid: str = "") -> set[int]:
    used: set[int] = set()
    for svc in services:
        if svc["metadata"].get("uid") == skip_uid:
            continue
        for port in svc.get("spec", {}).get("ports") or []:
            if port.get("nodePort"):
                used.add(int(port["nodePort"]))
    return used


def allocate_node_port(used: set[int]) -> int:
    for port in NODE_PORT_RANGE:
        if port not in used:
            return port
    raise RuntimeError("node port range is full")
