"""The report as one self-contained HTML page: the tables, the memory chart and each
upgrade's timeline chart (PNGs)."""

from __future__ import annotations

import base64
import html
from typing import Any

from pytest_k8sdistro.errors import ChartUnavailable
from pytest_k8sdistro.report.chart import memory_chart_png, upgrade_chart_png
from pytest_k8sdistro.report.markdown import sections, timeline_title
from pytest_k8sdistro.report.model import Report, upgrade_timelines
from pytest_k8sdistro.report.timeline import marks_text, outage_text

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.7em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
p.note { color: #555; max-width: 60em; }
"""


def _table(head: list[str], rows: list[list[str]]) -> str:
    out = ["<table>", "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"]
    for row in rows:
        cells = [f"<th>{html.escape(row[0].strip('`'))}</th>"]
        cells += [f"<td>{html.escape(cell)}</td>" for cell in row[1:]]
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def chart_html(report: Report) -> str:
    try:
        png = memory_chart_png(report)
    except ChartUnavailable as exc:
        return f'<p class="note">No chart: {html.escape(str(exc))}.</p>'
    if png is None:
        return '<p class="note">No chart: no memory tier was measured.</p>'
    data = base64.b64encode(png).decode()
    return f'<img id="memory-chart" alt="Memory per tier" src="data:image/png;base64,{data}">'


def _words(timeline: dict[str, Any]) -> str:
    items = [f"Marks: {marks_text(timeline)}"]
    for prober, title in (("workload", "Workload outages"), ("control_plane", "API outages")):
        found = (timeline.get("outages") or {}).get(prober) or []
        items.append(f"{title}: " + ("; ".join(map(outage_text, found)) or "none"))
    return "<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>"


def upgrade_charts_html(report: Report) -> str:
    """One timeline chart per upgrade test that recorded one, or a note saying why none."""
    found = upgrade_timelines(report)
    if not found:
        return (
            '<p class="note">No upgrade timeline: no upgrade test of this report recorded '
            "one (run suites/test_upgrade.py with --distro-upgrade-to=VERSION).</p>"
        )
    parts = []
    for index, (key, test) in enumerate(found):
        title = timeline_title(key, test)
        parts.append(f"<h3>{html.escape(title)}</h3>")
        try:
            png = upgrade_chart_png(key, test["timeline"])
        except ChartUnavailable as exc:
            parts.append(f'<p class="note">No chart: {html.escape(str(exc))}.</p>')
        else:
            data = base64.b64encode(png).decode()
            parts.append(
                f'<img class="upgrade-timeline" id="upgrade-timeline-{index}" '
                f'alt="{html.escape(title)}" src="data:image/png;base64,{data}">'
            )
        parts.append(_words(test["timeline"]))
    return "\n".join(parts)


def render(report: Report) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>Kubernetes distributions compared</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>Kubernetes distributions compared</h1>",
    ]
    if not report["distros"]:
        parts.append("<p>No distribution was tested.</p>")
    found = sections(report)
    if report["distros"] and not any(title == "Memory per tier" for title, *_ in found):
        parts += ["<h2>Memory per tier</h2>", chart_html(report)]
    for title, note, head, rows in found:
        parts.append(f"<h2>{html.escape(title)}</h2>")
        if title == "Memory per tier":
            parts.append(chart_html(report))
        parts.append(f'<p class="note">{html.escape(note)}</p>')
        parts.append(_table(head, rows))
        if title == "Upgrade":
            parts.append(upgrade_charts_html(report))
    if report["distros"] and not any(title == "Upgrade" for title, *_ in found):
        parts += [
            "<h2>Upgrade</h2>",
            '<p class="note">No upgrade was run, so there is no timeline '
            "(run suites/test_upgrade.py with --distro-upgrade-to=VERSION).</p>",
        ]
    parts.append(
        f'<p class="note">Generated {html.escape(str(report.get("generated_at", "")))} from '
        f"{html.escape(', '.join(report.get('sources', [])) or 'one run')}.</p>"
    )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
