"""``python -m pytest_k8sdistro.report merge a.json b.json -o out``: one report from many.

Also installed as ``k8sdistro-report``. ``-o out`` writes out.md, out.json and
out.html; ``-o out.md`` (or .json, .html) writes that format only.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pytest_k8sdistro.config.footprint import report_target
from pytest_k8sdistro.errors import ConfigError
from pytest_k8sdistro.report import model
from pytest_k8sdistro.report.write import SUMMARY_ENV, append_step_summary, write


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="k8sdistro-report", description="Merge and render pytest-k8sdistro reports."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    merge = commands.add_parser("merge", help="merge the JSON reports of several jobs")
    merge.add_argument("reports", nargs="+", type=Path, metavar="REPORT.json")
    merge.add_argument("-o", "--output", type=Path, required=True, metavar="PATH")
    merge.add_argument(
        "--step-summary",
        action="store_true",
        help="also append the Markdown to $GITHUB_STEP_SUMMARY",
    )
    args = parser.parse_args(argv)

    try:
        # Checked before the reports are read, so a bad -o costs nothing.
        output = report_target(str(args.output), flag="-o")
        if args.step_summary and not os.environ.get(SUMMARY_ENV):
            raise ConfigError(
                f"--step-summary appends to ${SUMMARY_ENV}, which is not set here: GitHub "
                "Actions sets it in a job's steps; drop --step-summary elsewhere"
            )
        reports = [model.load(path) for path in args.reports]
        merged = model.merge(reports)
    except ValueError as exc:
        print(f"k8sdistro-report: {exc}", file=sys.stderr)
        return 2
    for path in write(merged, output):
        print(path)
    if args.step_summary:
        append_step_summary(merged)
    return 0


if __name__ == "__main__":
    sys.exit(main())
