"""Sampling a figure over a settle window: min, median and max.

A single reading of a booting control plane says little: garbage collection and
controllers' resyncs move it by tens of MiB. The window is sampled at a fixed
interval and summarised; the sampler's own CPU time is kept, so its cost is known.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

MIB = 1024 * 1024


@dataclass(frozen=True)
class Summary:
    """Bytes over a window: min, median, max, and how they were taken."""

    min: int
    median: int
    max: int
    samples: int
    window_s: float
    #: CPU seconds this process spent per sample (reading, not sleeping).
    cpu_per_sample_s: float
    source: str = ""

    def mib(self, statistic: str = "median") -> float:
        return round(int(getattr(self, statistic)) / MIB, 1)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def of(cls, values: list[int], *, window_s: float, cpu_s: float, source: str) -> Summary:
        if not values:
            raise ValueError("no samples")
        return cls(
            min=min(values),
            median=int(statistics.median(values)),
            max=max(values),
            samples=len(values),
            window_s=round(window_s, 3),
            cpu_per_sample_s=cpu_s / len(values),
            source=source,
        )


def interval_for(window_s: float) -> float:
    """About 30 samples per window, never more often than every 0.2 s nor rarer than 2 s."""
    return min(2.0, max(0.2, window_s / 30))


def sample(
    read: Callable[[], int],
    window_s: float,
    *,
    interval_s: float | None = None,
    source: str = "",
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    cpu_clock: Callable[[], float] = time.process_time,
) -> Summary:
    """Read at a fixed pace for ``window_s`` seconds (at least once, then at the end)."""
    interval = interval_s if interval_s is not None else interval_for(window_s)
    start = clock()
    end = start + window_s
    values: list[int] = []
    cpu = 0.0
    next_at = start
    while True:
        before = cpu_clock()
        values.append(read())
        cpu += cpu_clock() - before
        next_at += interval
        now = clock()
        if now >= end:
            break
        sleep(max(0.0, min(next_at, end) - now))
    return Summary.of(values, window_s=clock() - start, cpu_s=cpu, source=source)
