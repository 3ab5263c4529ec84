"""Fixtures shared by the suites.

The suites' own options (``--suite-timeout``, ``--suite-hold``, ``--suite-image``)
and the ``suite_timeouts`` and ``suite_image`` fixtures come with the plugin.
"""

from __future__ import annotations

import pytest
from suite_support import Workloads

from pytest_k8sdistro.suite import Kube, Timeouts


@pytest.fixture
def work(kube: Kube, namespace: str, suite_image: str, suite_timeouts: Timeouts) -> Workloads:
    """Deploys fixtures/ manifests into this test's namespace."""
    return Workloads(kube, namespace, suite_image, suite_timeouts)
