"""Each VM's directory, the record of who owns it, and removing what dead runs left.

Every file of a VM (overlay, seed, QMP socket, pidfile, serial console log, key,
ssh_config) is in one directory, ``~/.cache/pytest-k8sdistro/vms/<run id>-<cluster key>/``, and the
first file written there is :data:`RECORD`: the run id, the pid of the run's pytest
process and that process's start time, the hostname, the cluster and the overlay's
path. A directory is a dead run's leftover when all of these hold:

- it has our record (a directory without one is never looked at, let alone removed);
- the record was written on this host (a pid means nothing elsewhere);
- the record's pid is gone, or alive but started at another time (the pid was reused);
- the record does not say the cluster is kept, or it does and the VM's QEMU is gone
  (the host rebooted, or someone killed it): nothing is left to attach to, only a
  disk that grows no more and is never booted again.

A leftover's QEMU (the pid in its pidfile) is killed only when that process's command
line names the leftover's own overlay: a pid reused by any other process, another
QEMU included, is never signalled. Then the directory, and only it, is removed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pytest_k8sdistro.model import cache
from pytest_k8sdistro.provisioners import process
from pytest_k8sdistro.provisioners.machine.qemu.command import Files, names_overlay

RECORD = "owner.json"
FORMAT = "pytest-k8sdistro-vm/1"
#: A Unix socket's path holds at most 107 bytes and a NUL (sun_path).
SOCKET_PATH_MAX = 107
KILL_WAIT_S = 10.0


def state_root() -> Path:
    """Where VM directories go: the plugin's cache (``~/.cache/pytest-k8sdistro/vms``), not
    a tmpfs such as $XDG_RUNTIME_DIR: the overlay grows with the install."""
    return cache.cache_dir() / "vms"


def dir_name(run_id: str, key: str, node: int = 0) -> str:
    """``<run id>-<cluster key>``, and ``-n<node>`` for a cluster's other VMs."""
    safe = re.sub(r"[^A-Za-z0-9.-]+", "-", key).strip("-")[:40]
    return f"{run_id}-{safe}" + (f"-n{node}" if node else "")


@dataclass(frozen=True)
class VmDir:
    """The files of one VM, all under ``path``."""

    path: Path

    @property
    def files(self) -> Files:
        return Files(
            overlay=self.path / "overlay.qcow2",
            seed=self.path / "seed.iso",
            qmp=self.path / "qmp.sock",
            pidfile=self.path / "qemu.pid",
            console=self.path / "console.log",
        )

    @property
    def record(self) -> Path:
        return self.path / RECORD

    @property
    def qemu_log(self) -> Path:
        return self.path / "qemu.log"

    @property
    def key(self) -> Path:
        return self.path / "id_ed25519"

    @property
    def ssh_config(self) -> Path:
        return self.path / "ssh_config"

    def qemu_pid(self) -> int | None:
        try:
            return int(self.files.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None


@dataclass(frozen=True)
class Owner:
    """What a VM directory's record says."""

    run_id: str
    pid: int
    pid_start: str
    hostname: str
    cluster: str
    overlay: str
    kept: bool = False
    #: The forwarded ports (guest -> host) and the QEMU pid, for a later run that attaches.
    forwards: dict[str, int] = field(default_factory=dict)
    #: Which of the cluster's VMs: 0 for the server, then its agents.
    node: int = 0
    #: The VM's address and interface on the network the cluster's VMs share.
    nodes_address: str = ""
    nodes_interface: str = ""
    format: str = FORMAT

    def describe(self) -> str:
        return f"run {self.run_id} (pid {self.pid} on {self.hostname}, cluster {self.cluster})"

    def write(self, vm: VmDir) -> None:
        temporary = vm.record.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(self), indent=2) + "\n")
        temporary.replace(vm.record)

    @classmethod
    def read(cls, vm: VmDir) -> Owner | None:
        """The record, or None when there is none or it is not ours."""
        try:
            data = json.loads(vm.record.read_text())
            if data.get("format") != FORMAT:
                return None
            return cls(**data)
        except (OSError, ValueError, TypeError, AttributeError):
            return None


@dataclass
class Proc:
    """What reaping reads of the processes here; replaced by fakes in unit tests."""

    alive: Callable[[int], bool] = process.pid_alive
    started: Callable[[int], str] = process.process_start
    cmdline: Callable[[int], list[str]] = process.cmdline
    running: Callable[[int], bool] = process.running
    kill: Callable[[int, int], None] = os.kill


def verdict(owner: Owner, hostname: str, proc: Proc, *, qemu_runs: bool = True) -> str:
    """'reap', or why the VM is spared, in words. ``qemu_runs``: its QEMU is running."""
    if owner.hostname != hostname:
        return f"made on {owner.hostname}, not here"
    if owner.kept and qemu_runs:
        return "kept on purpose"
    if not proc.alive(owner.pid):
        return "reap"
    now = proc.started(owner.pid)
    if owner.pid_start and now and now != owner.pid_start:
        return "reap"  # the pid was reused by another process
    return "its run is alive"


def qemu_runs(vm: VmDir, overlay: Path, proc: Proc) -> bool:
    """Whether the pid in ``vm``'s pidfile is running, and is the QEMU of ``overlay``."""
    pid = vm.qemu_pid()
    return pid is not None and proc.running(pid) and names_overlay(proc.cmdline(pid), overlay)


def stop_qemu(vm: VmDir, overlay: Path, proc: Proc) -> str:
    """SIGKILL the leftover's QEMU when its pid is still that QEMU; what was done, in words."""
    pid = vm.qemu_pid()
    if pid is None or not proc.running(pid):
        return "no QEMU was running"
    if not names_overlay(proc.cmdline(pid), overlay):
        return f"pid {pid} of its pidfile is not its QEMU now, so it was not signalled"
    proc.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + KILL_WAIT_S
    while proc.running(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return f"killed its QEMU (pid {pid})"


def reap(
    root: Path, hostname: str, say: Callable[[str], None], proc: Proc | None = None
) -> list[str]:
    """Remove the VM directories under ``root`` that dead runs left; their names."""
    proc = proc or Proc()
    removed: list[str] = []
    if not root.is_dir():
        return removed
    for path in sorted(root.iterdir()):
        if not path.is_dir() or path.is_symlink():
            continue
        vm = VmDir(path)
        owner = Owner.read(vm)
        # The record's overlay must be this directory's: a record copied elsewhere
        # never sends a signal to another VM.
        if owner is None or Path(owner.overlay) != vm.files.overlay:
            continue
        overlay = vm.files.overlay
        runs = qemu_runs(vm, overlay, proc)
        if verdict(owner, hostname, proc, qemu_runs=runs) != "reap":
            continue
        done = stop_qemu(vm, overlay, proc)
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path.name)
        if owner.kept:
            say(f"removed VM {path.name} kept by {owner.describe()}: its QEMU is not running")
        else:
            say(f"removed VM {path.name} left by {owner.describe()}, which is gone: {done}")
    return removed


def find_kept(root: Path, key: str, hostname: str, node: int = 0) -> tuple[VmDir, Owner] | None:
    """VM ``node`` kept by an earlier run on this host for cluster ``key``, still running."""
    if not root.is_dir():
        return None
    for path in sorted(root.iterdir()):
        vm = VmDir(path)
        owner = Owner.read(vm)
        if (
            owner is None
            or not owner.kept
            or owner.cluster != key
            or owner.hostname != hostname
            or owner.node != node
        ):
            continue
        if qemu_runs(vm, Path(owner.overlay), Proc()):
            return vm, owner
    return None
