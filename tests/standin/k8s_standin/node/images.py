"""What the stand-in knows of the images pods name: their config and their files.

Images are never pulled: the node's own filesystem is every container's root. What an
image contributes is modelled here instead: its ENTRYPOINT and CMD (the OCI image
config the runtime starts from), the programs it has that the node lacks (`/pause`,
nginx's entrypoint), and, for busybox and alpine, busybox's applets on PATH, as the real
images have `/bin/<applet>` links to `/bin/busybox`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

_NGINX_HTTPD = (
    "mkdir -p /usr/share/nginx/html && exec busybox httpd -f -p 80 -h /usr/share/nginx/html"
)
# nginx's /docker-entrypoint.sh runs its hooks and then `exec "$@"`; nginx itself is played
# by busybox httpd on port 80.
_NGINX_ENTRYPOINT = (
    'if [ "$1" = nginx ] || [ "$1" = nginx-debug ]; then ' + _NGINX_HTTPD + '; fi; exec "$@"'
)


@dataclass(frozen=True)
class Image:
    """An image's config (docker inspect's Config.Entrypoint / Config.Cmd) and programs."""

    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    #: Busybox's applets are the image's /bin (busybox, alpine).
    busybox: bool = False
    #: Programs of the image the node does not have: name or path -> argv prefix.
    programs: dict[str, tuple[str, ...]] = field(default_factory=dict)


_PAUSE = Image(entrypoint=("/pause",), programs={"/pause": ("sleep", "infinity")})
#: By repository name (no registry, no tag); the upstream images' configs.
IMAGES: dict[str, Image] = {
    "busybox": Image(cmd=("sh",), busybox=True),
    "alpine": Image(cmd=("/bin/sh",), busybox=True),
    "debian": Image(cmd=("bash",)),
    "ubuntu": Image(cmd=("/bin/bash",)),
    "pause": _PAUSE,
    "mirrored-pause": _PAUSE,
    "nginx": Image(
        entrypoint=("/docker-entrypoint.sh",),
        cmd=("nginx", "-g", "daemon off;"),
        programs={
            "/docker-entrypoint.sh": ("sh", "-c", _NGINX_ENTRYPOINT, "/docker-entrypoint.sh"),
            "nginx": ("sh", "-c", _NGINX_HTTPD, "nginx"),
        },
    ),
}


def repository(image: str) -> str:
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[0]


def lookup(image: str) -> Image | None:
    return IMAGES.get(repository(image))


@cache
def applets(busybox: str) -> frozenset[str]:
    try:
        out = subprocess.run([busybox, "--list"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.TimeoutExpired):
        out = ""
    return frozenset(out.split())


# Debian bookworm's busybox (1.35, busybox and busybox-static alike) is built without
# FEATURE_WGET_TIMEOUT, and its wget then writes through a NULL pointer when given -T: a
# segfault. The busybox image's wget has the option (a network timeout). This wrapper
# turns -T into a limit on the whole run and fails as busybox's does when it expires.
_WGET = """#!{busybox} sh
limit=
n=$#
while [ "$n" -gt 0 ]; do
    arg=$1; shift; n=$((n - 1))
    case $arg in
        -T|--timeout) limit=$1; shift; n=$((n - 1)); continue ;;
        -T*) limit=${{arg#-T}}; continue ;;
        --timeout=*) limit=${{arg#--timeout=}}; continue ;;
    esac
    set -- "$@" "$arg"
done
[ -n "$limit" ] || exec {busybox} wget "$@"
{busybox} timeout "$limit" {busybox} wget "$@"
code=$?
if [ "$code" -eq 143 ]; then
    echo "wget: download timed out" >&2
    exit 1
fi
exit "$code"
"""


# `busybox wget ...` names the applet through busybox itself; send it to the wrapper too.
_BUSYBOX = """#!{busybox} sh
if [ "$1" = wget ]; then
    shift
    exec {directory}/wget "$@"
fi
exec {busybox} "$@"
"""


def _script(path: Path, text: str) -> None:
    if path.is_file() and not path.is_symlink() and path.read_text() == text:
        return
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.chmod(tmp, 0o755)
    tmp.replace(path)


def busybox_bin(directory: Path) -> Path | None:
    """Fill `directory` with a link per busybox applet (the busybox image's /bin).

    None when the node has no busybox; pods then keep the node's PATH.
    """
    busybox = shutil.which("busybox")
    if busybox is None:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    for applet in applets(busybox):
        link = directory / applet
        if applet != "wget" and not link.is_symlink():
            link.unlink(missing_ok=True)
            link.symlink_to(busybox)
    _script(directory / "wget", _WGET.format(busybox=busybox))
    _script(directory / "busybox", _BUSYBOX.format(busybox=busybox, directory=directory))
    return directory
