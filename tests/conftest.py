"""Shared test configuration. Sections belong to their owners; keep each one short."""

from __future__ import annotations

# Docker gating for tests marked `docker`: skip without an engine, fail when
# K8SDISTRO_REQUIRE_DOCKER=1 (CI). See tests/docker_support.py.
from docker_support import pytest_runtest_setup  # noqa: F401

# Stand-in k3s/k0s images built locally (tests/standin/image).
from image.fixtures import standin_images  # noqa: F401

# An sshd container to install on (tests/sshd, the host/ssh provisioners' tests).
from sshd.fixtures import ssh_machine  # noqa: F401
