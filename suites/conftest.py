"""Fixtures shared by the suites.

The suites' own options (``--suite-timeout``, ``--suite-hold``, ``--suite-image``)
and the ``suite_timeouts`` and ``suite_image`` fixtures come with the plugin.
"""

from __future__ import annotations

import pytest
from suite_support import Workloads

from pytest_k8sdistro import known_distros
from pytest_k8sdistro.suite import Kube, Timeouts


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # These suites test a distribution: run without one, they would skip every test
    # and end green having tested nothing.
    chosen = config.getoption("distro") or config.getini("k8sdistro_distros")
    if items and not chosen and not config.getoption("k8sdistro_kubeconfig"):
        raise pytest.UsageError(
            "the suites test a distribution, and none was chosen: pass --distro=NAME "
            f"({', '.join(known_distros())}; repeat it to test several side by side), or "
            "--kubeconfig=PATH --distro=NAME to test a cluster that is already running"
        )


@pytest.fixture
def work(kube: Kube, namespace: str, suite_image: str, suite_timeouts: Timeouts) -> Workloads:
    """Deploys fixtures/ manifests into this test's namespace."""
    return Workloads(kube, namespace, suite_image, suite_timeouts)
