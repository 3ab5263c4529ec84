"""`python3 -m k8s_standin k3s|k0s ARGS...`: pick the flavour, set up logging."""

from __future__ import annotations

import sys

from . import logfmt


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("k3s", "k0s"):
        print("usage: python3 -m k8s_standin k3s|k0s ARGS...", file=sys.stderr)
        return 2
    flavor, rest = argv[0], argv[1:]
    logfmt.setup(debug="--debug" in rest)
    if flavor == "k3s":
        from . import k3s_cli

        return k3s_cli.main(rest)
    from . import k0s_cli

    return k0s_cli.main(rest)
