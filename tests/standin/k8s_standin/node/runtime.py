"""Container runtime: real processes under a shim, with state on disk.

Every container's state lives in `<pod dir>/containers/<name>/`: `shim.pid`, `pid`
(the container process), `exit` (JSON, written when it ended) and `meta.json`
(restart count, container id, start time). Keeping it on disk, with processes in
their own sessions, is what lets a restarted kubelet adopt running containers
instead of restarting them, as containerd does for k3s/k0s.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import containerd
from .attachio import Stdio
from .util import now

PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])


def alive(pid: int) -> bool:
    """True for a live, non-zombie process."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


@dataclass
class ContainerState:
    """What the runtime knows about one container's current instance."""

    running: bool
    exit: dict[str, Any] | None
    pid: int | None
    meta: dict[str, Any]


class ContainerDir:
    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def meta(self) -> dict[str, Any]:
        try:
            return dict(json.loads((self.path / "meta.json").read_text()))
        except (OSError, ValueError):
            return {}

    def save_meta(self, meta: dict[str, Any]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.path / "meta.json.tmp"
        tmp.write_text(json.dumps(meta))
        tmp.replace(self.path / "meta.json")

    def state(self) -> ContainerState | None:
        meta = self.meta
        if not meta.get("containerID"):
            return None
        exit_file = self.path / "exit"
        pid = _read_int(self.path / "pid")
        if exit_file.exists():
            try:
                return ContainerState(False, json.loads(exit_file.read_text()), pid, meta)
            except (OSError, ValueError):
                pass
        shim = _read_int(self.path / "shim.pid")
        if shim and alive(shim):
            return ContainerState(True, None, pid, meta)
        if pid and alive(pid):
            # Shim gone but the process lives on: still running, we just lose its exit code.
            return ContainerState(True, None, pid, meta)
        if shim is not None and pid is None and time.time() - meta.get("startedEpoch", 0) < 5:
            return ContainerState(True, None, None, meta)  # shim still starting the process
        return ContainerState(
            False,
            {
                "exitCode": 255,
                "reason": "Unknown",
                "startedAt": meta.get("startedAt"),
                "finishedAt": now(),
            },
            pid,
            meta,
        )

    def start(
        self,
        argv: list[str],
        env: dict[str, str],
        cwd: str | None,
        log_file: Path,
        restart_count: int,
        stdio: Stdio | None = None,
    ) -> str:
        """Launch a new instance through the shim; returns the new container id."""
        for name in ("exit", "pid", "shim.pid", "attach.sock", "attach.error"):
            (self.path / name).unlink(missing_ok=True)
        container_id = os.urandom(32).hex()
        self.save_meta(
            {
                "containerID": container_id,
                "restartCount": restart_count,
                "startedAt": now(),
                "startedEpoch": time.time(),
                "logFile": str(log_file),
            }
        )
        # Create the log before the process exists, as containerd does, so pods/log never
        # races a container that is already reported running.
        log_file.parent.mkdir(parents=True, exist_ok=True)
        log_file.touch()
        shim_env = dict(env)
        shim_env["PYTHONPATH"] = os.pathsep.join(
            p for p in (PACKAGE_PARENT, env.get("PYTHONPATH", "")) if p
        )
        # The distribution's shim file when it ships one (so a replaced shim is the one
        # new containers get), else the module straight from the source tree.
        shim_file = containerd.shim()
        shim = [str(shim_file)] if shim_file else [sys.executable, "-m", "k8s_standin.node.shim"]
        proc = subprocess.Popen(
            [
                *shim,
                str(self.path),
                str(log_file),
                *(stdio or Stdio()).flags(),
                "--",
                *argv,
            ],
            env=shim_env,
            cwd=cwd if cwd and os.path.isdir(cwd) else None,
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        (self.path / "shim.pid").write_text(str(proc.pid))
        _CHILDREN.append(proc)
        return container_id

    def signal(self, sig: int) -> None:
        pid = _read_int(self.path / "pid")
        if pid and alive(pid):
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                pass
            except PermissionError:
                os.kill(pid, sig)

    def kill_now(self) -> None:
        """SIGKILL process group and shim, recording the exit as the runtime would."""
        self.signal(signal.SIGKILL)
        shim = _read_int(self.path / "shim.pid")
        if shim and alive(shim):
            with contextlib.suppress(ProcessLookupError):
                os.kill(shim, signal.SIGKILL)
        if not (self.path / "exit").exists() and self.meta.get("containerID"):
            (self.path / "exit").write_text(
                json.dumps(
                    {
                        "exitCode": 137,
                        "signal": 9,
                        "reason": "Error",
                        "startedAt": self.meta.get("startedAt"),
                        "finishedAt": now(),
                    }
                )
            )


# Shims we started ourselves are our children: poll them so they never linger as zombies.
_CHILDREN: list[subprocess.Popen[bytes]] = []


def reap() -> None:
    for proc in list(_CHILDREN):
        if proc.poll() is not None:
            _CHILDREN.remove(proc)


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
