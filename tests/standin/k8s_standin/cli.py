"""`python3 -m k8s_standin k3s|k0s|microk8s ARGS...`: pick the flavour, set up logging."""

from __future__ import annotations

import os
import shutil
import sys

from . import logfmt


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("k3s", "k0s", "microk8s"):
        print("usage: python3 -m k8s_standin k3s|k0s|microk8s ARGS...", file=sys.stderr)
        return 2
    flavor, rest = argv[0], argv[1:]
    if flavor == "microk8s":
        # Only the daemon logs like a server; the commands print for a person.
        if rest[:1] == ["kubelite"]:
            logfmt.setup(debug=False)
        from . import microk8s_cli

        return microk8s_cli.main(rest)
    if rest[:1] == ["kubectl"]:
        return _kubectl(flavor, rest[1:])
    logfmt.setup(debug="--debug" in rest)
    if flavor == "k3s":
        from . import k3s_cli

        return k3s_cli.main(rest)
    from . import k0s_cli

    return k0s_cli.main(rest)


def _kubectl(flavor: str, args: list[str]) -> int:
    """`k3s kubectl` / `k0s kubectl`: both binaries embed kubectl with the admin
    kubeconfig preselected; the stand-in hands over to a kubectl on PATH."""
    binary = shutil.which("kubectl")
    if binary is None:
        print("standin: no kubectl on PATH to run `kubectl`", file=sys.stderr)
        return 1
    if flavor == "k3s":
        default = os.environ.get("K3S_KUBECONFIG_OUTPUT") or "/etc/rancher/k3s/k3s.yaml"
    else:
        default = "/var/lib/k0s/pki/admin.conf"
    env = dict(os.environ)
    env.setdefault("KUBECONFIG", default)
    os.execve(binary, [binary, *args], env)
