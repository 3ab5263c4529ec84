"""Polling in tests that talk to a running stand-in's API."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest


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
