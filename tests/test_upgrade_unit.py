"""Upgrade orchestration without an engine: which procedure runs, and what is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_k8sdistro import Cluster, RunIdentity
from pytest_k8sdistro.config.settings import Settings
from pytest_k8sdistro.errors import UpgradeUnsupported
from pytest_k8sdistro.measure.upgrade.procedure import reports_version, run_upgrade
from pytest_k8sdistro.progress import Progress
from pytest_k8sdistro.provisioners.base import Capabilities, Provisioner
from pytest_k8sdistro.provisioners.docker.provisioner import DockerProvisioner
from pytest_k8sdistro.provisioners.existing import ExistingCluster


def cluster(distro: str = "k3s", version: str = "v1.36.5+k3s1") -> Cluster:
    return Cluster(
        key="k", distro=distro, version=version, provisioner="x", kubeconfig="", api_server=""
    )


class Bare(Provisioner):
    NAME = "bare"

    def create(self, spec: Any, key: str) -> Cluster:
        raise NotImplementedError

    def destroy(self, cluster: Cluster) -> None:
        raise NotImplementedError


class BinarySwapper(DockerProvisioner):
    """The docker provisioner with the engine work recorded instead of done."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.calls: list[tuple[str, str]] = []

    def replace_shipped(self, cluster: Cluster, source_image: str) -> str:
        self.calls.append((cluster.key, source_image))
        return "/bin/k3s"


class Upgrader(Bare):
    NAME = "upgrader"
    CAPABILITIES = Capabilities(upgrades=True)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.calls: list[tuple[str, str | None]] = []

    def upgrade(self, cluster: Cluster, target_version: str, *, image: str | None) -> str:
        self.calls.append((target_version, image))
        return "refreshed"


class Claims(Bare):
    """Says it upgrades, but does not implement the method."""

    NAME = "claims"
    CAPABILITIES = Capabilities(upgrades=True)


def make(cls: type[Provisioner], tmp_path: Path) -> Any:
    return cls(Settings(), RunIdentity.new(), tmp_path, Progress(None))


def test_the_docker_upgrade_takes_the_official_image_or_the_override(tmp_path: Path) -> None:
    provisioner = make(BinarySwapper, tmp_path)
    done = run_upgrade(provisioner, cluster(), "v1.37.2+k3s1")
    run_upgrade(provisioner, cluster(), "v1.37.2+k3s1", image="vendor/k3s:1")
    assert provisioner.calls == [("k", "rancher/k3s:v1.37.2-k3s1"), ("k", "vendor/k3s:1")]
    assert "replace the image's /bin" in done and "rancher/k3s:v1.37.2-k3s1" in done


def test_k0s_uses_its_own_image_repository(tmp_path: Path) -> None:
    provisioner = make(BinarySwapper, tmp_path)
    run_upgrade(provisioner, cluster("k0s", "v1.36.3+k0s.2"), "v1.37.2+k0s.0")
    assert provisioner.calls == [("k", "k0sproject/k0s:v1.37.2-k0s.0")]


def test_a_provisioner_with_its_own_upgrade_is_asked(tmp_path: Path) -> None:
    provisioner = make(Upgrader, tmp_path)
    done = run_upgrade(provisioner, cluster("microk8s", "1.33/stable"), "1.34/stable")
    assert provisioner.calls == [("1.34/stable", None)]
    assert done == "refreshed"


def test_a_claim_without_the_method_names_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(UpgradeUnsupported) as info:
        run_upgrade(make(Claims, tmp_path), cluster("microk8s", "1.33/stable"), "1.34/stable")
    message = str(info.value)
    assert "does not implement upgrade()" in message
    assert "snap refresh microk8s" in message and "claims" in message


def test_provisioners_that_do_not_upgrade_say_so(tmp_path: Path) -> None:
    # A cluster the user runs (--distro-kubeconfig) is not the plugin's to upgrade.
    for cls in (ExistingCluster, Bare):
        with pytest.raises(UpgradeUnsupported, match=f"the {cls.NAME} provisioner cannot upgrade"):
            run_upgrade(make(cls, tmp_path), cluster("k3s", "v1.36.5+k3s1"), "v1.37.1+k3s1")


@pytest.mark.parametrize(
    ("kubelet", "target", "reported"),
    [
        ("v1.37.2+k3s1", "v1.37.2+k3s1", True),
        ("v1.36.5+k3s1", "v1.37.2+k3s1", False),
        ("v1.37.2+k3s1", "v1.37.2+k3s2", False),
        ("v1.37.2+k0s", "v1.37.2+k0s.0", True),
        ("v1.34.1", "1.34/stable", True),
        ("v1.33.9", "1.34/stable", False),
    ],
)
def test_reports_version(kubelet: str, target: str, reported: bool) -> None:
    assert reports_version(kubelet, target) is reported
