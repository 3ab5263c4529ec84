"""How a container spec becomes an argv on the node.

Images are never pulled: the node's own filesystem is every container's root. A
container without `command` gets its image's usual entrypoint from a small table
(below); unknown images without a command fail with CreateContainerError, which is
what a suite would see for an unrunnable image. Programs missing from PATH are
run as busybox applets when busybox is installed (the node image ships it), and
`python3` means the interpreter running the stand-in, so helper processes find
their modules both in the image and in a host virtualenv. Containers of busybox
images run busybox applets (`busybox sh`, `busybox wget`, ...) when the node has
busybox, so scripts see busybox's semantics rather than dash's or GNU tools'.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from .util import Obj

# image repository (without registry/tag) -> default command
DEFAULT_COMMANDS: dict[str, list[str]] = {
    "busybox": ["sh"],
    "alpine": ["sh"],
    "debian": ["bash"],
    "ubuntu": ["bash"],
    "pause": ["sleep", "infinity"],
    "mirrored-pause": ["sleep", "infinity"],
    "nginx": [
        "sh",
        "-c",
        "mkdir -p /usr/share/nginx/html && exec busybox httpd -f -p 80 -h /usr/share/nginx/html",
    ],
}


class NoCommand(Exception):
    pass


def image_repo(image: str) -> str:
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[0]


def container_argv(container: Obj) -> list[str]:
    command = list(container.get("command") or [])
    args = list(container.get("args") or [])
    if not command:
        default = DEFAULT_COMMANDS.get(image_repo(container.get("image", "")))
        if default is None:
            raise NoCommand(
                f"image {container.get('image')!r} has no known entrypoint in the "
                "stand-in; give the container a command"
            )
        command = list(default) if not args else list(default[:1])
    busybox_image = image_repo(container.get("image", "")) == "busybox"
    return resolve(command + args, busybox_image=busybox_image)


def resolve(argv: list[str], busybox_image: bool = False) -> list[str]:
    if not argv:
        return argv
    program = argv[0]
    busybox = shutil.which("busybox")
    if busybox_image and busybox and "/" not in program and _is_applet(busybox, program):
        # A busybox image runs busybox's own sh, wget, nc ...: keep their flags and quirks.
        return [busybox, *argv]
    if program in ("python3", "python"):
        return [sys.executable, *argv[1:]]
    if "/" in program:
        return argv
    if shutil.which(program) is None and busybox:
        return [busybox, *argv]
    return argv


_APPLETS: dict[str, frozenset[str]] = {}


def _is_applet(busybox: str, name: str) -> bool:
    if busybox not in _APPLETS:
        try:
            out = subprocess.run(
                [busybox, "--list"], capture_output=True, text=True, timeout=5
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            out = ""
        _APPLETS[busybox] = frozenset(out.split())
    return name in _APPLETS[busybox]


def default_path() -> str:
    return os.environ.get("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
