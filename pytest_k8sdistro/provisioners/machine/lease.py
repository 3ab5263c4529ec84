"""Who holds a machine: a lock that lives as long as the run's connection to it.

A machine (a host, an SSH server, a VM) outlives the pytest process that installs a
distribution on it. A run killed with SIGKILL never runs its teardown, so the next
run must tell "left behind by a dead run" from "in use by a live one" by itself.

The run holds an exclusive ``flock`` on the machine for as long as it works there:
the lock is taken by a process *on the machine* that waits for its standard input
to close. That input is a pipe from the pytest process (through ``ssh`` or
``multipass exec`` where the machine is remote), so the kernel closes it when the
run dies, however it dies, and the lock goes with it. Beside the lock, a small
record says what the holder installed there and where it staged files.

So: lock free and a record present means a dead run's remains (reaped, unless the
record says the cluster was kept on purpose); lock held means a live run (never
touched).
"""

from __future__ import annotations

import json
import shlex
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from pytest_k8sdistro.distros import install as installers
from pytest_k8sdistro.errors import ProvisionError

#: Root-owned, so that only root (the installer) can take or fake the lock.
STATE_DIR = "/var/lib/pytest-k8sdistro"
LOCK = f"{STATE_DIR}/lock"
RECORD = f"{STATE_DIR}/owner.json"
#: ``flock -E``: the exit status that means "held by someone else".
BUSY_EXIT = 75
HELD_LINE = "k8sdistro-lease-held"
EXIT_TIMEOUT_S = 60.0
#: ssh's exit status for its own failures, and how often the holder is started anew.
SSH_FAILED = 255
CONNECT_ATTEMPTS = 3
CONNECT_PAUSE_S = 3.0

#: Starts a process on the machine from an argv (as the login user) and returns it
#: with pipes on its stdin and stdout.
Spawn = Callable[[Sequence[str]], "subprocess.Popen[bytes]"]


def local_process(argv: Sequence[str]) -> subprocess.Popen[bytes]:
    """Start ``argv`` here as a lease holder needs it (see ``Target.spawn``)."""
    return subprocess.Popen(
        list(argv),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        # Its own session: Ctrl-C on pytest must not end it before teardown has run.
        start_new_session=True,
    )


@dataclass(frozen=True)
class Owner:
    """What the record on a machine says about the run that installed there."""

    run_id: str
    hostname: str
    pid: int
    cluster: str
    distro: str
    version: str
    staging: str = ""
    kept: bool = False
    since: float = 0.0

    def describe(self) -> str:
        return (
            f"run {self.run_id} (pid {self.pid} on {self.hostname}, {self.distro} "
            f"{self.version} as cluster {self.cluster})"
        )

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=2).encode()

    @classmethod
    def from_json(cls, text: str) -> Owner | None:
        """The record, or None when there is none or it is not ours to read."""
        try:
            data: dict[str, Any] = json.loads(text)
            return cls(
                run_id=str(data["run_id"]),
                hostname=str(data["hostname"]),
                pid=int(data["pid"]),
                cluster=str(data["cluster"]),
                distro=str(data["distro"]),
                version=str(data["version"]),
                staging=str(data.get("staging", "")),
                kept=bool(data.get("kept", False)),
                since=float(data.get("since", 0.0)),
            )
        except (ValueError, KeyError, TypeError):
            return None


def holder_argv(*, sudo: bool) -> list[str]:
    """The command that takes the lock on the machine and holds it until stdin closes."""
    hold = f"echo {HELD_LINE}; exec cat >/dev/null"
    script = (
        f"mkdir -p {STATE_DIR} && chmod 0700 {STATE_DIR} && "
        f"exec flock -n -E {BUSY_EXIT} {LOCK} sh -c {shlex.quote(hold)}"
    )
    return installers.Step(("sh", "-c", script)).command(sudo=sudo)


def read_record_step() -> installers.Step:
    return installers.Step(("sh", "-c", f"cat {RECORD} 2>/dev/null || true"), timeout_s=60)


def write_record_step() -> installers.Step:
    """Writes stdin to the record atomically: a reader never sees half of it."""
    script = f"mkdir -p {STATE_DIR} && cat > {RECORD}.new && mv {RECORD}.new {RECORD}"
    return installers.Step(("sh", "-c", script), timeout_s=60)


def remove_record_step() -> installers.Step:
    return installers.Step(("rm", "-f", RECORD), check=False, timeout_s=60)


class Busy(ProvisionError):
    """Another live run holds the machine."""


class Lease:
    """This process's hold on one machine's lock; :meth:`release` lets it go."""

    def __init__(self, process: subprocess.Popen[bytes], where: str) -> None:
        self._process = process
        self.where = where

    @classmethod
    def take(cls, spawn: Spawn, *, sudo: bool, where: str) -> Lease | None:
        """Take the lock, or return None when a live process elsewhere holds it."""
        for attempt in range(1, CONNECT_ATTEMPTS + 1):
            process = spawn(holder_argv(sudo=sudo))
            assert process.stdout is not None
            # The holder prints at once or exits at once; ssh's ConnectTimeout bounds
            # the wait for a machine that does not answer.
            line = process.stdout.readline()
            if line.strip() == HELD_LINE.encode():
                return cls(process, where)
            code = process.wait(timeout=EXIT_TIMEOUT_S)
            if code == BUSY_EXIT:
                return None
            # 255 is ssh's own failure (a connection refused, reset or timed out in the
            # key exchange: a busy machine), not the holder's; it is worth another try.
            if code != SSH_FAILED or attempt == CONNECT_ATTEMPTS:
                break
            time.sleep(CONNECT_PAUSE_S)
        if code == SSH_FAILED:
            raise ProvisionError(
                f"cannot take the run's lock on {where}: the connection failed {attempt} "
                "times (exit 255)"
            )
        raise ProvisionError(
            f"cannot take the run's lock on {where} ({shlex.join(holder_argv(sudo=sudo))} "
            f"exited {code}): the machine needs util-linux's flock and a writable {STATE_DIR}"
        )

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def release(self) -> None:
        """Close the holder's input: it exits and the lock is free."""
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()
