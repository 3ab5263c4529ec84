"""The runtime files a distribution ships beside its main binary, as stand-in scripts.

The rancher/k3s image holds ``/bin/k3s`` and, as separate files, containerd, its
runc shim, runc and the CNI plugins (one multicall ``cni`` with a link per plugin);
k3s-io/k3s scripts/package-cli and scripts/build-*.sh. k0s embeds the same kind of
files and unpacks them to ``<data-dir>/bin`` (k0sproject/k0s pkg/assets/stage.go).
The image builder writes these scripts into the k3s image; the k0s stand-in carries
them and unpacks them the way k0s does (:func:`stage`).

Each script names the release it was shipped with, so files of two releases always
differ, as two real builds do.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

#: The plugins k3s links to its multicall cni binary (scripts/package-cli).
CNI_PLUGINS = ("bandwidth", "bridge", "firewall", "flannel", "host-local", "loopback", "portmap")


def _header(what: str, release: str) -> str:
    return (
        "#!/bin/sh\n"
        f"# Stand-in for {what}, as shipped with {release}: pytest-k8sdistro's tests only.\n"
    )


def containerd(version: str, release: str) -> bytes:
    """``containerd --version``, or with ``--state DIR``: write the version there and
    wait, as a running containerd (node/containerd.py reads it)."""
    return (
        _header(f"containerd {version}", release)
        + f"version='{version}'\n"
        + "state=/run/containerd\n"
        + 'while [ "$#" -gt 0 ]; do\n'
        + '    case "$1" in\n'
        + '    --version | -v) echo "containerd github.com/containerd/containerd v$version"; '
        + "exit 0 ;;\n"
        + "    --state) state=$2; shift ;;\n"
        + "    --state=*) state=${1#--state=} ;;\n"
        + "    esac\n"
        + "    shift\n"
        + "done\n"
        + 'mkdir -p "$state"\n'
        + 'echo "$version" >"$state/version.tmp" && mv "$state/version.tmp" "$state/version"\n'
        + "exec sleep infinity\n"
    ).encode()


def shim(version: str, release: str) -> bytes:
    """containerd-shim-runc-v2: the stand-in's shim module (node/shim.py)."""
    return (
        _header(f"containerd-shim-runc-v2 {version}", release)
        + 'exec /usr/bin/python3 -m k8s_standin.node.shim "$@"\n'
    ).encode()


def runc(version: str, release: str) -> bytes:
    return (
        _header(f"runc {version}", release)
        + f'[ "${{1:-}}" = --version ] && {{ echo "runc version {version}"; exit 0; }}\n'
        + 'echo "stand-in runc: containers are started by the shim" >&2\n'
        + "exit 1\n"
    ).encode()


def cni(version: str, release: str) -> bytes:
    """The multicall CNI binary; the name it is called by picks the plugin."""
    return (
        _header(f"the CNI plugins {version}", release)
        + f'echo "CNI plugin ${{0##*/}} version {version}"\n'
    ).encode()


def embedded(containerd_version: str, runc_version: str, release: str) -> dict[str, bytes]:
    """What the k0s stand-in embeds, by the name it is staged under."""
    return {
        "containerd": containerd(containerd_version, release),
        "containerd-shim-runc-v2": shim(containerd_version, release),
        "runc": runc(runc_version, release),
    }


def stage(executable: Path, directory: Path, files: dict[str, bytes]) -> list[str]:
    """Unpack ``files`` into ``directory`` as k0s does: a staged file is reused when its
    modification time is the executable's and its size the embedded file's; otherwise
    it is written anew (atomically: the old one may be running) and given the
    executable's modification time. Returns the names written."""
    exe = executable.stat()
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in files.items():
        target = directory / name
        try:
            current = target.stat()
        except FileNotFoundError:
            current = None
        if current is not None and (
            current.st_mtime_ns == exe.st_mtime_ns and current.st_size == len(data)
        ):
            continue
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.chmod(tmp, 0o755)
            os.utime(tmp, ns=(exe.st_atime_ns, exe.st_mtime_ns))
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written.append(name)
    return written
