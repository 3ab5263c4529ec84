"""The upgrade suite's probe timeline, as the report embeds it.

suites/test_upgrade.py writes every request of both probers to its result file
(``k8sdistro_upgrade_file``) and keeps the timeline out of its properties (JUnit XML
would carry megabytes). The collector reads that file in the controlling process and
embeds a bounded copy in the report, so a merged report renders every job's chart
without the jobs' files::

    marks          [{"at": s, "label": ...}] on the workload prober's clock
    columns        ["at_s", "latency_ms", "ok"]
    workload       rows of the workload prober, downsampled (see :func:`downsample`)
    control_plane  rows of the API prober, same clock
    requests       how many requests each prober sent (before downsampling)
    outages        per prober: start, end, duration, failed_requests, first_error
    longest_gap_s, total_failed_s, verdict, distro, from_version, to_version, file
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PROBERS = ("workload", "control_plane")
COLUMNS = ["at_s", "latency_ms", "ok"]
#: Rows kept per prober: about one a second for half an hour, a few hundred kB of JSON.
MAX_POINTS = 2000
#: Failed rows are all kept up to this many per prober; past it, each run of failures
#: keeps its first and last rows and an even share of the rest (the outages list has
#: the exact edges either way).
MAX_FAILED = 5000
OUTAGE_FIELDS = ("start", "end", "duration", "failed_requests", "first_error")


def _ok(row: list[Any]) -> bool:
    """A result file's row: [at_s, latency_ms, status, error], as prober.Sample.ok."""
    status, error = row[2], row[3]
    return error is None and status is not None and 200 <= int(status) < 400


def compact(rows: list[list[Any]]) -> list[list[Any]]:
    """[at_s, latency_ms, ok] from the result file's rows."""
    return [[round(float(r[0]), 3), round(float(r[1]), 1), _ok(r)] for r in rows]


def _spread(indices: list[int], count: int) -> list[int]:
    """``count`` of ``indices``, evenly spaced, first and last included."""
    if count >= len(indices):
        return indices
    if count <= 1:
        return indices[:count]
    step = (len(indices) - 1) / (count - 1)
    return sorted({indices[round(i * step)] for i in range(count)})


def downsample(
    rows: list[list[Any]], limit: int = MAX_POINTS, max_failed: int = MAX_FAILED
) -> list[list[Any]]:
    """At most ``max(limit, failed rows kept + 2 per outage)`` of compact ``rows``.

    Every failed row is kept (up to ``max_failed``), and so is the success on each
    side of a run of failures, which places the outage's edges. The other successes
    are cut into as many buckets as room is left for, keeping the slowest of each,
    so latency spikes survive.
    """
    if len(rows) <= limit:
        return rows
    failed = [i for i, r in enumerate(rows) if not r[2]]
    if len(failed) > max_failed:
        runs: list[list[int]] = []
        for i in failed:
            if runs and runs[-1][-1] == i - 1:
                runs[-1].append(i)
            else:
                runs.append([i])
        edges = {i for run in runs for i in (run[0], run[-1])}
        inner = [i for i in failed if i not in edges]
        failed = sorted(edges | set(_spread(inner, max(0, max_failed - len(edges)))))
    keep = set(failed)
    for i in list(keep):
        for j in (i - 1, i + 1):
            if 0 <= j < len(rows) and rows[j][2]:
                keep.add(j)
    rest = [i for i, r in enumerate(rows) if r[2] and i not in keep]
    room = max(0, limit - len(keep))
    if rest and room:
        size = len(rest) / room
        for b in range(room):
            bucket = rest[int(b * size) : max(int((b + 1) * size), int(b * size) + 1)]
            if bucket:
                keep.add(max(bucket, key=lambda i: rows[i][1]))
    return [rows[i] for i in sorted(keep)]


def from_result(result: dict[str, Any], limit: int = MAX_POINTS) -> dict[str, Any]:
    """The embedded timeline, from the upgrade suite's result (its file's JSON)."""
    timeline = result.get("timeline") or {}
    workload = result.get("workload") or {}
    embedded: dict[str, Any] = {
        "distro": result.get("distro"),
        "from_version": result.get("from_version"),
        "to_version": result.get("to_version"),
        "verdict": result.get("verdict"),
        "longest_gap_s": workload.get("longest_gap_s"),
        "total_failed_s": workload.get("total_failed_s"),
        "file": result.get("file"),
        "marks": list(timeline.get("marks") or []),
        "columns": COLUMNS,
        "requests": {},
        "outages": {},
    }
    for prober in PROBERS:
        rows = compact(timeline.get(prober) or [])
        embedded["requests"][prober] = len(rows)
        embedded[prober] = downsample(rows, limit)
        embedded["outages"][prober] = [
            {k: o.get(k) for k in OUTAGE_FIELDS}
            for o in (result.get(prober) or {}).get("outages", [])
        ]
    return embedded


def load(path: str | Path, limit: int = MAX_POINTS) -> dict[str, Any] | None:
    """The embedded timeline from a result file; None when it cannot be read."""
    try:
        result = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(result, dict) or not isinstance(result.get("timeline"), dict):
        return None
    return from_result(result, limit)


def _seconds(value: Any) -> str:
    return f"{float(value):.1f}"


def outage_text(outage: dict[str, Any]) -> str:
    """``t=12.3\u201314.1 s (1.8 s, 18 failed: connection refused)``."""
    text = (
        f"t={_seconds(outage['start'])}\u2013{_seconds(outage['end'])} s "
        f"({float(outage.get('duration') or 0.0):.1f} s"
    )
    if outage.get("failed_requests"):
        text += f", {outage['failed_requests']} failed"
    if outage.get("first_error"):
        text += f": {str(outage['first_error'])[:80]}"
    return text + ")"


def marks_text(timeline: dict[str, Any]) -> str:
    marks = timeline.get("marks") or []
    return ", ".join(f"{m['label']} t={_seconds(m['at'])} s" for m in marks) or "none"


def summary_lines(timeline: dict[str, Any]) -> list[str]:
    """The timeline in words: marks, then each prober's outages (Markdown list items)."""
    lines = [f"- Marks: {marks_text(timeline)}"]
    for prober, title in (("workload", "Workload outages"), ("control_plane", "API outages")):
        found = (timeline.get("outages") or {}).get(prober) or []
        requests = (timeline.get("requests") or {}).get(prober)
        counted = f" ({requests} requests)" if requests is not None else ""
        lines.append(f"- {title}{counted}: " + ("; ".join(map(outage_text, found)) or "none"))
    return lines
