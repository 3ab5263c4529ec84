"""Writing a report: Markdown, JSON and HTML, and GitHub's job summary."""

from __future__ import annotations

import os
from pathlib import Path

from pytest_k8sdistro.config.footprint import report_paths
from pytest_k8sdistro.report import html, markdown
from pytest_k8sdistro.report.model import Report, dump

SUMMARY_ENV = "GITHUB_STEP_SUMMARY"


def render(report: Report, fmt: str) -> str:
    if fmt == "md":
        return markdown.render(report)
    if fmt == "json":
        return dump(report)
    if fmt == "html":
        return html.render(report)
    raise ValueError(f"unknown report format {fmt!r}")


def write(report: Report, path: Path) -> list[Path]:
    """Write ``report`` as :func:`report_paths` says; returns the files written."""
    written = []
    for fmt, target in report_paths(path).items():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render(report, fmt), encoding="utf-8")
        written.append(target)
    return written


def append_step_summary(report: Report) -> Path | None:
    """Append the Markdown to ``$GITHUB_STEP_SUMMARY`` when it is set (GitHub Actions)."""
    target = os.environ.get(SUMMARY_ENV)
    if not target:
        return None
    with open(target, "a", encoding="utf-8") as summary:
        summary.write(markdown.render(report) + "\n")
    return Path(target)
