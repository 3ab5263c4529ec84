"""pytest-k8sdistro: run conformance and behaviour suites against small Kubernetes distributions."""

from __future__ import annotations

from pytest_k8sdistro.distros.distro import Distro
from pytest_k8sdistro.distros.registry import (
    FEATURES,
    DistroProfile,
    Expectations,
    get_profile,
    known_distros,
)
from pytest_k8sdistro.distros.spec import DistroSpec, parse_distro
from pytest_k8sdistro.kube.client import Kube
from pytest_k8sdistro.kube.readiness import ReadinessTimeout
from pytest_k8sdistro.model.cluster import Cluster, Node, RunIdentity
from pytest_k8sdistro.model.datastore import ExternalDatastore
from pytest_k8sdistro.provisioners.registry import Provisioner, ProvisionError

__all__ = [
    "FEATURES",
    "Cluster",
    "Distro",
    "DistroProfile",
    "DistroSpec",
    "Expectations",
    "ExternalDatastore",
    "Kube",
    "Node",
    "ProvisionError",
    "Provisioner",
    "ReadinessTimeout",
    "RunIdentity",
    "get_profile",
    "known_distros",
    "parse_distro",
]
