"""The registry of distribution profiles, one module each, imported on first use."""

from __future__ import annotations

import importlib

from pytest_k8sdistro.distros.profile import FEATURES, DistroProfile, Expectations

_MODULES: dict[str, str] = {
    "k3s": "pytest_k8sdistro.distros.k3s",
    "k0s": "pytest_k8sdistro.distros.k0s",
    "microk8s": "pytest_k8sdistro.distros.microk8s",
}

__all__ = ["FEATURES", "DistroProfile", "Expectations", "get_profile", "known_distros"]


def known_distros() -> tuple[str, ...]:
    return tuple(_MODULES)


def get_profile(name: str) -> DistroProfile:
    """The profile called ``name``; ``KeyError`` when there is none."""
    module = importlib.import_module(_MODULES[name])
    profile: DistroProfile = module.PROFILE
    return profile
