"""Hooks that other plugins implement to extend pytest-k8sdistro.

Both are called once per run, while pytest configures, with a dict to add to; what
a plugin adds gets the same option checks, parametrization, measurements and
report rows as what ships with this package.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.hookspec
def pytest_k8sdistro_add_distros(registry: dict[str, Any]) -> None:
    """Add distributions: ``registry[name] = DistroProfile`` or ``"module:ATTRIBUTE"``.

    The profile's ``name`` must be the key. Built-in names cannot be replaced; change
    a built-in distribution's expectations with ``--distro-expect`` instead.
    """


@pytest.hookspec
def pytest_k8sdistro_add_provisioners(registry: dict[str, Any]) -> None:
    """Add provisioners: ``registry[name] = Provisioner subclass`` or ``"module:Class"``.

    The class declares what it can do in ``CAPABILITIES``; every option check and
    suite decision reads that, never the name.
    """
