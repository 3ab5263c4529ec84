"""How a container spec becomes an argv on the node, by the kubelet's and the CRI's rules.

- `$(VAR)` in command and args expands to the container's environment variables, `$$`
  is a literal `$`, and references to undefined variables stay as written
  (kubelet: kubecontainer.ExpandContainerCommandAndArgs, with the expansion of
  third_party/forked/golang/expansion).
- `command` replaces the image's ENTRYPOINT and drops its CMD; `args` replace the CMD
  and run with the ENTRYPOINT; with neither the image's ENTRYPOINT + CMD run
  (containerd's CRI WithProcessArgs, moby's rules). Images are modelled in images.py;
  an image the stand-in does not know needs a `command` (CreateContainerError otherwise).

Then the argv is made runnable on the node: the image's own programs are replaced by the
stand-in's (images.py), busybox images run busybox's applets (`/bin/sh` is busybox ash
there, as in the real image), programs missing from PATH run as busybox applets when the
node has busybox, and `python3` means the interpreter running the stand-in, so helper
processes find their modules both in the image and in a host virtualenv.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

from . import images
from .util import Obj

_BIN_DIRS = ("/bin/", "/usr/bin/", "/sbin/", "/usr/sbin/")


class NoCommand(Exception):
    pass


def expand(text: str, env: Mapping[str, str]) -> str:
    """Upstream's expansion.Expand with MappingFuncFor(env)."""
    out: list[str] = []
    checkpoint = 0
    cursor = 0
    while cursor < len(text):
        if text[cursor] == "$" and cursor + 1 < len(text):
            out.append(text[checkpoint:cursor])
            rest = text[cursor + 1 :]
            if rest[0] == "$":
                out.append("$")  # escaped operator
                advance = 1
            elif rest[0] == "(":
                end = rest.find(")", 1)
                if end == -1:
                    out.append("$(")  # incomplete reference, kept
                    advance = 1
                else:
                    name = rest[1:end]
                    out.append(env.get(name, f"$({name})"))
                    advance = end + 1
            else:
                out.append("$" + rest[0])
                advance = 1
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    return "".join(out) + text[checkpoint:]


def container_argv(
    container: Obj, env: Mapping[str, str] | None = None, busybox_bin: Path | None = None
) -> list[str]:
    """The process a container runs; `env` is what `$(VAR)` may refer to."""
    variables = env or {}
    image_name = str(container.get("image", ""))
    image = images.lookup(image_name)
    command = [expand(str(c), variables) for c in container.get("command") or []]
    args = [expand(str(a), variables) for a in container.get("args") or []]
    if not command:
        if image is None:
            raise NoCommand(
                f"image {image_name!r} has no known entrypoint in the stand-in; give the "
                "container a command"
            )
        if not args:
            args = list(image.cmd)
        command = list(image.entrypoint)
    argv = command + args
    if not argv:
        raise NoCommand("no command specified")
    return resolve(argv, image, busybox_bin)


def resolve(
    argv: list[str], image: images.Image | None = None, busybox_bin: Path | None = None
) -> list[str]:
    program = argv[0]
    if image is not None and program in image.programs:
        return [*resolve(list(image.programs[program])), *argv[1:]]
    busybox = shutil.which("busybox")
    if image is not None and image.busybox and busybox:
        applet = program
        for prefix in _BIN_DIRS:
            applet = applet.removeprefix(prefix)
        if "/" not in applet and (applet in images.applets(busybox) or applet == "busybox"):
            # The image's /bin/<applet>: through the link (or wrapper) in busybox_bin.
            if busybox_bin is not None:
                return [str(busybox_bin / applet), *argv[1:]]
            return [busybox, applet, *argv[1:]] if applet != "busybox" else argv
        if "/" not in program:
            return argv  # not in the image: the runtime's "executable file not found"
    if program in ("python3", "python"):
        return [sys.executable, *argv[1:]]
    if "/" in program:
        return argv
    if shutil.which(program) is None and busybox:
        return [busybox, *argv]
    return argv


def image_path(image: str, busybox_bin: Path | None) -> str:
    """PATH of a container: the image's, with busybox's applets first for busybox images."""
    path = default_path()
    config = images.lookup(image)
    if busybox_bin is not None and config is not None and config.busybox:
        return f"{busybox_bin}{os.pathsep}{path}"
    return path


def default_path() -> str:
    return os.environ.get("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
