"""The comparison report: collected during a run, written as Markdown, JSON and HTML.

- :mod:`.model`: the report as plain data; merging the reports of several jobs.
- :mod:`.markdown`, :mod:`.html` (with :mod:`.chart`): the writers.
- :mod:`.plugin`: the collector the pytest plugin registers.
- ``python -m pytest_k8sdistro.report merge`` (``k8sdistro-report``): the merge command.
"""

from __future__ import annotations

from pytest_k8sdistro.report.model import Report, load, merge
from pytest_k8sdistro.report.write import append_step_summary, render, write

__all__ = ["Report", "append_step_summary", "load", "merge", "render", "write"]
