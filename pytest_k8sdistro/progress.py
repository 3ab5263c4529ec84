"""Progress lines on the terminal during long waits, from any process of the run.

pytest captures output while tests run, and pytest-xdist workers have no
terminal reporter of their own; lines are written with capture suspended to the
process's real stderr, which xdist workers share with the controller.

Clusters boot in background threads while the main thread collects and runs tests.
Capture can only be suspended safely from the main thread, so lines said in other
threads wait in a queue until the main thread says something or calls
:meth:`Progress.flush` (it does while it waits for a boot, and between tests).
"""

from __future__ import annotations

import sys
import threading
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
        self._queued: list[str] = []
        self._lock = threading.Lock()

    def say(self, message: str) -> None:
        line = f"[{self._prefix}] {message}\n"
        if threading.current_thread() is not threading.main_thread():
            with self._lock:
                self._queued.append(line)
            return
        self._write([*self._take(), line])

    def flush(self) -> None:
        """Write what other threads said (from the main thread only)."""
        if threading.current_thread() is threading.main_thread():
            self._write(self._take())

    def _take(self) -> list[str]:
        with self._lock:
            lines, self._queued = self._queued, []
        return lines

    def _write(self, lines: list[str]) -> None:
        if not lines:
            return
        with self._suspend():
            sys.stderr.write("".join(lines))
            sys.stderr.flush()

    def every(self, topic: str, seconds: float, message: str) -> None:
        """Say ``message`` unless something on ``topic`` was said less than ``seconds`` ago."""
        now = time.monotonic()
        with self._lock:
            due = now - self._last.get(topic, float("-inf")) >= seconds
            if due:
                self._last[topic] = now
        if due:
            self.say(message)
