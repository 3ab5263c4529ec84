"""CIDR list helpers shared by both command lines."""

from __future__ import annotations

import ipaddress


def split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def dns_ips(service_cidrs: list[str]) -> tuple[str, ...]:
    """The cluster DNS Service takes the 10th address of each service CIDR."""
    return tuple(
        str(ipaddress.ip_network(c, strict=False).network_address + 10) for c in service_cidrs
    )


def families(values: list[str] | tuple[str, ...]) -> frozenset[int]:
    """The IP versions in a list of addresses or CIDRs."""
    return frozenset(ipaddress.ip_network(v, strict=False).version for v in values)


def node_ip_mismatch(cluster_cidrs: list[str] | tuple[str, ...], node_ips: list[str]) -> str:
    """k3s refuses to start when the node's addresses lack a family of the cluster CIDRs
    (the check behind k3s-io/k3s#11735); the reason, or "" when they agree."""
    if families(cluster_cidrs) <= families(node_ips):
        return ""
    return (
        f"cluster-cidr: {list(cluster_cidrs)} and node-ip: {list(node_ips)}, "
        "must share the same IP version (IPv4, IPv6 or dual-stack)"
    )
