"""Shared test configuration. Sections belong to their owners; keep each one short."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Generator
from pathlib import Path

import pytest

# The stand-in's packages (k8s_standin, image, standin_provisioner) for the tests only;
# set here rather than as an ini "pythonpath", which would reach runs of the suites.
sys.path.insert(0, str(Path(__file__).resolve().parent / "standin"))

# What the plugin remembers between runs (the engine's privileges) goes to a directory
# of the test session's machine user, never to the developer's own ~/.cache; every
# process of the session, pytester's included, shares it as runs on one machine do.
os.environ.setdefault(
    "K8SDISTRO_CACHE_DIR", os.path.join(tempfile.gettempdir(), f"k8sdistro-tests-{os.getuid()}")
)

# The plugin's own tests drive pytest with pytester; the suites never need it.
# vm.support gates tests marked `vm` on QEMU: skip without it, fail when
# K8SDISTRO_REQUIRE_VM=1 (tests/vm/support.py).
pytest_plugins = ["pytester", "vm.support"]

# The engine client and per-test image tags of the docker tests (tests/docker_fixtures.py).
from docker_fixtures import alias, engine  # noqa: E402, F401

# Docker gating for tests marked `docker`: skip without an engine, fail when
# K8SDISTRO_REQUIRE_DOCKER=1 (CI). See tests/docker_support.py.
from docker_support import pytest_runtest_setup  # noqa: E402, F401

# Stand-in k3s/k0s images built locally (tests/standin/image).
from image.fixtures import standin_images  # noqa: E402, F401

# An sshd container to install on (tests/sshd, the host/ssh provisioners' tests).
from sshd.fixtures import ssh_machine  # noqa: E402, F401

# pytester restores sys.modules after each test that uses it, dropping what the test
# imported first. numpy cannot be imported twice in one process, and the kubernetes
# client imports its models lazily, so a second import leaves two V1ConfigMap classes
# that its own validation tells apart. Such modules are put back after the teardown.
IMPORT_ONCE = frozenset({"kubernetes", "numpy", "matplotlib"})


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    loaded = {n: m for n, m in sys.modules.items() if n.partition(".")[0] in IMPORT_ONCE}
    try:
        return (yield)
    finally:
        for name, module in loaded.items():
            sys.modules.setdefault(name, module)
