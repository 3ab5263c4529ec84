"""pytest-k8sdistro: run conformance and behaviour suites against small Kubernetes distributions.

The names below are the API for plugins that add distributions or provisioners; suite
authors import from :mod:`pytest_k8sdistro.suite`. Each is imported on first use, so
that loading the plugin into a pytest run that tests no distribution costs nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: Public name -> the module that defines it.
_HOMES: dict[str, str] = {
    "FEATURES": "pytest_k8sdistro.distros.profile",
    "Addons": "pytest_k8sdistro.distros.profile",
    "ContainerStart": "pytest_k8sdistro.distros.profile",
    "DistroProfile": "pytest_k8sdistro.distros.profile",
    "Expectations": "pytest_k8sdistro.distros.profile",
    "ExternalDatastores": "pytest_k8sdistro.distros.profile",
    "KubeconfigSource": "pytest_k8sdistro.distros.profile",
    "MachineInstall": "pytest_k8sdistro.distros.profile",
    "NodeText": "pytest_k8sdistro.distros.profile",
    "Readiness": "pytest_k8sdistro.distros.profile",
    "Upgrade": "pytest_k8sdistro.distros.profile",
    "VersionRange": "pytest_k8sdistro.distros.profile",
    "Distro": "pytest_k8sdistro.distros.distro",
    "DistroSpec": "pytest_k8sdistro.distros.spec",
    "parse_distro": "pytest_k8sdistro.distros.spec",
    "get_profile": "pytest_k8sdistro.distros.registry",
    "known_distros": "pytest_k8sdistro.distros.registry",
    "ConfigError": "pytest_k8sdistro.errors",
    "K8sDistroError": "pytest_k8sdistro.errors",
    "ProvisionError": "pytest_k8sdistro.errors",
    "ReadinessTimeout": "pytest_k8sdistro.errors",
    "Kube": "pytest_k8sdistro.kube.client",
    "Cluster": "pytest_k8sdistro.model.cluster",
    "Node": "pytest_k8sdistro.model.cluster",
    "RunIdentity": "pytest_k8sdistro.model.cluster",
    "ExternalDatastore": "pytest_k8sdistro.model.datastore",
    "Capabilities": "pytest_k8sdistro.provisioners.base",
    "NodeAccess": "pytest_k8sdistro.provisioners.base",
    "Provisioner": "pytest_k8sdistro.provisioners.base",
    "ProvisionerConfig": "pytest_k8sdistro.provisioners.base",
}

__all__ = [
    "FEATURES",
    "Addons",
    "Capabilities",
    "Cluster",
    "ConfigError",
    "ContainerStart",
    "Distro",
    "DistroProfile",
    "DistroSpec",
    "Expectations",
    "ExternalDatastore",
    "ExternalDatastores",
    "K8sDistroError",
    "Kube",
    "KubeconfigSource",
    "MachineInstall",
    "Node",
    "NodeAccess",
    "NodeText",
    "ProvisionError",
    "Provisioner",
    "ProvisionerConfig",
    "Readiness",
    "ReadinessTimeout",
    "RunIdentity",
    "Upgrade",
    "VersionRange",
    "get_profile",
    "known_distros",
    "parse_distro",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'pytest_k8sdistro' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})


if TYPE_CHECKING:
    from pytest_k8sdistro.distros.distro import Distro
    from pytest_k8sdistro.distros.profile import (
        FEATURES,
        Addons,
        ContainerStart,
        DistroProfile,
        Expectations,
        ExternalDatastores,
        KubeconfigSource,
        MachineInstall,
        NodeText,
        Readiness,
        Upgrade,
        VersionRange,
    )
    from pytest_k8sdistro.distros.registry import get_profile, known_distros
    from pytest_k8sdistro.distros.spec import DistroSpec, parse_distro
    from pytest_k8sdistro.errors import (
        ConfigError,
        K8sDistroError,
        ProvisionError,
        ReadinessTimeout,
    )
    from pytest_k8sdistro.kube.client import Kube
    from pytest_k8sdistro.model.cluster import Cluster, Node, RunIdentity
    from pytest_k8sdistro.model.datastore import ExternalDatastore
    from pytest_k8sdistro.provisioners.base import (
        Capabilities,
        NodeAccess,
        Provisioner,
        ProvisionerConfig,
    )
