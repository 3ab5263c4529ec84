"""The cluster manager's shared state, with a provisioner that records calls."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_k8sdistro import (
    Cluster,
    DistroSpec,
    ProvisionError,
    RunIdentity,
)
from pytest_k8sdistro.config.settings import Settings
from pytest_k8sdistro.distros.spec import parse_distro
from pytest_k8sdistro.errors import ClusterUnavailable
from pytest_k8sdistro.plugin.manager import ClusterManager, cluster_key
from pytest_k8sdistro.progress import Progress
from pytest_k8sdistro.provisioners.base import Provisioner


def settings(**changes: object) -> Settings:
    return Settings(distros=(parse_distro("k3s"),), provisioner="broken", **changes)  # type: ignore[arg-type]


class Broken(Provisioner):
    NAME = "broken"
    creates = 0
    sweeps = 0

    def cleanup_leftovers(self) -> None:
        type(self).sweeps += 1

    def create(self, spec: DistroSpec, key: str) -> Cluster:
        type(self).creates += 1
        raise ProvisionError("image rancher/k3s:v1.36.5-k3s1 cannot be had")

    def destroy(self, cluster: Cluster) -> None:
        raise AssertionError("nothing was created")


def manager(tmp_path: Path, run_settings: Settings) -> ClusterManager:
    progress = Progress()
    provisioner = Broken(run_settings, RunIdentity.new(), tmp_path / "work", progress)
    return ClusterManager(run_settings, provisioner, tmp_path, tmp_path / "kept", progress)


def test_a_failed_start_is_reported_to_every_later_user_without_retrying(tmp_path: Path) -> None:
    Broken.creates = Broken.sweeps = 0
    run_settings = settings()
    spec = run_settings.distros[0]
    with pytest.raises(ClusterUnavailable, match="cannot be had") as first:
        manager(tmp_path, run_settings).acquire(spec)
    assert first.value.cause == "image rancher/k3s:v1.36.5-k3s1 cannot be had"
    # A second process (another xdist worker) sharing the run directory.
    with pytest.raises(ClusterUnavailable, match=r"could not test k3s:v1.36.5\+k3s1: .* image"):
        manager(tmp_path, run_settings).acquire(spec)
    assert manager(tmp_path, run_settings).failure(spec) == first.value.cause
    assert Broken.creates == 1
    assert Broken.sweeps == 1, "leftovers are swept once per run"


def test_keys_are_stable_and_tell_images_apart() -> None:
    spec = parse_distro("k3s:v1.36.5+k3s1")
    assert cluster_key(spec, settings()) == "k3s-v1.36.5-k3s1"
    vendor = cluster_key(spec, settings(image="acme/k3s:1"))
    assert vendor.startswith("k3s-v1.36.5-k3s1-") and vendor != cluster_key(
        spec, settings(image="acme/k3s:2")
    )
    assert cluster_key(spec, settings(nodes=3)) != cluster_key(spec, settings())
    # A kept single-stack cluster is never reused for a dual-stack run.
    dual = cluster_key(spec, settings(ip_family="dual"))
    assert dual.startswith("k3s-v1.36.5-k3s1-") and dual != cluster_key(spec, settings())
