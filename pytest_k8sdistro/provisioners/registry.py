"""The registry of provisioners by name, imported on first use.

Other plugins add their own with the ``pytest_k8sdistro_add_provisioners`` hook.
"""

from __future__ import annotations

import importlib
from typing import Any

from pytest_k8sdistro.provisioners.base import Provisioner

__all__ = ["BUILTIN", "DEFAULT", "FOR_KUBECONFIG", "load", "registry"]

#: name -> "module:Class"
BUILTIN: dict[str, str] = {
    "docker": "pytest_k8sdistro.provisioners.docker.provisioner:DockerProvisioner",
    "existing": "pytest_k8sdistro.provisioners.existing:ExistingCluster",
    "host": "pytest_k8sdistro.provisioners.machine.host:HostProvisioner",
    # --distro-provisioner=ssh://user@host[:port]: the registry key is the URL's scheme and
    # the settings keep the URL (ProvisionerConfig.provisioner_target).
    "ssh": "pytest_k8sdistro.provisioners.machine.ssh:SshProvisioner",
    "multipass": "pytest_k8sdistro.provisioners.machine.multipass:MultipassProvisioner",
    "qemu": "pytest_k8sdistro.provisioners.machine.qemu.provisioner:QemuProvisioner",
}
#: The provisioner a run uses when none is named.
DEFAULT = "docker"
#: The provisioner a run uses with ``--distro-kubeconfig``: it starts nothing.
FOR_KUBECONFIG = "existing"


def load(target: str | type[Provisioner]) -> type[Provisioner]:
    """The class ``target`` names ("module:Class"), or ``target`` itself."""
    if not isinstance(target, str):
        return target
    module_name, _, attribute = target.partition(":")
    provisioner: type[Provisioner] = getattr(importlib.import_module(module_name), attribute)
    return provisioner


def registry(config: Any) -> dict[str, Any]:
    """Built-in provisioners plus those other plugins add: name -> class or "module:Class".

    ``config`` is the pytest config, whose hook asks every plugin for its own.
    """
    found: dict[str, Any] = dict(BUILTIN)
    config.hook.pytest_k8sdistro_add_provisioners(registry=found)
    return found
