"""Endpoints and EndpointSlice controllers for Services with a selector."""

from __future__ import annotations

from .client import ApiError, Client
from .util import Obj, is_terminating, pod_ready, service_matches

MANAGED_BY = "endpoints.kubernetes.io/managed-by"
CONTROLLER = "endpoint-controller"


def target_port(port: Obj, pod: Obj) -> int | None:
    """Resolve a Service port's targetPort (number or container port name) on one pod."""
    target = port.get("targetPort", port["port"])
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    for container in pod["spec"].get("containers") or []:
        for cport in container.get("ports") or []:
            if cport.get("name") == target:
                return int(cport["containerPort"])
    return None


def _address(pod: Obj, ip: str) -> Obj:
    meta = pod["metadata"]
    return {
        "ip": ip,
        "nodeName": pod["spec"].get("nodeName"),
        "targetRef": {
            "kind": "Pod",
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta["uid"],
        },
    }


def hostname_for(pod: Obj, svc: Obj) -> str | None:
    """The address's hostname: the pod's, when its subdomain is this Service
    (endpoints_controller.go podToEndpointAddressForService, endpointslice podToEndpoint)."""
    spec = pod["spec"]
    if spec.get("hostname") and spec.get("subdomain") == svc["metadata"]["name"]:
        return str(spec["hostname"])
    return None


def pod_ips(pod: Obj) -> list[str]:
    status = pod.get("status") or {}
    ips = [p["ip"] for p in status.get("podIPs") or [] if p.get("ip")]
    return ips or ([status["podIP"]] if status.get("podIP") else [])


class EndpointsController:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.slices_served = True

    def step(self) -> None:
        pods = [
            p
            for p in self.client.list("pods")
            if not is_terminating(p)
            and p.get("status", {}).get("phase") not in ("Succeeded", "Failed")
        ]
        existing = {
            (e["metadata"]["namespace"], e["metadata"]["name"]): e
            for e in self.client.list("endpoints")
        }
        slices = self._slices()
        services = self.client.list("services")
        for svc in services:
            selector = svc["spec"].get("selector")
            if not selector:
                continue  # Endpoints of selector-less Services belong to their owner.
            self._sync(svc, pods, existing, slices)
        # Endpoints this controller made outlive their Service only until the next pass.
        names = {(s["metadata"]["namespace"], s["metadata"]["name"]) for s in services}
        for key, ep in existing.items():
            managed = (ep["metadata"].get("labels") or {}).get(MANAGED_BY) == CONTROLLER
            if managed and key not in names:
                self.client.delete("endpoints", key[1], key[0])

    def _slices(self) -> dict[tuple[str, str], Obj] | None:
        """EndpointSlices are optional: None when the API does not serve them."""
        if not self.slices_served:
            return None
        try:
            return {
                (s["metadata"]["namespace"], s["metadata"]["name"]): s
                for s in self.client.list("endpointslices")
            }
        except ApiError as err:
            if err.status != 404:
                raise
            self.slices_served = False
            return None

    def _sync(
        self,
        svc: Obj,
        pods: list[Obj],
        existing: dict[tuple[str, str], Obj],
        slices: dict[tuple[str, str], Obj] | None,
    ) -> None:
        meta = svc["metadata"]
        ns, name = meta["namespace"], meta["name"]
        members = [
            p
            for p in pods
            if p["metadata"]["namespace"] == ns
            and service_matches(svc["spec"]["selector"], p["metadata"].get("labels"))
            and pod_ips(p)
        ]
        ready, not_ready, ports, slice_ports = [], [], [], []
        for sport in svc["spec"].get("ports") or []:
            resolved = {target_port(sport, p) for p in members} - {None}
            number = next(iter(resolved), sport.get("targetPort", sport["port"]))
            entry = {
                "port": number if isinstance(number, int) else sport["port"],
                "protocol": sport.get("protocol", "TCP"),
            }
            if sport.get("appProtocol"):
                entry["appProtocol"] = sport["appProtocol"]
            # EndpointSlice ports always carry a name ("" for an unnamed Service port: the
            # controller sets the pointer, and kubectl describe dereferences it); core/v1
            # EndpointPort.name is omitempty (endpointslice/utils.go getEndpointPorts,
            # endpoint/endpoints_controller.go).
            slice_ports.append({"name": sport.get("name") or "", **entry})
            if sport.get("name"):
                entry["name"] = sport["name"]
            ports.append(entry)
        for pod in members:
            hostname = hostname_for(pod, svc)
            for ip in pod_ips(pod):
                address = _address(pod, ip)
                if hostname:
                    address["hostname"] = hostname
                (ready if pod_ready(pod) else not_ready).append(address)
        subset: Obj = {"ports": ports}
        if ready:
            subset["addresses"] = sorted(ready, key=lambda a: a["ip"])
        if not_ready:
            subset["notReadyAddresses"] = sorted(not_ready, key=lambda a: a["ip"])
        subsets = [subset] if (ready or not_ready) and ports else []
        body = {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {
                "name": name,
                "namespace": ns,
                "labels": {**(meta.get("labels") or {}), MANAGED_BY: CONTROLLER},
            },
            "subsets": subsets,
        }
        current = existing.get((ns, name))
        if current is None:
            try:
                self.client.create("endpoints", body, ns)
            except ApiError as err:
                if err.status != 409:
                    raise
        elif (current.get("subsets") or []) != subsets:
            body["metadata"]["resourceVersion"] = current["metadata"].get("resourceVersion")
            self.client.replace("endpoints", body, ns)
        if slices is not None:
            self._slice(svc, members, slice_ports, slices)

    def _slice(
        self, svc: Obj, members: list[Obj], ports: list[Obj], slices: dict[tuple[str, str], Obj]
    ) -> None:
        meta = svc["metadata"]
        ns = meta["namespace"]
        families = svc["spec"].get("ipFamilies") or ["IPv4"]
        for family in families:
            name = f"{meta['name']}-{family.lower()}"
            endpoints = []
            for pod in members:
                for ip in pod_ips(pod):
                    if (":" in ip) != (family == "IPv6"):
                        continue
                    ok = pod_ready(pod)
                    endpoint = {
                        "addresses": [ip],
                        "nodeName": pod["spec"].get("nodeName"),
                        "conditions": {"ready": ok, "serving": ok, "terminating": False},
                        "targetRef": _address(pod, ip)["targetRef"],
                    }
                    hostname = hostname_for(pod, svc)
                    if hostname:
                        endpoint["hostname"] = hostname
                    endpoints.append(endpoint)
            body = {
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {
                    "name": name,
                    "namespace": ns,
                    "labels": {
                        "kubernetes.io/service-name": meta["name"],
                        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                    },
                    "ownerReferences": [
                        {
                            "apiVersion": "v1",
                            "kind": "Service",
                            "name": meta["name"],
                            "uid": meta["uid"],
                            "controller": True,
                            "blockOwnerDeletion": True,
                        }
                    ],
                },
                "addressType": family,
                "endpoints": endpoints,
                "ports": ports,
            }
            current = slices.get((ns, name))
            try:
                if current is None:
                    self.client.create("endpointslices", body, ns)
                elif current.get("endpoints") != endpoints or current.get("ports") != ports:
                    body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
                    self.client.replace("endpointslices", body, ns)
            except ApiError as err:
                if err.status != 409:
                    raise
