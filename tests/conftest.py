"""Shared test configuration. Sections belong to their owners; keep each one short."""

from __future__ import annotations

import contextlib

# pytester restores sys.modules after each test that uses it, dropping what the test
# imported first; numpy (under matplotlib) and the kubernetes client's models break when
# imported again in the same process. Importing them here keeps them loaded for good.
import kubernetes.client  # noqa: F401

# The engine client and per-test image tags of the docker tests (tests/docker_fixtures.py).
from docker_fixtures import alias, engine  # noqa: F401

# Docker gating for tests marked `docker`: skip without an engine, fail when
# K8SDISTRO_REQUIRE_DOCKER=1 (CI). See tests/docker_support.py.
from docker_support import pytest_runtest_setup  # noqa: F401

# Stand-in k3s/k0s images built locally (tests/standin/image).
from image.fixtures import standin_images  # noqa: F401

# An sshd container to install on (tests/sshd, the host/ssh provisioners' tests).
from sshd.fixtures import ssh_machine  # noqa: F401

with contextlib.suppress(ImportError):  # matplotlib is the optional report extra
    import matplotlib.pyplot  # noqa: F401
