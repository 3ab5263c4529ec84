"""Metrics (``kubectl top``): metrics.k8s.io/v1beta1 is served where the profile says
metrics-server is deployed, and absent where it says not.

metrics-server registers itself with the API server's aggregation layer through the
APIService ``v1beta1.metrics.k8s.io`` (kubernetes-sigs/metrics-server manifests; k3s's
manifests/metrics-server/, k0s's metricserver.go and microk8s's metrics-server addon
ship the same object); kube-aggregator marks it ``Available`` once the service answers.
``kubectl top`` then reads NodeMetrics and PodMetrics from that group. metrics-server
reports a node or a container only once it has two samples of it (one
``--metric-resolution``, 15 s in all three distributions' manifests, apart), so a fresh
pod shows up after a short while: the checks wait for it.

Where the profile claims no metrics-server (``metrics_server``), discovery must not list
metrics.k8s.io and the APIService must not exist, for the hold time, so a default that
changed is noticed.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_k8sdistro.suite import (
    Distro,
    Kube,
    NotYet,
    Workloads,
    expect,
    fail,
    hold_for,
    raw_get,
    wait_for,
)

GROUP = "metrics.k8s.io"
APISERVICE = "v1beta1.metrics.k8s.io"
BASE = f"/apis/{GROUP}/v1beta1"


def _get(kube: Kube, path: str) -> tuple[int, Any]:
    """Status and body (decoded JSON when 200) of a GET."""
    status, body = raw_get(kube.api, path, timeout=10.0)
    if status == 200:
        return status, json.loads(body)
    return status, body.strip()[:400]


def _apiservice(kube: Kube) -> tuple[int, Any]:
    return _get(kube, f"/apis/apiregistration.k8s.io/v1/apiservices/{APISERVICE}")


def _available(service: Any) -> dict[str, Any]:
    for condition in (service.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Available":
            return dict(condition)
    return {}


def _describe(condition: dict[str, Any]) -> str:
    if not condition:
        return "no Available condition"
    return (
        f"Available={condition.get('status')} reason={condition.get('reason')} "
        f"message={condition.get('message')!r}"
    )


def _discovered(kube: Kube) -> list[str]:
    status, groups = _get(kube, "/apis")
    if status != 200:
        raise NotYet(f"GET /apis answered {status}: {groups}")
    return [g["name"] for g in groups.get("groups", [])]


def _metrics_server_evidence(kube: Kube) -> str:
    status, service = _apiservice(kube)
    parts = [
        f"APIService {APISERVICE}: "
        + (_describe(_available(service)) if status == 200 else f"{status} {service}")
    ]
    try:
        pods = kube.core.list_namespaced_pod("kube-system", label_selector="k8s-app=metrics-server")
        found = [
            f"pod kube-system/{p.metadata.name}: {p.status.phase} on {p.spec.node_name}"
            for p in pods.items
        ]
        parts += found or ["no pod labelled k8s-app=metrics-server in kube-system"]
    except Exception as exc:  # evidence must not hide the failure it explains
        parts.append(f"metrics-server pods unreadable: {exc}")
    return "; ".join(parts)


def _wait_available(kube: Kube, timeout: float) -> dict[str, Any]:
    __tracebackhide__ = True

    def probe() -> dict[str, Any]:
        status, service = _apiservice(kube)
        if status == 404:
            raise NotYet(f"APIService {APISERVICE} not found")
        if status != 200:
            raise NotYet(f"GET apiservices/{APISERVICE} answered {status}: {service}")
        condition = _available(service)
        if condition.get("status") != "True":
            raise NotYet(f"APIService {APISERVICE}: {_describe(condition)}")
        return condition

    return wait_for(
        f"the APIService {APISERVICE} to become Available",
        probe,
        expected=f"APIService {APISERVICE} with condition Available=True",
        timeout=timeout,
        evidence=lambda: _metrics_server_evidence(kube),
    )


def test_the_metrics_api_is_registered_as_the_profile_says(
    distro: Distro, kube: Kube, suite_timeouts: Any
) -> None:
    if distro.expectations.metrics_server:
        condition = _wait_available(kube, suite_timeouts.wait)
        groups = _discovered(kube)
        expect(
            GROUP in groups,
            f"the APIService {APISERVICE} is Available, yet discovery does not list {GROUP}",
            expected=f"{GROUP} among the groups of GET /apis",
            found=", ".join(groups),
            evidence=_describe(condition),
        )
        return

    def present() -> str | None:
        groups = _discovered(kube)
        status, service = _apiservice(kube)
        if GROUP in groups:
            return f"discovery lists {GROUP}"
        if status == 200:
            return f"APIService {APISERVICE} exists: {_describe(_available(service))}"
        if status != 404:
            return f"GET apiservices/{APISERVICE} answered {status}: {service}"
        return None

    hold_for(
        f"{distro.name} claims no metrics-server, yet the metrics API is registered",
        present,
        expected=f"no {GROUP} in discovery and no APIService {APISERVICE} for "
        f"{suite_timeouts.hold:g}s",
        duration=suite_timeouts.hold,
        evidence=lambda: _metrics_server_evidence(kube),
    )


def _quantity_positive(text: str) -> bool:
    digits = text.rstrip("nukmKMGTPEi")
    try:
        return float(digits) > 0
    except ValueError:
        return False


@pytest.mark.distro_feature("metrics-server")
def test_every_node_reports_cpu_and_memory(kube: Kube, suite_timeouts: Any) -> None:
    _wait_available(kube, suite_timeouts.wait)
    nodes: list[str] = sorted(str(n.metadata.name) for n in kube.core.list_node().items)

    def probe() -> dict[str, dict[str, str]]:
        status, listed = _get(kube, f"{BASE}/nodes")
        if status != 200:
            raise NotYet(f"GET {BASE}/nodes answered {status}: {listed}")
        usage = {item["metadata"]["name"]: item.get("usage", {}) for item in listed["items"]}
        missing = [n for n in nodes if n not in usage]
        if missing:
            raise NotYet(f"no NodeMetrics yet for {', '.join(missing)}; have {usage}")
        return usage

    usage = wait_for(
        "NodeMetrics for every node",
        probe,
        expected=f"NodeMetrics for {', '.join(nodes)}",
        timeout=suite_timeouts.wait,
        evidence=lambda: _metrics_server_evidence(kube),
    )
    empty = {
        name: u
        for name, u in usage.items()
        if name in nodes
        and not (_quantity_positive(u.get("cpu", "")) and _quantity_positive(u.get("memory", "")))
    }
    expect(
        not empty,
        "a node reports no CPU or no memory in use",
        expected="usage.cpu and usage.memory above zero for every node",
        found="; ".join(f"{name}: {u}" for name, u in empty.items()),
        evidence=f"NodeMetrics usage: {usage}",
    )


@pytest.mark.distro_feature("metrics-server")
def test_a_running_pod_appears_in_pod_metrics(
    kube: Kube, work: Workloads, suite_timeouts: Any
) -> None:
    _wait_available(kube, suite_timeouts.wait)
    work.web("measured")
    path = f"{BASE}/namespaces/{work.namespace}/pods/measured"

    def probe() -> dict[str, Any]:
        status, metrics = _get(kube, path)
        if status in (404, 503):
            raise NotYet(f"GET {path} answered {status}: {metrics}")
        if status != 200:
            fail(
                "reading the pod's metrics failed",
                expected=f"200 from GET {path}",
                found=f"{status}: {metrics}",
                evidence=work.evidence,
            )
        return dict(metrics)

    # Two samples a resolution apart: a fresh pod is absent for a while, as upstream.
    metrics = wait_for(
        "PodMetrics of the running pod measured",
        probe,
        expected=f"PodMetrics {work.namespace}/measured",
        timeout=suite_timeouts.wait,
        evidence=work.evidence,
    )
    containers = {c["name"]: c.get("usage", {}) for c in metrics.get("containers", [])}
    expect(
        "web" in containers,
        "the pod's metrics leave its container out",
        expected="a container entry named web",
        found=f"containers: {containers}",
        evidence=json.dumps(metrics)[:600],
    )
    memory = containers["web"].get("memory", "")
    expect(
        _quantity_positive(memory),
        "a running container reports no memory in use",
        expected="usage.memory above zero",
        found=f"usage {containers['web']}",
        evidence=f"timestamp {metrics.get('timestamp')}, window {metrics.get('window')}",
    )
