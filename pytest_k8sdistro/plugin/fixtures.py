"""The fixtures tests use: distro, cluster, kube, namespace and node."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pytest_k8sdistro.distros.distro import Distro
from pytest_k8sdistro.distros.spec import DistroSpec
from pytest_k8sdistro.kube import api as kube_clients
from pytest_k8sdistro.kube import namespaces
from pytest_k8sdistro.kube.client import Kube
from pytest_k8sdistro.kube.readiness import ReadinessTimeout
from pytest_k8sdistro.model.cluster import Cluster
from pytest_k8sdistro.plugin.session import K8sDistroSession
from pytest_k8sdistro.provisioners.base import ProvisionError

session_key = pytest.StashKey[K8sDistroSession]()
outcome_key = pytest.StashKey[dict[str, pytest.TestReport]]()


def _session(request: pytest.FixtureRequest) -> K8sDistroSession:
    return request.config.stash[session_key]


@pytest.fixture(scope="session")
def k8sdistro_spec(request: pytest.FixtureRequest) -> DistroSpec:
    """The distribution this test runs against (parametrized over ``--distro``)."""
    spec: DistroSpec | None = getattr(request, "param", None)
    if spec is None:
        pytest.skip("no distribution selected: pass --distro=NAME (k3s, k0s or microk8s)")
    return spec


@pytest.fixture(scope="session")
def distro(request: pytest.FixtureRequest, k8sdistro_spec: DistroSpec) -> Distro:
    """The profile and expectations (with ``--distro-expect`` changes) under test."""
    expectations = _session(request).settings.expectations(k8sdistro_spec)
    return Distro(spec=k8sdistro_spec, profile=k8sdistro_spec.profile, expectations=expectations)


@pytest.fixture(scope="session")
def cluster(request: pytest.FixtureRequest, k8sdistro_spec: DistroSpec) -> Iterator[Cluster]:
    """The running cluster, one per distribution for the whole run (xdist included).

    ``KUBECONFIG`` points at its private kubeconfig for subprocesses that tests
    start (kubectl, helm); the user's own kubeconfig is never used or changed.
    """
    try:
        found = _session(request).manager.acquire(k8sdistro_spec)
    except (ProvisionError, ReadinessTimeout) as exc:
        # The message says what was missing and what to do; the plugin's own
        # frames would only hide it.
        pytest.fail(str(exc), pytrace=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KUBECONFIG", found.kubeconfig)
        yield found


@pytest.fixture(scope="session")
def kube(cluster: Cluster) -> Iterator[Kube]:
    """An API client bound to ``cluster``."""
    api = kube_clients.api_client(cluster.kubeconfig)
    try:
        yield Kube(api)
    finally:
        api.close()  # type: ignore[no-untyped-call]


@pytest.fixture
def namespace(request: pytest.FixtureRequest, kube: Kube) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards unless kept for debugging."""
    state = _session(request)
    name = namespaces.create(kube, namespaces.name_for(request.node.name), state.run.run_id)
    yield name
    reports = request.node.stash.get(outcome_key, {})
    failed = any(report.failed for report in reports.values())
    if failed and state.settings.keep.keeps(failed=True):
        state.progress().say(f"kept namespace {name} of failed test {request.node.nodeid}")
        return
    namespaces.delete(kube, name)


@pytest.fixture(scope="session")
def node(cluster: Cluster) -> Any:
    """A testinfra host inside the cluster's first node."""
    import testinfra

    return testinfra.get_host(cluster.nodes[0].host_spec)
