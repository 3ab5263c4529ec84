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
