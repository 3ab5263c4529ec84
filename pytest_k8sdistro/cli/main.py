"""``k8sdistro``: the command installed with the package.

``k8sdistro show DISTRO[:VERSION]`` prints what the plugin believes about a
distribution; ``k8sdistro-report merge`` (its own command) merges reports.
"""

from __future__ import annotations

import argparse
import sys

from pytest_k8sdistro.cli import show


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="k8sdistro", description="Facts and reports of pytest-k8sdistro."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    show.add_parser(commands)
    args = parser.parse_args(argv)
    return show.main(args)


if __name__ == "__main__":
    sys.exit(main())
