"""Progress lines on the terminal during long waits, from any process of the run.

pytest captures output while tests run, and pytest-xdist workers have no
terminal reporter of their own; lines are written with capture suspended to the
process's real stderr, which xdist workers share with the controller.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

Suspender = Callable[[], AbstractContextManager[object]]


class Progress:
    def __init__(
        self, suspend_capture: Suspender | None = None, *, prefix: str = "k8sdistro"
    ) -> None:
        self._suspend = suspend_capture or nullcontext
        self._prefix = prefix
        self._last: dict[str, float] = {}

    def say(self, message: str) -> None:
        with self._suspend():
            sys.stderr.write(f"[{self._prefix}] {message}\n")
            sys.stderr.flush()

    def every(self, topic: str, seconds: float, message: str) -> None:
        """Say ``message`` unless something on ``topic`` was said less than ``seconds`` ago."""
        now = time.monotonic()
        if now - self._last.get(topic, float("-inf")) >= seconds:
            self._last[topic] = now
            self.say(message)
