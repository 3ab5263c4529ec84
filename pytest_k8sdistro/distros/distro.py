"""The distribution under test, as the ``distro`` fixture hands it to tests."""

from __future__ import annotations

from dataclasses import dataclass

from pytest_k8sdistro.distros.profile import DistroProfile, Expectations
from pytest_k8sdistro.distros.spec import DistroSpec


@dataclass(frozen=True)
class Distro:
    spec: DistroSpec
    profile: DistroProfile
    expectations: Expectations

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def version(self) -> str:
        return self.spec.version

    def claims(self, feature: str) -> bool:
        return feature in self.expectations.features()
