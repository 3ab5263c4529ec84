"""DNS: the cluster's DNS provider runs, and pods resolve names through it."""

from __future__ import annotations

import pytest

from pytest_k8sdistro.suite import (
    CLUSTER_DOMAIN,
    Distro,
    Kube,
    NotYet,
    Timeouts,
    Workloads,
    answers_address,
    expect,
    namespace_evidence,
    retry_script,
    wait_for,
)

#: Labels the DNS Deployments of k3s, k0s and microk8s carry (upstream's kube-dns label).
DNS_LABEL = "k8s-app=kube-dns"


def _dns_pods(kube: Kube) -> list[str]:
    pods = kube.core.list_namespaced_pod("kube-system", label_selector=DNS_LABEL).items
    return [
        f"{p.metadata.name} ({', '.join(c.image for c in p.spec.containers)}; {p.status.phase})"
        for p in pods
    ]


def test_dns_provider_matches_profile(distro: Distro, kube: Kube, suite_timeouts: Timeouts) -> None:
    expected = distro.expectations.dns
    pods = _dns_pods(kube)
    evidence = lambda: namespace_evidence(kube, "kube-system", logs=False)  # noqa: E731
    if expected is None:
        expect(
            not pods,
            f"{distro.name} claims no cluster DNS, yet DNS pods run",
            expected=f"no kube-system pods labelled {DNS_LABEL}",
            found=", ".join(pods),
            evidence=evidence,
        )
        return
    wanted = f"an available kube-system Deployment labelled {DNS_LABEL} running {expected}"

    def provider() -> None:
        # Availability is waited for: a DNS pod whose readiness probe misses once on a
        # loaded node is unavailable for seconds, which says nothing of the provider.
        pods = _dns_pods(kube)
        images = " ".join(pods).lower()
        found = kube.apps.list_namespaced_deployment("kube-system", label_selector=DNS_LABEL)
        available = [d.metadata.name for d in found.items if (d.status.available_replicas or 0)]
        if not (pods and expected in images and available):
            raise NotYet(f"pods: {', '.join(pods) or 'none'}; available deployments: "
                         f"{available or 'none'}")  # fmt: skip

    wait_for(
        f"cluster DNS to be {expected} and available",
        provider,
        expected=wanted,
        timeout=suite_timeouts.wait,
        evidence=evidence,
    )
    service = kube.core.read_namespaced_service("kube-dns", "kube-system")
    expect(
        bool(service.spec.cluster_ip) and service.spec.cluster_ip != "None",
        "the kube-dns Service has no ClusterIP for pods to use",
        expected="kube-system/kube-dns with a ClusterIP",
        found=f"clusterIP={service.spec.cluster_ip!r}",
    )


@pytest.mark.distro_feature("dns")
def test_pod_resolves_the_api_service(kube: Kube, work: Workloads) -> None:
    name = f"kubernetes.default.svc.{CLUSTER_DOMAIN}"
    ip = kube.core.read_namespaced_service("kubernetes", "default").spec.cluster_ip
    phase, logs = work.probe(
        "resolve-api",
        retry_script(
            f"busybox nslookup {name} | tee /dev/stderr | {answers_address(ip)}", work.attempts
        ),
    )
    expect(
        phase == "Succeeded",
        f"a pod cannot resolve {name} through the cluster resolver",
        expected=f"nslookup {name} answers {ip} (the kubernetes Service's ClusterIP)",
        found=f"probe pod {phase}; nslookup said: {logs.strip()[-400:] or '(nothing)'}",
        evidence=work.evidence,
    )


@pytest.mark.distro_feature("dns")
def test_pod_resolves_a_service_by_short_and_full_name(work: Workloads) -> None:
    service = work.service("named")  # no pods needed: DNS answers with the ClusterIP
    ip = service.spec.cluster_ip
    full = f"named.{work.namespace}.svc.{CLUSTER_DOMAIN}"
    for label, name in (("short", "named"), ("full", full)):
        command = f"busybox nslookup {name} | tee /dev/stderr | {answers_address(ip)}"
        phase, logs = work.probe(f"resolve-{label}", retry_script(command, work.attempts))
        expect(
            phase == "Succeeded",
            f"a pod cannot resolve the Service by its {label} name {name!r}",
            expected=f"nslookup {name} answers {ip} (the Service's ClusterIP)",
            found=f"probe pod {phase}; nslookup said: {logs.strip()[-400:] or '(nothing)'}",
            evidence=work.evidence,
        )
