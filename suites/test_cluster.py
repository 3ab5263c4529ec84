"""The cluster answers as the distribution it claims to be."""

from __future__ import annotations

import pytest
from kubernetes import client

from pytest_k8sdistro.suite import Cluster, Distro, Kube, expect, reports_version


def test_api_reports_the_distribution_version(distro: Distro, kube: Kube) -> None:
    # A release (v1.36.5+k3s1, or v1.36.3+k0s for v1.36.3+k0s.2) or, for a snap
    # channel (1.36/stable), any release of that track.
    found = kube.version.get_code().git_version
    expect(
        reports_version(found, distro.version),
        "the API server runs another Kubernetes version",
        expected=f"gitVersion of {distro.name} {distro.version}",
        found=f"gitVersion {found}",
    )


def test_every_node_is_ready(kube: Kube, cluster: Cluster) -> None:
    nodes = kube.core.list_node().items
    not_ready = {
        n.metadata.name: [(c.type, c.status, c.message) for c in n.status.conditions or []]
        for n in nodes
        if not any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])
    }
    expect(
        len(nodes) == len(cluster.nodes),
        "the API lists another number of nodes than were started",
        expected=f"{len(cluster.nodes)} node(s): {[n.name for n in cluster.nodes]}",
        found=f"{[n.metadata.name for n in nodes]}",
    )
    expect(
        not not_ready,
        "nodes are not Ready",
        expected="condition Ready=True on every node",
        found=f"not Ready: {sorted(not_ready)}",
        evidence="\n".join(f"{name}: {conditions}" for name, conditions in not_ready.items()),
    )


def test_namespaced_objects_round_trip(kube: Kube, namespace: str) -> None:
    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="probe"), data={"k": "v"})
    kube.core.create_namespaced_config_map(namespace, body)
    data = kube.core.read_namespaced_config_map("probe", namespace).data
    expect(
        data == {"k": "v"},
        "a ConfigMap did not read back as written",
        expected="data {'k': 'v'}",
        found=f"data {data}",
    )


@pytest.mark.parametrize("name", ["default", "kube-system", "kube-public", "kube-node-lease"])
def test_builtin_namespaces_exist(kube: Kube, name: str) -> None:
    phase = kube.core.read_namespace(name).status.phase
    expect(
        phase == "Active",
        f"built-in namespace {name} is not Active",
        expected="phase Active",
        found=f"phase {phase}",
    )
