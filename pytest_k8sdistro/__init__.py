"""pytest-k8sdistro: run conformance and behaviour suites against small Kubernetes distributions."""

from __future__ import annotations

from pytest_k8sdistro.client import Kube
from pytest_k8sdistro.cluster import Cluster, Node, RunIdentity
from pytest_k8sdistro.datastores import ExternalDatastore
from pytest_k8sdistro.distro import Distro
from pytest_k8sdistro.profiles import (
    FEATURES,
    DistroProfile,
    Expectations,
    get_profile,
    known_distros,
)
from pytest_k8sdistro.provisioners import Provisioner, ProvisionError
from pytest_k8sdistro.readiness import ReadinessTimeout
from pytest_k8sdistro.spec import DistroSpec, parse_distro

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
