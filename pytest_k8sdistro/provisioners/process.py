"""Whether the process that owns something is still the one that made it.

A pid alone says little: it is reused once its process is gone. The owner's start
time, read when the thing was made, tells the same process from a newcomer with the
same pid. Linux only (``/proc``); elsewhere nothing is ever called gone.
"""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: alive
    return True


def process_start(pid: int, *, proc: Path = PROC) -> str:
    """An identifier of when process ``pid`` started, or '' where it cannot be read.

    The boot id plus the start time in clock ticks since boot (field 22 of
    /proc/PID/stat), which together tell a reused pid apart.
    """
    try:
        stat = (proc / str(pid) / "stat").read_text()
        boot_id = (proc / "sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""
    # The command name (field 2) may hold spaces and parentheses: count from its end.
    fields = stat[stat.rindex(")") + 2 :].split()
    return f"{boot_id}:{fields[19]}"


def process_state(pid: int, *, proc: Path = PROC) -> str:
    """The state letter of ``pid`` (field 3 of /proc/PID/stat), or '' when it is gone."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except OSError:
        return ""
    return stat[stat.rindex(")") + 2 :].split()[0]


def running(pid: int, *, proc: Path = PROC) -> bool:
    """Whether ``pid`` exists and is not a zombie waiting for a parent to reap it."""
    return process_state(pid, proc=proc) not in ("", "Z", "X")


def cmdline(pid: int, *, proc: Path = PROC) -> list[str]:
    """The arguments of ``pid``, or [] when it is gone or cannot be read."""
    try:
        raw = (proc / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]
