"""The fixtures tests use: distro, cluster, kube, namespace and node, and the ones
suites measure with: the run's provisioner, a second cluster, the upgrade plan."""

from __future__ import annotations

import dataclasses
import itertools
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_k8sdistro.config.footprint import FootprintSettings
from pytest_k8sdistro.distros.distro import Distro
from pytest_k8sdistro.distros.registry import known_distros
from pytest_k8sdistro.distros.spec import DistroSpec
from pytest_k8sdistro.errors import ClusterUnavailable
from pytest_k8sdistro.measure.upgrade.plan import UpgradePlan
from pytest_k8sdistro.model.cluster import Cluster, RunIdentity
from pytest_k8sdistro.model.timeouts import Timeouts
from pytest_k8sdistro.plugin.report import footprint_settings
from pytest_k8sdistro.plugin.session import K8sDistroSession
from pytest_k8sdistro.provisioners.base import Provisioner

if TYPE_CHECKING:
    from pytest_k8sdistro.kube.client import Kube
    from pytest_k8sdistro.plugin.manager import ClusterManager
    from pytest_k8sdistro.suite.workloads import Workloads

session_key = pytest.StashKey[K8sDistroSession]()
outcome_key = pytest.StashKey[dict[str, pytest.TestReport]]()


def _session(request: pytest.FixtureRequest) -> K8sDistroSession:
    return request.config.stash[session_key]


@pytest.fixture(scope="session")
def k8sdistro_spec(request: pytest.FixtureRequest) -> DistroSpec:
    """The distribution this test runs against (parametrized over ``--distro``)."""
    spec: DistroSpec | None = getattr(request, "param", None)
    if spec is None:
        pytest.skip(f"no distribution selected: pass --distro=NAME ({', '.join(known_distros())})")
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
    # ClusterUnavailable propagates as it is: the plugin reports it as "could not
    # test" (an error, never a failure), with the cause once in the summary.
    found = _session(request).cluster(k8sdistro_spec)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KUBECONFIG", found.kubeconfig)
        yield found


@pytest.fixture(scope="session")
def kube(cluster: Cluster) -> Iterator[Kube]:
    """An API client bound to ``cluster``."""
    # Imported on first use: a run that tests no cluster does not pay for the client.
    from pytest_k8sdistro.kube.api import api_client
    from pytest_k8sdistro.kube.client import Kube

    api = api_client(cluster.kubeconfig)
    try:
        yield Kube(api)
    finally:
        api.close()  # type: ignore[no-untyped-call]


@pytest.fixture
def namespace(request: pytest.FixtureRequest, kube: Kube) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards unless kept for debugging."""
    state = _session(request)
    from pytest_k8sdistro.kube import namespaces

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


@pytest.fixture(scope="session")
def k8sdistro_provisioner(request: pytest.FixtureRequest) -> Provisioner:
    """The provisioner that brought the run's clusters up; its ``CAPABILITIES`` say what
    it can do, and measurements reach the nodes through it."""
    return _session(request).manager.provisioner


@pytest.fixture(scope="session")
def k8sdistro_run(request: pytest.FixtureRequest) -> RunIdentity:
    """Who this run is: resources it labels carry this run id."""
    return _session(request).run


@pytest.fixture(scope="session")
def k8sdistro_run_dir(request: pytest.FixtureRequest) -> Path:
    """A directory every process of the run (xdist workers too) shares, for results."""
    return _session(request).run_dir()


@pytest.fixture(scope="session")
def k8sdistro_footprint(request: pytest.FixtureRequest) -> FootprintSettings:
    """The footprint options: report path, tiers, settle window, ``--distro-memory-max``."""
    return footprint_settings(request.config)


@pytest.fixture(scope="session")
def k8sdistro_upgrade_plan(request: pytest.FixtureRequest) -> UpgradePlan:
    """The upgrade asked for with ``--distro-upgrade-to``; skips the test without one (before
    any cluster starts, when it comes first in the test's arguments)."""
    plan = _session(request).settings.upgrade
    if plan is None:
        pytest.skip(
            "no upgrade asked for: pass --distro-upgrade-to=VERSION (and --distro=NAME:FROM)"
        )
    return plan


@pytest.fixture(scope="session")
def k8sdistro_other_cluster(
    request: pytest.FixtureRequest,
) -> Iterator[Callable[..., AbstractContextManager[Cluster]]]:
    """Start a second cluster of a distribution with some settings changed, e.g.
    ``with k8sdistro_other_cluster(spec, node_memory=2**30) as cluster:``, or none
    changed, for measurements that must not see other tests' pods.

    It is made and removed by the run's provisioner, with a manager of its own, so the
    run's own cluster is never touched; a start that fails raises the provisioner's
    error. Clusters still up at the end of the session are removed then.
    """
    from pytest_k8sdistro.plugin.manager import ClusterManager

    state = _session(request)
    managers: list[ClusterManager] = []
    counter = itertools.count()

    @contextmanager
    def start(spec: DistroSpec, **changes: Any) -> Iterator[Cluster]:
        provisioner_class = type(state.manager.provisioner)
        if not provisioner_class.CAPABILITIES.second_cluster:
            pytest.skip(
                f"the {provisioner_class.NAME} provisioner has one machine, which holds the "
                "run's cluster: this check needs a cluster of its own beside it "
                "(a provisioner that starts a machine per cluster has one)"
            )
        failed = state.manager.failure(spec)
        if failed is not None:
            # The same machine could not start it without the changes: another try
            # would only repeat that, and could not mean anything about them.
            raise ClusterUnavailable(str(spec), failed)
        settings = dataclasses.replace(state.settings, reuse=False, **changes)
        # Its own key and directory in every process (xdist workers each start theirs).
        suffix = f"o{os.getpid()}{next(counter)}"
        workdir = state.run_dir() / f"k8sdistro-{suffix}"
        (workdir / "k8sdistro").mkdir(parents=True, exist_ok=True)
        progress = state.progress()
        provisioner = provisioner_class(settings, state.run, workdir / "k8sdistro", progress)
        manager = ClusterManager(
            settings, provisioner, workdir, state.kept_dir(), progress, key_suffix=suffix
        )
        managers.append(manager)
        try:
            yield manager.acquire(spec)
        finally:
            manager.release_all(failed=request.session.testsfailed > 0)
            managers.remove(manager)

    yield start
    for manager in list(managers):
        manager.release_all(failed=True)


@pytest.fixture(scope="session")
def suite_timeouts(request: pytest.FixtureRequest) -> Timeouts:
    """``--distro-suite-timeout`` and ``--distro-suite-hold`` (or their ini settings)."""
    return _session(request).settings.suite_timeouts


@pytest.fixture(scope="session")
def suite_image(request: pytest.FixtureRequest) -> str:
    """The busybox image the suites' workloads run (``--distro-suite-image``)."""
    return _session(request).settings.suite_image


@pytest.fixture
def work(kube: Kube, namespace: str, suite_image: str, suite_timeouts: Timeouts) -> Workloads:
    """Deploys the suites' manifests (web pods, services, probes) into ``namespace``."""
    from pytest_k8sdistro.suite.workloads import Workloads

    return Workloads(kube, namespace, suite_image, suite_timeouts)
