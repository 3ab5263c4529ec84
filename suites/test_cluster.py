"""The cluster answers as the distribution it claims to be."""

from __future__ import annotations

import re

import pytest
from kubernetes import client

from pytest_k8sdistro import Cluster, Distro, Kube


def _kubernetes_version(version: str) -> str:
    """``v1.33.6`` for ``v1.33.6+k3s1`` (k0s drops its ``.N`` suffix in gitVersion)."""
    match = re.match(r"v?\d+\.\d+\.\d+", version)
    return match.group(0).lstrip("v") if match else version


def test_api_reports_the_distribution_version(distro: Distro, kube: Kube) -> None:
    found = kube.version.get_code().git_version
    assert _kubernetes_version(found) == _kubernetes_version(distro.version), (
        f"expected Kubernetes {_kubernetes_version(distro.version)} ({distro.version}), "
        f"the API reports {found}"
    )


def test_every_node_is_ready(kube: Kube, cluster: Cluster) -> None:
    nodes = kube.core.list_node().items
    not_ready = {
        n.metadata.name: [(c.type, c.status, c.message) for c in n.status.conditions or []]
        for n in nodes
        if not any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])
    }
    assert len(nodes) == len(cluster.nodes), (
        f"expected {len(cluster.nodes)} node(s), found {[n.metadata.name for n in nodes]}"
    )
    assert not not_ready, f"nodes not Ready, with their conditions: {not_ready}"


def test_namespaced_objects_round_trip(kube: Kube, namespace: str) -> None:
    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="probe"), data={"k": "v"})
    kube.core.create_namespaced_config_map(namespace, body)
    assert kube.core.read_namespaced_config_map("probe", namespace).data == {"k": "v"}


@pytest.mark.parametrize("name", ["default", "kube-system", "kube-public", "kube-node-lease"])
def test_builtin_namespaces_exist(kube: Kube, name: str) -> None:
    assert kube.core.read_namespace(name).status.phase == "Active"
