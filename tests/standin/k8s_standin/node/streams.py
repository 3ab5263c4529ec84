"""The kubelet's half of exec, attach and port-forward: finding a running container's process,
namespaces and environment, as containerd's CRI exec and portforward find the task.

An exec'd command gets the container process's environment (its env block in /proc,
which is the one the runtime started it with: the pod's variables and PATH, busybox's
applets first for busybox images), the container's `workingDir` ("/" without one), and
the namespaces in which the process differs from the node (network, and mount where
volumes or `ip netns exec` gave it one of its own), entered with nsenter; it runs as the
same user (the node's: pods here do not switch users). `/bin/<applet>` and bare applet
names mean busybox's applet in busybox images, as for containers' own commands.

Attach connects to the container's shim, which holds its stdio (attachwire.py).
"""

from __future__ import annotations

import os
import shutil
import time
from typing import TYPE_CHECKING

from ..streaming import ExecSpec, StreamError
from . import attachwire, images
from .commands import resolve
from .runtime import ContainerDir, ContainerState
from .util import Obj

if TYPE_CHECKING:
    from .kubelet import Kubelet


def _namespace(pid: int | str, kind: str) -> str:
    try:
        return os.readlink(f"/proc/{pid}/ns/{kind}")
    except OSError:
        return ""


def _environ(pid: int) -> dict[str, str]:
    try:
        raw = open(f"/proc/{pid}/environ", "rb").read()  # noqa: SIM115
    except OSError as err:
        raise StreamError(f"cannot read the container's environment: {err}") from None
    env = {}
    for entry in raw.split(b"\0"):
        key, sep, value = entry.partition(b"=")
        if sep:
            env[key.decode(errors="replace")] = value.decode(errors="replace")
    return env


class NodeRuntime:
    """streaming.Runtime for the pods of one kubelet."""

    def __init__(self, kubelet: Kubelet) -> None:
        self.kubelet = kubelet

    def _state(self, pod: Obj, container: str) -> ContainerState:
        uid = pod["metadata"]["uid"]
        cdir = ContainerDir(self.kubelet.pods_dir / uid / "containers" / container)
        state = cdir.state()
        for _ in range(20):
            # Reported running while its shim is still starting the process: a moment.
            if state is None or not state.running or state.pid:
                break
            time.sleep(0.1)
            state = cdir.state()
        if state is None or not state.running or not state.pid:
            # kubelet GetExec/GetAttach: the container is not in the running pod.
            raise StreamError(f'container not found ("{container}")')
        return state

    def exec_spec(self, pod: Obj, container: str, command: list[str]) -> ExecSpec:
        state = self._state(pod, container)
        pid = state.pid
        assert pid is not None
        spec: Obj = next(
            (c for c in pod.get("spec", {}).get("containers") or [] if c["name"] == container),
            {},
        )
        env = _environ(pid)
        argv = resolve(
            list(command), images.lookup(str(spec.get("image", ""))), self.kubelet.env.busybox_bin
        )
        flags = [
            flag
            for kind, flag in (("net", "--net"), ("mnt", "--mount"), ("uts", "--uts"))
            if _namespace(pid, kind) != _namespace("self", kind)
        ]
        # The container's configured working directory (containerd's exec takes the
        # container's process spec), not wherever its process has moved to since.
        cwd = str(spec.get("workingDir") or "/")
        if flags:
            nsenter = shutil.which("nsenter") or "nsenter"
            return ExecSpec([nsenter, "-t", str(pid), *flags, f"--wd={cwd}", "--", *argv], env)
        return ExecSpec(argv, env, cwd if os.path.isdir(cwd) else None)

    def attach(self, pod: Obj, container: str, stdin: bool) -> attachwire.ShimAttachment:
        """The running container's stdio, held by its shim. Whether there is a terminal
        is the container's own setting, whatever the request said; a container that is
        not running is "not found in pod NAME_NAMESPACE" (kubelet GetAttach,
        pkg/kubelet/kubelet_pods.go at kubernetes commit 001a80e975bb)."""
        meta = pod["metadata"]
        missing = (
            f"container {container} not found in pod {meta['name']}_{meta.get('namespace', '')}"
        )
        try:
            self._state(pod, container)
        except StreamError:
            raise StreamError(missing) from None
        spec: Obj = next(
            (c for c in pod.get("spec", {}).get("containers") or [] if c["name"] == container),
            {},
        )
        uid = pod["metadata"]["uid"]
        directory = self.kubelet.pods_dir / uid / "containers" / container
        try:
            sock = attachwire.connect(directory)
        except OSError:
            # A container whose shim serves no attach socket (its start failed).
            raise StreamError(missing) from None
        try:
            return attachwire.ShimAttachment(sock, bool(spec.get("tty")), stdin)
        except OSError:
            sock.close()  # the shim went away meanwhile: the container stopped
            raise StreamError(missing) from None

    def netns(self, pod: Obj) -> str | None:
        """The pod's network namespace: its first running container's (they share it)."""
        for container in pod.get("spec", {}).get("containers") or []:
            try:
                state = self._state(pod, container["name"])
            except StreamError:
                continue
            if _namespace(state.pid or 0, "net") == _namespace("self", "net"):
                return None  # host network mode: the node's localhost
            return f"/proc/{state.pid}/ns/net"
        raise StreamError(f"pod {pod['metadata']['name']} has no running container")
