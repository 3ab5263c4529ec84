"""Distribution profiles: versions, images and claimed features."""

from __future__ import annotations

import pytest

from pytest_k8sdistro.distros.profile import FEATURES
from pytest_k8sdistro.distros.registry import get_profile, known_distros
from pytest_k8sdistro.distros.spec import parse_distro


@pytest.mark.parametrize(
    ("value", "version"),
    [
        ("k3s", "v1.36.5+k3s1"),
        ("k3s:v1.31.4+k3s1", "v1.31.4+k3s1"),
        ("k3s:v1.31.4-k3s1", "v1.31.4+k3s1"),
        ("K3S:1.31.4+k3s2", "v1.31.4+k3s2"),
        ("k0s:v1.36.3-k0s.2", "v1.36.3+k0s.2"),
        ("microk8s:1.32", "1.32"),
        ("microk8s:1.32/edge", "1.32/edge"),
    ],
)
def test_versions_are_normalised(value: str, version: str) -> None:
    assert parse_distro(value).version == version


def test_image_tags_use_dashes() -> None:
    assert get_profile("k3s").image("v1.31.4+k3s1") == "rancher/k3s:v1.31.4-k3s1"
    assert get_profile("k0s").image("v1.36.3+k0s.2") == "k0sproject/k0s:v1.36.3-k0s.2"
    assert get_profile("microk8s").image("1.33/stable") is None


def test_every_distro_has_a_profile_with_sources() -> None:
    for name in known_distros():
        profile = get_profile(name)
        assert profile.name == name
        assert profile.normalise_version(profile.default_version) == profile.default_version
        assert profile.sources


def test_features_follow_the_expectations() -> None:
    k3s = get_profile("k3s").expectations.features()
    k0s = get_profile("k0s").expectations.features()
    assert {"storage", "ingress", "load-balancer", "ipv6"} <= k3s
    assert not {"storage", "ingress", "load-balancer"} & k0s
    assert k3s <= set(FEATURES) and k0s <= set(FEATURES)


def test_overrides_reject_unknown_keys() -> None:
    expectations = get_profile("k0s").expectations
    assert expectations.with_overrides({"storage_class": "openebs"}).storage_class == "openebs"
    with pytest.raises(KeyError, match="storage_klass"):
        expectations.with_overrides({"storage_klass": "x"})


@pytest.mark.parametrize(
    "version",
    ["v1.36.3+k0s.2", "v1.36.3-rc.0+k0s.1", "v1.37.0-alpha.1+k0s.0", "v1.34.0-beta.0-rc.0+k0s.0"],
)
def test_k0s_accepts_every_form_its_releases_are_tagged_in(version: str) -> None:
    # k0sproject/k0s tags, v1.31 to v1.37.
    assert get_profile("k0s").normalise_version(version) == version


def test_a_version_range_changes_the_expectations_of_the_versions_it_covers() -> None:
    microk8s = get_profile("microk8s")
    assert microk8s.expectations_at("1.34/stable").ingress_classes == ("public", "nginx")
    assert microk8s.expectations_at("1.35/stable").ingress_classes == ("public", "nginx", "traefik")
    assert microk8s.expectations_at("1.36/edge").ingress_classes == ("public", "nginx", "traefik")
