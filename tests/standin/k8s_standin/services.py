"""Service defaulting and address allocation, following upstream's dual-stack rules."""

from __future__ import annotations

from typing import Any

from . import ipam
from .errors import Causes

Obj = dict[str, Any]
_POLICIES = ["SingleStack", "PreferDualStack", "RequireDualStack"]


def _want_families(spec: Obj, ips: ipam.ServiceIPs, causes: Causes) -> list[str]:
    cluster = ips.families
    policy = spec.get("ipFamilyPolicy")
    requested = list(spec.get("ipFamilies") or [])
    cluster_ips = [ip for ip in spec.get("clusterIPs") or [] if ip and ip != "None"]
    if not requested and cluster_ips:
        requested = [ipam.family(ip) for ip in cluster_ips]
    if policy is None:
        policy = "SingleStack" if len(requested) < 2 else "RequireDualStack"
    if policy not in _POLICIES:
        causes.unsupported("spec.ipFamilyPolicy", policy, _POLICIES)
        return []
    spec["ipFamilyPolicy"] = policy
    for i, fam in enumerate(requested):
        if fam not in ("IPv4", "IPv6"):
            causes.unsupported(f"spec.ipFamilies[{i}]", fam, ["IPv4", "IPv6"])
            return []
    if policy == "RequireDualStack" and len(cluster) < 2:
        causes.invalid(
            "spec.ipFamilyPolicy",
            policy,
            "this cluster is not configured for dual-stack services",
        )
        return []
    if policy == "SingleStack" and len(requested) > 1:
        causes.invalid(
            "spec.ipFamilies",
            requested,
            "when spec.ipFamilyPolicy is SingleStack only one ipFamily may be specified",
        )
        return []
    for i, fam in enumerate(requested):
        if fam not in cluster:
            causes.invalid(f"spec.ipFamilies[{i}]", fam, "not configured on this cluster")
            return []
    families = requested or [cluster[0]]
    if policy != "SingleStack" and len(families) == 1 and len(cluster) > 1:
        families.append(next(f for f in cluster if f != families[0]))
    return families


def prepare(
    svc: Obj, old: Obj | None, all_services: list[Obj], ips: ipam.ServiceIPs, causes: Causes
) -> None:
    """Default `svc` and allocate its ClusterIPs and NodePorts in place."""
    spec = svc.setdefault("spec", {})
    uid = svc["metadata"].get("uid", "")
    stype = spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        # SetDefaults_Service: an unset targetPort (0 or "") is the port itself.
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port")
    if stype == "ExternalName":
        if not spec.get("externalName"):
            causes.required("spec.externalName")
        return
    spec.setdefault("internalTrafficPolicy", "Cluster")
    if not spec.get("ports") and spec.get("clusterIP") != "None":
        causes.required("spec.ports")
    if old is not None:
        # Addresses are immutable once allocated; carry them over from the stored object.
        old_spec = old.get("spec", {})
        for key in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
            if key in old_spec and not spec.get(key):
                spec[key] = old_spec[key]
    if spec.get("clusterIP") and not spec.get("clusterIPs"):
        spec["clusterIPs"] = [spec["clusterIP"]]
    families = _want_families(spec, ips, causes)
    if not families:
        return
    spec["ipFamilies"] = families
    requested = [ip for ip in spec.get("clusterIPs") or [] if ip]
    if requested == ["None"]:
        spec["clusterIP"] = "None"
        spec["clusterIPs"] = ["None"]
    else:
        used = ipam.used_cluster_ips(all_services, skip_uid=uid)
        allocated: list[str] = []
        for i, fam in enumerate(families):
            want = requested[i] if i < len(requested) else ""
            if want:
                if not ips.contains(fam, want):
                    causes.invalid(
                        f"spec.clusterIPs[{i}]",
                        want,
                        f"failed to allocate IP {want}: the provided IP ({want}) is not in "
                        "the valid range",
                    )
                    return
                if want in used:
                    causes.invalid(
                        f"spec.clusterIPs[{i}]",
                        want,
                        f"failed to allocate IP {want}: provided IP is already allocated",
                    )
                    return
                allocated.append(want)
            else:
                allocated.append(ips.allocate(fam, used))
            used.add(allocated[-1])
        spec["clusterIPs"] = allocated
        spec["clusterIP"] = allocated[0]
    if stype in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
        if stype == "LoadBalancer":
            spec.setdefault("allocateLoadBalancerNodePorts", True)
        used_ports = ipam.used_node_ports(all_services, skip_uid=uid)
        for i, port in enumerate(spec.get("ports") or []):
            want = port.get("nodePort")
            if want:
                if int(want) not in ipam.NODE_PORT_RANGE:
                    causes.invalid(
                        f"spec.ports[{i}].nodePort",
                        want,
                        "provided port is not in the valid range. The range of valid ports "
                        "is 30000-32767",
                    )
                elif int(want) in used_ports:
                    causes.invalid(
                        f"spec.ports[{i}].nodePort", want, "provided port is already allocated"
                    )
            elif stype == "NodePort" or spec.get("allocateLoadBalancerNodePorts", True):
                port["nodePort"] = ipam.allocate_node_port(used_ports)
            if port.get("nodePort"):
                used_ports.add(int(port["nodePort"]))
    if stype == "LoadBalancer":
        svc.setdefault("status", {}).setdefault("loadBalancer", {})
    else:
        svc.setdefault("status", {"loadBalancer": {}})
