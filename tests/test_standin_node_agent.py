"""A k3s agent process joining a server: its own Node, its own kubelet and pods."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from k8s_standin.node.testing import Standin, wait_for
from kubernetes import client


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[Standin, Standin]]:
    # Traefik's svclb DaemonSet would put two forwarders on one host port in host mode.
    server = Standin(tmp_path / "server", args=("--disable", "traefik"), node_name="server-1")
    agent = Standin(tmp_path / "agent", join=server, node_name="agent-1")
    try:
        server.start()
        agent.start()
        yield server, agent
    finally:
        agent.stop()
        server.stop()


def _ready(core: client.CoreV1Api) -> dict[str, Any]:
    return {
        n.metadata.name: n
        for n in core.list_node().items
        if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])
    }


def test_agent_registers_and_runs_its_pods(cluster: tuple[Standin, Standin]) -> None:
    server, agent = cluster
    api = server.api_client()
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    nodes = wait_for(lambda: (n := _ready(core)) and len(n) == 2 and n, 80, "two Ready nodes")
    assert "node-role.kubernetes.io/control-plane" not in nodes["agent-1"].metadata.labels
    assert nodes["server-1"].metadata.labels["node-role.kubernetes.io/control-plane"] == "true"
    assert nodes["agent-1"].spec.pod_cidr != nodes["server-1"].spec.pod_cidr
    wait_for(
        lambda: core.read_namespaced_service_account("default", "default"),
        15,
        "the default service account",
    )
    labels = {"app": "everywhere"}
    apps.create_namespaced_daemon_set(
        "default",
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "everywhere"},
            "spec": {
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "terminationGracePeriodSeconds": 1,
                        "containers": [
                            {
                                "name": "c",
                                "image": "busybox",
                                "command": ["sh", "-c", "echo on $NODE; exec sleep 3600"],
                                "env": [
                                    {
                                        "name": "NODE",
                                        "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}},
                                    }
                                ],
                            }
                        ],
                    },
                },
            },
        },
        # The stand-in API answers with an empty status, which this client rejects.
        _preload_content=False,
    )

    def running() -> dict[str, Any]:
        pods = core.list_namespaced_pod("default", label_selector="app=everywhere").items
        return {p.spec.node_name: p for p in pods if p.status.phase == "Running"}

    pods = wait_for(lambda: (r := running()) and len(r) == 2 and r, 80, "a pod per node")
    assert set(pods) == {"server-1", "agent-1"}
    # The agent's kubelet ran its pod: the log is in the agent's own log tree.
    pod = pods["agent-1"]
    logs = wait_for(
        lambda: list(agent.log_root.glob(f"pods/default_{pod.metadata.name}_*/c/0.log")),
        20,
        "the agent's pod log",
    )
    wait_for(lambda: "on agent-1" in logs[0].read_text(), 20, "the pod's output")
    ds = wait_for(
        lambda: (
            (d := apps.read_namespaced_daemon_set("everywhere", "default")).status.number_ready == 2
            and d
        ),
        40,
        "DaemonSet status",
    )
    assert ds.status.desired_number_scheduled == 2
