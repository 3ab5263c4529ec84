"""Air-gapped install artifacts for a stand-in k3s: a binary, an install script, images.

- ``k3s``: one executable file, as the real binary is: a Python zip application
  holding the stand-in control plane (tests/standin/k8s_standin). It runs
  ``k8s_standin k3s ...`` and puts itself on ``PYTHONPATH`` so that the helper
  processes the node side starts (``python3 -m k8s_standin.node....``) find it too.
- ``install.sh``: this project's own small stand-in for the k3s install script. It
  honours the variables the plugin sets (``INSTALL_K3S_VERSION``,
  ``INSTALL_K3S_SKIP_DOWNLOAD``, ``INSTALL_K3S_BIN_DIR``, ``INSTALL_K3S_EXEC``, the
  arguments after the script), refuses to download (there is nothing to download
  from), starts the server in the background as a service would (the test machine
  has no init system; output in ``/var/log/k3s.log``, where k3s's OpenRC service logs)
  and writes ``k3s-uninstall.sh`` next to the binary. With ``K3S_URL`` (and
  ``K3S_TOKEN``) and no command it starts an agent, logging to
  ``/var/log/k3s-agent.log`` and writing ``k3s-agent-uninstall.sh``, as the real
  script names them.
- an "images" tarball: a small tar that only has to land in the images directory.

Test support only: none of this is k3s, and none of it is offered to users.
"""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

from image.context import source_files

VERSION = "v1.36.5+k3s1"

ZIPAPP_MAIN = f"""\
import os
import runpy
import sys

# Stand-in k3s binary (pytest-k8sdistro tests): a simulated control plane, not Kubernetes.
archive = os.path.abspath(sys.argv[0])
os.environ.setdefault("STANDIN_VERSION", {VERSION!r})
os.environ["PYTHONPATH"] = archive
sys.argv = [sys.argv[0], "k3s", *sys.argv[1:]]
runpy.run_module("k8s_standin", run_name="__main__", alter_sys=True)
"""

INSTALL_SH = """\
#!/bin/sh
# Stand-in install script for pytest-k8sdistro's tests (not the k3s one).
set -eu
BIN_DIR=${INSTALL_K3S_BIN_DIR:-/usr/local/bin}
fail() { echo "[stand-in install] $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "run as root"
[ "${INSTALL_K3S_SKIP_DOWNLOAD:-}" = true ] \\
    || fail "cannot download; set INSTALL_K3S_SKIP_DOWNLOAD=true"
[ -x "$BIN_DIR/k3s" ] || fail "no executable $BIN_DIR/k3s"
[ $# -gt 0 ] || set -- ${INSTALL_K3S_EXEC:-}
# As the real script: flags only (or nothing) mean a server, or an agent with K3S_URL.
case "${1:-}" in
    -*|"") if [ -n "${K3S_URL:-}" ]; then set -- agent "$@"; else set -- server "$@"; fi ;;
esac
if [ "$1" = agent ]; then
    [ -n "${K3S_TOKEN:-}" ] || fail "an agent needs K3S_TOKEN"
    NAME=k3s-agent
else
    NAME=k3s
fi
mkdir -p /var/lib/rancher/k3s /etc/rancher/k3s
echo "${INSTALL_K3S_VERSION:-}" >/var/lib/rancher/k3s/.install-version
cat >"$BIN_DIR/$NAME-uninstall.sh" <<UNINSTALL
#!/bin/sh
# Stand-in k3s-uninstall.sh (pytest-k8sdistro tests).
[ "\\$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
if [ -f /run/k3s-standin.pid ]; then
    kill "\\$(cat /run/k3s-standin.pid)" 2>/dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        kill -0 "\\$(cat /run/k3s-standin.pid)" 2>/dev/null || break
        sleep 1
    done
    kill -9 "\\$(cat /run/k3s-standin.pid)" 2>/dev/null || true
fi
PYTHONPATH="$BIN_DIR/k3s" python3 -m k8s_standin.node.killall \\
    /var/lib/rancher/k3s /var/lib/kubelet || true
rm -rf /etc/rancher/k3s /var/lib/rancher/k3s /var/lib/kubelet /run/k3s-standin.pid
rm -f /var/log/$NAME.log "$BIN_DIR/k3s" "$BIN_DIR/$NAME-uninstall.sh"
UNINSTALL
chmod 0755 "$BIN_DIR/$NAME-uninstall.sh"
# Detached from the SSH session, every stream redirected: ssh returns at once. K3S_URL
# and K3S_TOKEN stay in its environment, as the real script keeps K3S_* for the service.
setsid "$BIN_DIR/k3s" "$@" >"/var/log/$NAME.log" 2>&1 </dev/null &
echo $! >/run/k3s-standin.pid
echo "[stand-in install] k3s ${INSTALL_K3S_VERSION:-} started: $*"
"""


def write_artifacts(dest: Path) -> dict[str, Path]:
    """Write the three artifacts under ``dest``; kind -> path."""
    dest.mkdir(parents=True, exist_ok=True)
    binary = dest / "k3s"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("__main__.py", ZIPAPP_MAIN)
        for name, entry in sorted(source_files().items()):
            archive.writestr(name, entry.data)
    binary.write_bytes(b"#!/usr/bin/python3\n" + buffer.getvalue())
    binary.chmod(0o755)
    script = dest / "install.sh"
    script.write_text(INSTALL_SH)
    script.chmod(0o755)
    images = dest / "k3s-airgap-images-amd64.tar"
    with tarfile.open(images, "w") as tar:
        data = b"stand-in: no images\n"
        info = tarfile.TarInfo("README")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return {"binary": binary, "script": script, "images": images}
