"""Runtime: every node reports the container runtime (and version family) the profile names."""

from __future__ import annotations

from pytest_k8sdistro.suite import Distro, Kube, expect


def _family_matches(version: str, family: str) -> bool:
    """``1.7`` matches ``1.7.27-k3s1`` and ``1.7``, not ``1.70.1``."""
    return version == family or version.startswith((family + ".", family + "-", family + "+"))


def test_nodes_report_the_expected_runtime(distro: Distro, kube: Kube) -> None:
    runtime = distro.expectations.runtime
    family = distro.expectations.runtime_version_family
    found = {
        n.metadata.name: n.status.node_info.container_runtime_version
        for n in kube.core.list_node().items
    }
    wrong = {}
    for name, reported in found.items():
        kind, _, version = reported.partition("://")
        if kind != runtime or (family and not _family_matches(version, family)):
            wrong[name] = reported
    expected = f"{runtime}://" + (f"{family}.x" if family else "<any version>")
    expect(
        bool(found) and not wrong,
        f"nodes do not report the container runtime {distro.name} ships",
        expected=f"status.nodeInfo.containerRuntimeVersion {expected} on every node",
        found=", ".join(f"{k}: {v}" for k, v in (wrong or found).items()) or "no nodes",
        evidence="all nodes: " + ", ".join(f"{k}={v}" for k, v in found.items()),
    )
