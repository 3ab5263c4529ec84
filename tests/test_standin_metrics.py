"""The stand-in's metrics.k8s.io: what metrics-server and the aggregator serve, from the
node's cgroups and the containers' processes."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from k8s_standin import metrics
from k8s_standin.node import resourcemetrics
from k8s_standin.node.testing import Standin, wait_for
from kubernetes import client

from pytest_k8sdistro.kube.api import raw_get

POSIX = pytest.mark.skipif(os.name != "posix", reason="needs POSIX processes")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (123456789, "123456789n"),
        (15_000_000, "15m"),
        (2_000_000_000, "2"),
        (1500, "1500n"),
    ],
)
def test_cpu_quantities_are_canonical_nanocores(value: int, text: str) -> None:
    assert metrics.nanocores(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0"), (4096 * 3, "12Ki"), (1024 * 1024, "1Mi"), (1000, "1000"), (5 * 1024**3, "5Gi")],
)
def test_memory_quantities_are_binary_si(value: int, text: str) -> None:
    assert metrics.binary_si(value) == text


@pytest.mark.parametrize(
    ("seconds", "text"), [(15.0, "15s"), (15.0123, "15.0123s"), (75.5, "1m15.5s"), (0.25, "0.25s")]
)
def test_windows_print_as_go_durations(seconds: float, text: str) -> None:
    assert metrics.go_duration(seconds) == text


def test_cgroup_v1_working_set_subtracts_inactive_file(tmp_path: Path) -> None:
    memory = tmp_path / "memory"
    memory.mkdir()
    (memory / "memory.usage_in_bytes").write_text("10485760\n")
    (memory / "memory.stat").write_text("cache 100\ntotal_inactive_file 4194304\n")
    cpu = tmp_path / "cpuacct"
    cpu.mkdir()
    (cpu / "cpuacct.usage").write_text("2500000000\n")
    assert resourcemetrics.node_working_set(tmp_path) == 6 * 1024 * 1024
    assert resourcemetrics.node_cpu_seconds(tmp_path) == 2.5


def test_cgroup_v2_working_set_subtracts_inactive_file(tmp_path: Path) -> None:
    (tmp_path / "memory.current").write_text("8388608\n")
    (tmp_path / "memory.stat").write_text("anon 1\ninactive_file 2097152\n")
    (tmp_path / "cpu.stat").write_text("usage_usec 1500000\nuser_usec 1000000\n")
    assert resourcemetrics.node_working_set(tmp_path) == 6 * 1024 * 1024
    assert resourcemetrics.node_cpu_seconds(tmp_path) == 1.5


def test_a_root_without_usage_files_falls_back_to_proc(tmp_path: Path) -> None:
    assert resourcemetrics.node_working_set(tmp_path) > 0
    assert resourcemetrics.node_cpu_seconds(tmp_path) > 0


@POSIX
def test_resource_metrics_text_parses_back(tmp_path: Path) -> None:
    container = tmp_path / "pod" / "containers" / "main"
    container.mkdir(parents=True)
    (container / "pid").write_text(str(os.getpid()))
    (container / "meta.json").write_text('{"containerID": "x", "startedEpoch": 1700000000.5}')
    text = resourcemetrics.render([("ns", "p", tmp_path / "pod")], tmp_path, now=1700000100.0)
    node, containers = metrics.parse(text)
    assert node is not None and node.at == 1700000100.0
    point = containers[("ns", "p", "main")]
    assert point.memory > 0 and point.cpu > 0 and point.started == 1700000000.5


# -- against a running stand-in ---------------------------------------------------


def _standin(base: Path, *args: str, env: dict[str, str] | None = None) -> Standin:
    return Standin(base, args=args, env=env).start()


@pytest.fixture(scope="module")
def k3s(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Standin]:
    server = _standin(tmp_path_factory.mktemp("k3s-metrics"))
    yield server
    server.stop()


def _raw(api: Any, path: str) -> tuple[int, Any]:
    status, body = raw_get(api, path)
    return status, json.loads(body) if status == 200 else body


def _available(api: Any) -> dict[str, Any] | None:
    status, service = _raw(
        api, "/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.metrics.k8s.io"
    )
    if status != 200:
        return None
    for condition in (service.get("status") or {}).get("conditions") or []:
        if condition["type"] == "Available":
            return dict(condition)
    return None


@POSIX
def test_metrics_apiservice_becomes_available_and_is_discovered(k3s: Standin) -> None:
    api = k3s.api_client()
    condition = wait_for(
        lambda: (c := _available(api)) and c["status"] == "True" and c,
        timeout=60,
        what="APIService v1beta1.metrics.k8s.io Available",
    )
    assert condition["reason"] == "Passed"
    groups = [g["name"] for g in _raw(api, "/apis")[1]["groups"]]
    assert "metrics.k8s.io" in groups
    service = client.CoreV1Api(api).read_namespaced_service("metrics-server", "kube-system")
    assert service.spec.ports[0].port == 443


@POSIX
def test_node_and_pod_metrics_appear_after_two_scrapes(k3s: Standin) -> None:
    api = k3s.api_client()
    core = client.CoreV1Api(api)
    probe = {
        "metadata": {"name": "metrics-probe"},
        "spec": {"containers": [{"name": "main", "image": "busybox", "command": ["sleep", "600"]}]},
    }
    # Until the namespace's default ServiceAccount exists, pods are refused (as upstream).
    wait_for(lambda: core.create_namespaced_pod("kube-system", probe), 30, "the probe pod")
    started = time.monotonic()
    nodes = wait_for(
        lambda: (
            (r := _raw(api, "/apis/metrics.k8s.io/v1beta1/nodes"))[0] == 200
            and r[1]["items"]
            and r[1]
        ),
        timeout=90,
        what="NodeMetrics",
    )
    item = nodes["items"][0]
    assert item["usage"]["cpu"].endswith("n") or item["usage"]["cpu"] == "0"
    assert item["usage"]["memory"] != "0"
    assert item["window"].endswith("s")
    pod = wait_for(
        lambda: (
            (
                r := _raw(
                    api, "/apis/metrics.k8s.io/v1beta1/namespaces/kube-system/pods/metrics-probe"
                )
            )[0]
            == 200
            and r[1]
        ),
        timeout=90,
        what="PodMetrics of metrics-probe",
    )
    # metrics-server needs two samples 15 s apart: never sooner than one resolution.
    assert time.monotonic() - started >= metrics.RESOLUTION - 1
    assert pod["kind"] == "PodMetrics"
    assert [c["name"] for c in pod["containers"]] == ["main"]
    assert pod["containers"][0]["usage"]["memory"] not in ("0", "")
    listed = _raw(api, "/apis/metrics.k8s.io/v1beta1/pods")[1]
    assert any(p["metadata"]["name"] == "metrics-probe" for p in listed["items"])


@POSIX
@pytest.mark.parametrize(
    ("flavor", "flag"),
    [("k3s", "--disable=metrics-server"), ("k0s", "--disable-components=metrics-server")],
)
def test_disabled_metrics_server_serves_no_group(tmp_path: Path, flavor: str, flag: str) -> None:
    server = Standin(tmp_path, flavor, args=(flag,)).start()
    try:
        api = server.api_client()
        # The add-ons are applied in one pass, long before CoreDNS is available.
        apps = client.AppsV1Api(api)
        wait_for(
            lambda: apps.read_namespaced_deployment("coredns", "kube-system").status.ready_replicas,
            60,
            "CoreDNS available",
        )
        groups = [g["name"] for g in _raw(api, "/apis")[1]["groups"]]
        assert "metrics.k8s.io" not in groups
        assert _raw(api, "/apis/metrics.k8s.io/v1beta1/nodes")[0] == 404
        assert (
            _raw(api, "/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.metrics.k8s.io")[0]
            == 404
        )
    finally:
        server.stop()


@POSIX
def test_stale_fault_fails_the_discovery_check(tmp_path: Path) -> None:
    server = _standin(tmp_path, env={"STANDIN_METRICS_STALE": "1"})
    try:
        api = server.api_client()
        condition = wait_for(
            lambda: (c := _available(api)) and c["reason"] == "FailedDiscoveryCheck" and c,
            timeout=60,
            what="APIService failing its discovery check",
        )
        assert condition["status"] == "False"
        assert _raw(api, "/apis/metrics.k8s.io/v1beta1/nodes")[0] == 503
    finally:
        server.stop()
