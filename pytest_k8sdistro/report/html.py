"""The report as one self-contained HTML page: the tables and the memory chart (PNG)."""

from __future__ import annotations

import base64
import html

from pytest_k8sdistro.report.chart import ChartUnavailable, memory_chart_png
from pytest_k8sdistro.report.markdown import sections
from pytest_k8sdistro.report.model import Report

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
    parts.append(
        f'<p class="note">Generated {html.escape(str(report.get("generated_at", "")))} from '
        f"{html.escape(', '.join(report.get('sources', [])) or 'one run')}.</p>"
    )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
