"""Polling in tests that talk to a running stand-in's API."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from pytest_k8sdistro.kube import api as kube_clients
from pytest_k8sdistro.kube.client import Kube


def eventually(check: Callable[[], Any], timeout: float = 5.0, interval: float = 0.05) -> Any:
    """Poll until `check` returns a truthy value; fail with the last value seen."""
    __tracebackhide__ = True
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout}s; last value: {last!r}")


def api_version(kubeconfig: str, timeout: float = 180.0) -> str:
    """The API's git version once it answers. A provisioner hands over a cluster once its
    kubeconfig exists, and the API may start listening a moment later (the plugin's
    readiness stage waits for it, as tests that ask at once must too)."""
    deadline = time.monotonic() + timeout
    while True:
        api = kube_clients.api_client(kubeconfig)
        try:
            return str(Kube(api).version.get_code().git_version)
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
        finally:
            api.close()  # type: ignore[no-untyped-call]
