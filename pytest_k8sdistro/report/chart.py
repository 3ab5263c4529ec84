"""The memory-per-tier chart, drawn with matplotlib (the ``report`` extra).

Grouped bars: one group per tier, one bar per distribution at the median, with
a whisker from min to max, and each distribution's idle threshold as a dashed line.
"""

from __future__ import annotations

import io
from typing import Any

from pytest_k8sdistro.report.model import Report


class ChartUnavailable(RuntimeError):
    """matplotlib is not installed."""


def memory_chart_png(report: Report, *, dpi: int = 110) -> bytes | None:
    """PNG bytes of the chart, or None when no tier was measured."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display in CI; must come before pyplot
        from matplotlib import pyplot
    except ImportError as exc:
        raise ChartUnavailable(
            "the chart needs matplotlib: pip install 'pytest-k8sdistro[report]'"
        ) from exc

    keys = [k for k, e in report["distros"].items() if e.get("memory")]
    if not keys:
        return None
    tiers: list[str] = []
    for key in keys:
        tiers += [t for t in report["distros"][key]["memory"] if t not in tiers]

    figure, axes = pyplot.subplots(figsize=(max(6.0, 1.8 * len(tiers) * max(1, len(keys))), 4.2))
    width = 0.8 / len(keys)
    colours: list[Any] = pyplot.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, key in enumerate(keys):
        memory = report["distros"][key]["memory"]
        xs, medians, low, high = [], [], [], []
        for position, tier in enumerate(tiers):
            figures = memory.get(tier) or {}
            if figures.get("median_mib") is None:
                continue
            median = float(figures["median_mib"])
            xs.append(position - 0.4 + width * (index + 0.5))
            medians.append(median)
            low.append(median - float(figures.get("min_mib", median)))
            high.append(float(figures.get("max_mib", median)) - median)
        colour = colours[index % len(colours)]
        bars = axes.bar(xs, medians, width * 0.9, label=key, color=colour)
        axes.errorbar(xs, medians, yerr=[low, high], fmt="none", ecolor="black", capsize=3)
        axes.bar_label(bars, labels=[f"{m:.0f}" for m in medians], padding=2, fontsize=8)
        limit = report["distros"][key].get("memory_threshold", {}).get("limit_mib")
        if limit is None:
            limit = report["distros"][key].get("requirements", {}).get("memory_idle_max_mib")
        if limit is not None:
            axes.axhline(float(limit), color=colour, linestyle="--", linewidth=1)
    axes.set_xticks(range(len(tiers)), tiers)
    axes.set_ylabel("working set, MiB (median; whiskers min-max)")
    axes.set_title("Memory per tier (dashed: idle threshold)")
    axes.legend(fontsize=8, loc="upper left")
    axes.set_ylim(bottom=0)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    pyplot.close(figure)
    return buffer.getvalue()
