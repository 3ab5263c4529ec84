"""IPv6: on a dual-stack cluster, pods and Services get IPv6 addresses and traffic
flows over IPv6; where the profile claims no IPv6, the cluster is checked to have none."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from pytest_k8sdistro.suite import Distro, Kube, Workloads, expect

HOW_TO_ENABLE = (
    "the cluster was started single-stack; run with --distro-ip-family=dual to start it with "
    "the distribution's dual-stack settings, or point --distro-kubeconfig at a cluster you "
    "started dual-stack"
)


def _v6(addresses: list[str]) -> list[str]:
    out = []
    for text in addresses:
        try:
            if ipaddress.ip_address(text).version == 6:
                out.append(text)
        except ValueError:
            continue
    return out


def _dual_stack_services(work: Workloads) -> Any | None:
    """A RequireDualStack Service, or None when the API server is single-stack.

    The API server refuses RequireDualStack unless its service CIDRs are dual-stack,
    which is decided when the cluster starts, independently of nodes and CNI.
    """
    try:
        return work.service("dual", ip_family_policy="RequireDualStack")
    except ApiException as exc:
        if exc.status == 422:
            return None
        raise


def test_ipv6(distro: Distro, kube: Kube, work: Workloads, record_property: Any) -> None:
    service = _dual_stack_services(work)
    cidrs = {n.metadata.name: list(n.spec.pod_cidrs or []) for n in kube.core.list_node().items}
    if distro.expectations.ipv6 == "unsupported":
        expect(
            service is None and not any(_v6([c.split("/")[0] for c in v]) for v in cidrs.values()),
            f"{distro.name} claims no IPv6, yet the cluster is dual-stack",
            expected="RequireDualStack Services refused, no IPv6 pod CIDRs",
            found=f"dual-stack Service accepted: {service is not None}; pod CIDRs {cidrs}",
        )
        record_property("ipv6", "absent, as the profile claims")
        return
    if service is None:
        record_property("ipv6", "not checked: the cluster was started single-stack")
        pytest.skip(f"{distro.name} claims {distro.expectations.ipv6}; {HOW_TO_ENABLE}")
    service_v6 = _v6(list(service.spec.cluster_ips or []))
    expect(
        bool(service_v6),
        "a RequireDualStack Service got no IPv6 ClusterIP",
        expected="spec.clusterIPs with an IPv4 and an IPv6 address",
        found=f"clusterIPs {service.spec.cluster_ips}",
        evidence=work.evidence,
    )
    pod = work.web("dual")
    pod_v6 = _v6([p.ip for p in pod.status.pod_ips or []])
    expect(
        bool(pod_v6),
        "a pod on a dual-stack cluster got no IPv6 address",
        expected="status.podIPs with an IPv6 address",
        found=f"podIPs {[p.ip for p in pod.status.pod_ips or []]}; node pod CIDRs {cidrs}",
        evidence=work.evidence,
    )
    work.fetch(
        "to-pod-v6",
        f"http://[{pod_v6[0]}]:8080/",
        expected="web:dual",
        what=f"no traffic over IPv6 to the pod at {pod_v6[0]}",
    )
    work.fetch(
        "to-service-v6",
        f"http://[{service_v6[0]}]:80/",
        expected="web:dual",
        what=f"no traffic over IPv6 to the Service at {service_v6[0]}",
    )
    record_property("ipv6", f"dual-stack: pod {pod_v6[0]}, service {service_v6[0]}")
