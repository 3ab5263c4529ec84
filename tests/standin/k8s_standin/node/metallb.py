"""MetalLB's controller, as microk8s's metallb addon runs it: LoadBalancer Services get
an address from the pool given to ``microk8s enable metallb:RANGE``.

The real addon keeps the pool in an IPAddressPool custom resource
(metallb-system/default-addresspool); the stand-in serves no custom resources, so
``microk8s enable`` writes the ranges to the ConfigMap
metallb-system/standin-addresspool instead. Addresses are announced nowhere: a Service
gets its status, and traffic reaches it through the node's service proxy only.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from .client import ApiError, Client
from .util import log

NAMESPACE = "metallb-system"
POOL = "standin-addresspool"


def addresses(ranges: str) -> Iterator[str]:
    """Each address of ``a-b`` ranges and CIDRs, comma-separated, in order."""
    for item in (part.strip() for part in ranges.split(",")):
        if not item:
            continue
        if "-" in item:
            first, last = (ipaddress.ip_address(x.strip()) for x in item.split("-", 1))
            current = first
            while current <= last:
                yield str(current)
                current += 1
        else:
            yield from (str(ip) for ip in ipaddress.ip_network(item, strict=False).hosts())


class MetalLB:
    def __init__(self, client: Client) -> None:
        self.client = client

    def step(self) -> None:
        try:
            pool = self.client.get("configmaps", POOL, NAMESPACE)
        except ApiError:
            return  # the addon is not enabled
        ranges = (pool.get("data") or {}).get("addresses", "")
        services = [
            s for s in self.client.list("services") if s["spec"].get("type") == "LoadBalancer"
        ]
        taken = {
            i.get("ip")
            for s in services
            for i in ((s.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        }
        for svc in services:
            if ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress"):
                continue
            free = next((ip for ip in addresses(ranges) if ip not in taken), None)
            if free is None:
                log.warning("metallb: no free address in %s", ranges)
                return
            taken.add(free)
            meta = svc["metadata"]
            self.client.patch(
                "services",
                meta["name"],
                {"status": {"loadBalancer": {"ingress": [{"ip": free, "ipMode": "VIP"}]}}},
                meta["namespace"],
                sub="status",
            )
            log.info("metallb: %s/%s gets %s", meta["namespace"], meta["name"], free)
