"""What the shipped suites need beyond the plugin: a distribution to test.

Fixtures (``work``, ``kube``, ``namespace`` ...) and options (``--distro-suite-timeout``
...) come with the plugin, so suites of one's own beside these get them too.
"""

from __future__ import annotations

import pytest

from pytest_k8sdistro.suite import known_distros


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # These suites test a distribution: run without one, they would skip every test
    # and end green having tested nothing.
    chosen = config.getoption("distro") or config.getini("distro")
    if items and not chosen and not config.getoption("k8sdistro_kubeconfig"):
        raise pytest.UsageError(
            "the suites test a distribution, and none was chosen: pass --distro=NAME "
            f"({', '.join(known_distros())}; repeat it to test several side by side), or "
            "--distro-kubeconfig=PATH --distro=NAME to test a cluster that is already running"
        )
