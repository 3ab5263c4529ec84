"""Multi-node: with --distro-nodes=N every agent joins, turns Ready, and takes pods, whose
logs the API server fetches from each node's kubelet, and pods on different nodes reach
each other over the CNI."""

from __future__ import annotations

import pytest

from pytest_k8sdistro.suite import (
    Cluster,
    Kube,
    NotYet,
    Workloads,
    expect,
    pod_logs,
    wait_for,
    wait_pod_ready,
)


def _wanted_nodes(cluster: Cluster, kube: Kube) -> int:
    """How many nodes the cluster should have: those the plugin started, or, for a
    cluster given with --distro-kubeconfig (its nodes unknown to the plugin), those the
    API lists; a single node skips the checks, saying how to get more."""
    started = [node for node in cluster.nodes if node.role != "unknown"]
    wanted = len(started) if started else len(kube.core.list_node().items)
    if wanted < 2:
        pytest.skip("single-node cluster: run with --distro-nodes=2 (or more) to check agents join")
    return wanted


@pytest.mark.distro_feature("multi-node")
def test_agents_join_and_take_pods(cluster: Cluster, kube: Kube, work: Workloads) -> None:
    wanted = _wanted_nodes(cluster, kube)
    nodes = kube.core.list_node().items
    names = sorted(n.metadata.name for n in nodes)
    ready = sorted(
        n.metadata.name
        for n in nodes
        if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])
    )
    expect(
        len(names) == wanted and ready == names,
        "not every node joined and turned Ready",
        expected=f"{wanted} Ready nodes",
        found=f"nodes {names}, Ready {ready}",
    )
    for index, name in enumerate(names):
        work.apply("pinned-pod.yaml", name=f"on-{index}", node=name, image=work.image)
    for index, name in enumerate(names):
        pod = wait_pod_ready(kube, work.namespace, f"on-{index}", work.timeouts.wait)
        expect(
            pod.spec.node_name == name,
            f"a pod for node {name} ran elsewhere",
            expected=f"pod on-{index} on {name}",
            found=f"on {pod.spec.node_name}",
            evidence=work.evidence,
        )
        wanted = f"scheduled on {name}"

        def logged(pod_name: str = f"on-{index}", wanted: str = wanted) -> str:
            text = pod_logs(kube, work.namespace, pod_name)
            if wanted not in text:
                raise NotYet(text.strip().splitlines()[-1] if text.strip() else "(no log)")
            return text

        # The API server asks the pod's kubelet for it: this fails when a node's
        # kubelet cannot be reached from the control plane.
        wait_for(
            f"the log of pod on-{index} through the API",
            logged,
            expected=f"{wanted!r} in the pod's log",
            timeout=work.timeouts.wait,
            evidence=work.evidence,
        )


@pytest.mark.distro_feature("multi-node")
def test_pods_on_different_nodes_reach_each_other(
    cluster: Cluster, kube: Kube, work: Workloads
) -> None:
    """The CNI carries pod traffic between nodes: a node that advertises an address the
    others cannot reach (the wrong interface of a machine with several) fails here,
    while every single-node check passes."""
    _wanted_nodes(cluster, kube)
    names = sorted(n.metadata.name for n in kube.core.list_node().items)
    here, there = names[0], names[-1]
    server = work.web("across", on_node=there)
    expect(
        server.spec.node_name == there,
        f"a pod for node {there} ran elsewhere",
        expected=f"pod across on {there}",
        found=f"on {server.spec.node_name}",
        evidence=work.evidence,
    )
    ip = server.status.pod_ip
    work.fetch(
        "from-another-node",
        f"http://{ip}:8080/",
        expected="web:across",
        what=f"a pod on node {here} cannot reach a pod on node {there} at its IP {ip}",
        on_node=here,
    )
