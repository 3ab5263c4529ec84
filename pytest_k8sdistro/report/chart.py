"""The report's charts, drawn with matplotlib (the ``report`` extra).

Memory per tier: grouped bars, one group per tier, one bar per distribution at the
median, with a whisker from min to max, and each distribution's idle threshold as a
dashed line.

Upgrade timeline: the workload prober's requests (latency of the answered ones,
failed ones as marks on a baseline, outages shaded) above a band of the API
prober's availability, with the suite's marks as vertical lines.
"""

from __future__ import annotations

import io
from typing import Any

from pytest_k8sdistro.errors import ChartUnavailable
from pytest_k8sdistro.report.model import Report


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display in CI; must come before pyplot
        from matplotlib import pyplot
    except ImportError as exc:
        raise ChartUnavailable(
            "the chart needs matplotlib: pip install 'pytest-k8sdistro[report]'"
        ) from exc
    return pyplot


def _png(pyplot: Any, figure: Any, dpi: int) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    pyplot.close(figure)
    return buffer.getvalue()


def memory_chart_png(report: Report, *, dpi: int = 110) -> bytes | None:
    """PNG bytes of the chart, or None when no tier was measured."""
    pyplot = _pyplot()

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
    return _png(pyplot, figure, dpi)


OK_COLOUR, FAILED_COLOUR, OUTAGE_COLOUR = "tab:blue", "tab:red", "#f4b6b6"
MARK_STYLES = ("tab:purple", "tab:orange", "tab:green", "tab:gray", "tab:brown")


def upgrade_title(key: str, timeline: dict[str, Any]) -> str:
    moved = f"{timeline.get('from_version') or '?'} \u2192 {timeline.get('to_version') or '?'}"
    distro = timeline.get("distro") or key.split(" ", 1)[0]
    figures = []
    if timeline.get("longest_gap_s") is not None:
        figures.append(f"longest gap {float(timeline['longest_gap_s']):.2f} s")
    if timeline.get("total_failed_s") is not None:
        figures.append(f"total failed {float(timeline['total_failed_s']):.2f} s")
    verdict = timeline.get("verdict") or "no verdict"
    return f"{distro} {moved}\n{verdict}" + (f" ({', '.join(figures)})" if figures else "")


def _span(axes: Any, outage: dict[str, Any], width: float) -> None:
    """Shade an outage, at least 0.5 % of the plot wide: a 2 s outage in a long
    upgrade would otherwise be a hairline."""
    start, end = float(outage["start"]), float(outage["end"])
    pad = max(0.0, 0.005 * width - (end - start)) / 2
    axes.axvspan(start - pad, end + pad, color=OUTAGE_COLOUR, lw=0)


def upgrade_chart_png(key: str, timeline: dict[str, Any], *, dpi: int = 110) -> bytes:
    """PNG bytes of one upgrade's timeline (see :mod:`.timeline` for its form)."""
    pyplot = _pyplot()
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    figure, (top, band) = pyplot.subplots(
        2,
        1,
        sharex=True,
        figsize=(10.0, 4.8),
        gridspec_kw={"height_ratios": [4, 1], "hspace": 0.08},
    )
    workload = timeline.get("workload") or []
    api = timeline.get("control_plane") or []
    ends = [r[0] for r in workload + api] + [float(m["at"]) for m in timeline.get("marks") or []]
    width = (max(ends) - min(0.0, *ends)) if ends else 0.0
    answered = [r for r in workload if r[2]]
    failed = [r for r in workload if not r[2]]
    outages = timeline.get("outages") or {}
    for outage in outages.get("workload") or []:
        _span(top, outage, width)
    top.scatter(
        [r[0] for r in answered],
        [max(float(r[1]), 0.1) for r in answered],
        s=6,
        color=OK_COLOUR,
        linewidths=0,
    )
    # Failed requests have no meaningful latency (a timeout, a refused connection):
    # marks on a baseline at the bottom of the axes.
    top.scatter(
        [r[0] for r in failed],
        [0.05] * len(failed),
        transform=top.get_xaxis_transform(),
        marker="|",
        s=60,
        color=FAILED_COLOUR,
        linewidths=1,
        clip_on=False,
    )
    if answered:
        # Log scale: a few ms in steady state, up to the timeout around the outage.
        # Room at the bottom for the failed marks, below the fastest answer.
        latencies = [max(float(r[1]), 0.1) for r in answered]
        top.set_yscale("log")
        top.set_ylim(min(latencies) / 4, max(latencies) * 2)
    top.set_ylabel("workload latency, ms")
    top.grid(axis="y", which="major", color="#dddddd", lw=0.6)

    for outage in outages.get("control_plane") or []:
        _span(band, outage, width)
    band.scatter(
        [r[0] for r in api],
        [0.5] * len(api),
        c=[OK_COLOUR if r[2] else FAILED_COLOUR for r in api],
        marker="|",
        s=120,
        linewidths=1,
    )
    band.set_ylim(0, 1)
    band.set_yticks([0.5], ["API /readyz"])
    band.set_xlabel("seconds since probing started")

    handles: list[Any] = [
        Line2D([], [], ls="", marker="o", ms=4, color=OK_COLOUR, label="answered"),
        Line2D([], [], ls="", marker="|", ms=9, color=FAILED_COLOUR, label="failed"),
        Patch(color=OUTAGE_COLOUR, label="outage"),
    ]
    for index, mark in enumerate(timeline.get("marks") or []):
        colour = MARK_STYLES[index % len(MARK_STYLES)]
        at = float(mark["at"])
        for axes in (top, band):
            axes.axvline(at, color=colour, ls="--", lw=1.2)
        handles.append(Line2D([], [], color=colour, ls="--", label=f"{mark['label']} ({at:.1f} s)"))
    if ends:
        band.set_xlim(min(0.0, min(ends)), max(ends) * 1.01 + 0.1)
    top.set_title(upgrade_title(key, timeline), fontsize=11)
    # Outside the axes: the marks crowd the middle of the plot, where a legend would
    # hide the outage.
    figure.legend(handles=handles, loc="lower center", ncol=4, fontsize=8, frameon=False)
    figure.subplots_adjust(left=0.1, right=0.98, top=0.88, bottom=0.22)
    return _png(pyplot, figure, dpi)
