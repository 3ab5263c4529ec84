"""The registry of provisioners by name, imported on first use.

Other plugins add their own with the ``pytest_k8sdistro_add_provisioners`` hook.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from pytest_k8sdistro.provisioners.base import Provisioner, ProvisionError

__all__ = ["BUILTIN", "ProvisionError", "Provisioner", "load", "registry"]

#: name -> "module:Class"
BUILTIN: dict[str, str] = {
    "docker": "pytest_k8sdistro.provisioners.docker:DockerProvisioner",
    "existing": "pytest_k8sdistro.provisioners.existing:ExistingCluster",
    "host": "pytest_k8sdistro.provisioners.machine.host:HostProvisioner",
    # --provisioner=ssh://user@host[:port]: the registry key is the URL's scheme and
    # the settings keep the URL (Settings.provisioner_target).
    "ssh": "pytest_k8sdistro.provisioners.machine.ssh:SshProvisioner",
    "multipass": "pytest_k8sdistro.provisioners.machine.multipass:MultipassProvisioner",
}


def load(target: str | type[Provisioner]) -> type[Provisioner]:
    if not isinstance(target, str):
        return target
    module_name, _, attribute = target.partition(":")
    provisioner: type[Provisioner] = getattr(importlib.import_module(module_name), attribute)
    return provisioner


def registry(config: pytest.Config) -> dict[str, Any]:
    """Built-in provisioners plus those other plugins add: name -> class or "module:Class"."""
    found: dict[str, Any] = dict(BUILTIN)
    config.hook.pytest_k8sdistro_add_provisioners(registry=found)
    return found
