"""The stand-in's k0s flavour: kube-router/kube-proxy, no storage, ingress or LB."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from k8s_standin.node.testing import Standin, wait_for
from kubernetes import client


@pytest.fixture(scope="module")
def k0s(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Standin]:
    server = Standin(tmp_path_factory.mktemp("k0s"), flavor="k0s").start()
    yield server
    server.stop()


def test_k0s_node_and_addons(k0s: Standin) -> None:
    api = k0s.api_client()
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    node = wait_for(
        lambda: [
            n
            for n in core.list_node().items
            if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])
        ],
        60,
        "a Ready node",
    )[0]
    runtime = node.status.node_info.container_runtime_version
    assert runtime.startswith("containerd://") and "k3s" not in runtime
    assert "flannel.alpha.coreos.com/backend-type" not in (node.metadata.annotations or {})
    for name in ("kube-proxy", "kube-router"):
        wait_for(
            lambda n=name: (
                apps.read_namespaced_daemon_set(n, "kube-system").status.number_ready == 1
            ),
            60,
            f"daemonset {name}",
        )
    wait_for(
        lambda: apps.read_namespaced_deployment("coredns", "kube-system").status.available_replicas,
        60,
        "coredns",
    )
    assert core.read_namespaced_service("kube-dns", "kube-system").spec.cluster_ip == "10.96.0.10"
    assert client.StorageV1Api(api).list_storage_class().items == []
    assert client.NetworkingV1Api(api).list_ingress_class().items == []
    conflist = Path(k0s.root, "etc/cni/net.d/10-kuberouter.conflist")
    assert conflist.is_file()


def test_k0s_load_balancer_stays_pending(k0s: Standin) -> None:
    core = client.CoreV1Api(k0s.api_client())
    wait_for(
        lambda: core.read_namespaced_service_account("default", "default"),
        15,
        "the default service account",
    )
    core.create_namespaced_service(
        "default",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "lb"},
            "spec": {"type": "LoadBalancer", "selector": {"app": "x"}, "ports": [{"port": 80}]},
        },
    )
    apps = client.AppsV1Api(k0s.api_client())
    wait_for(
        lambda: apps.read_namespaced_daemon_set("kube-proxy", "kube-system"),
        10,
        "the node side to be up",
    )
    time.sleep(3)  # several controller passes: nothing may give it an address
    svc: Any = core.read_namespaced_service("lb", "default")
    assert not (svc.status.load_balancer and svc.status.load_balancer.ingress)
    assert not [
        d
        for d in apps.list_namespaced_daemon_set("kube-system").items
        if d.metadata.name.startswith("svclb-")
    ]


@pytest.mark.skipif(
    shutil.which("unshare") is None or os.geteuid() != 0,
    reason="a second k0s node on this host needs its own UTS namespace",
)
def test_k0s_worker_joins_with_token(k0s: Standin, tmp_path: Path) -> None:
    worker = Standin(tmp_path / "worker", flavor="k0s", join=k0s, node_name="k0s-worker-1")
    try:
        worker.start()
        api = k0s.api_client()
        core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
        nodes = wait_for(
            lambda: (
                (
                    n := {
                        x.metadata.name: x
                        for x in core.list_node().items
                        if any(
                            c.type == "Ready" and c.status == "True"
                            for c in x.status.conditions or []
                        )
                    }
                )
                and len(n) == 2
                and n
            ),
            60,
            "the worker node Ready",
        )
        assert "node-role.kubernetes.io/control-plane" not in nodes["k0s-worker-1"].metadata.labels
        # Node agents on every node: kube-proxy and kube-router land on the worker too.
        for name in ("kube-proxy", "kube-router"):
            wait_for(
                lambda n=name: (
                    apps.read_namespaced_daemon_set(n, "kube-system").status.number_ready == 2
                ),
                60,
                f"{name} on both nodes",
            )
    finally:
        worker.stop()
