"""Load balancer: a LoadBalancer Service gets an address within the timeout and
serves from the host, or, where the profile claims none, stays without one.

It is reached at its own address where the provisioner routes this host there (the
host provisioner, a forward over SSH, a cluster given by kubeconfig), else at the node
port the provisioner publishes, where k3s's ServiceLB listens too."""

from __future__ import annotations

from typing import Any

from pytest_k8sdistro.suite import (
    LOAD_BALANCER_PORTS,
    Cluster,
    Distro,
    NotYet,
    Provisioner,
    Workloads,
    hold_for,
    host_get_until,
    service_endpoint,
    url,
    wait_for,
)

#: The Service port; the provisioner publishes it so the host can reach it.
PORT = LOAD_BALANCER_PORTS[0]


def _addresses(service: Any) -> list[str]:
    ingress = (service.status.load_balancer.ingress or []) if service.status.load_balancer else []
    return [i.ip or i.hostname for i in ingress]


def test_load_balancer_service(
    distro: Distro, cluster: Cluster, work: Workloads, k8sdistro_provisioner: Provisioner
) -> None:
    provider = distro.expectations.load_balancer
    work.web("lb")
    work.service("lb", type="LoadBalancer", port=PORT)

    def read() -> Any:
        return work.kube.core.read_namespaced_service("lb", work.namespace)

    if provider is None:
        hold_for(
            f"{distro.name} claims no load balancer, yet the Service got an address",
            lambda: f"addresses {_addresses(read())}" if _addresses(read()) else None,
            expected=f"status.loadBalancer stays empty for {work.timeouts.hold:g}s (pending)",
            duration=work.timeouts.hold,
            evidence=work.evidence,
        )
        return

    def assigned() -> list[str]:
        found = _addresses(read())
        if not found:
            raise NotYet("status.loadBalancer.ingress is empty (pending)")
        return found

    addresses = wait_for(
        f"the {provider} load balancer to give the Service an address",
        assigned,
        expected="status.loadBalancer.ingress with an address",
        timeout=work.timeouts.wait,
        evidence=work.evidence,
    )
    host, port = service_endpoint(
        k8sdistro_provisioner,
        cluster,
        addresses,
        PORT,
        f"the {provider} load balancer",
        work.evidence,
    )
    host_get_until(
        f"the LoadBalancer Service (addresses {addresses}) does not serve from the host",
        url(host, port),
        expected="web:lb",
        timeout=work.timeouts.wait,
        evidence=work.evidence,
    )
