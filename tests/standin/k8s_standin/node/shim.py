"""Per-container shim, the stand-in's containerd-shim.

Runs as its own session so it survives the control-plane process: it starts the
container process (in a new session, so the kubelet can signal its whole process
group), writes its pid, copies stdout/stderr into the kubelet log file in CRI
format (`<RFC3339Nano> <stream> F <line>`), and records the exit status in a file
the kubelet reads, also after a restart of the kubelet (adoption).

It also holds what attach needs (attachio.py): with ``--stdin`` the container's stdin
is a pipe the shim keeps open, with ``--tty`` the process gets a pty as its controlling
terminal (stdout and stderr both go there, and the log records it all as stdout, as
containerd's CRI does for a terminal), and the output goes to the clients attached on
``STATE_DIR/attach.sock`` as well as to the log.

Usage: python3 -m k8s_standin.node.shim STATE_DIR LOG_FILE [--stdin] [--stdin-once]
[--tty] -- ARGV...
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import signal
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path
from typing import IO, Any

from .attachio import Attachments, Stdio
from .attachwire import STDERR, STDOUT, listen
from .util import now, now_nano


def _record(log: IO[bytes], lock: threading.Lock, name: str, line: bytes) -> None:
    tag = b"F" if line.endswith(b"\n") else b"P"
    record = f"{now_nano()} {name} ".encode() + tag + b" " + line.rstrip(b"\n") + b"\n"
    with lock:
        log.write(record)
        log.flush()


def _pump(fd: int, name: str, log: IO[bytes], lock: threading.Lock, attached: Attachments) -> None:
    """Output as it comes to the attached clients (a prompt without a newline too), and
    whole lines to the log; what is left without a newline at the end is a partial line."""
    kind = STDOUT if name == "stdout" else STDERR
    pending = b""
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: a terminal's last slave is closed
            data = b""
        if not data:
            break
        attached.broadcast(kind, data)
        pending += data
        *lines, pending = pending.split(b"\n")
        for line in lines:
            _record(log, lock, name, line + b"\n")
    if pending:
        _record(log, lock, name, pending)


def _controlling_tty() -> None:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)  # atomic: the kubelet never reads a half-written file


def main(argv: list[str]) -> int:
    if "--" not in argv[2:]:
        print(__doc__, file=sys.stderr)
        return 2
    split = argv.index("--", 2)
    state, log_file = argv[0], argv[1]
    stdio, command = Stdio.from_flags(argv[2:split]), argv[split + 1 :]
    if not command:
        print(__doc__, file=sys.stderr)
        return 2
    state_dir = Path(state)
    # The kubelet may be gone by the time we exit; never die of its signals.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    Path(log_file).parent.mkdir(parents=True, exist_ok=True)
    started = now()
    with open(log_file, "ab", buffering=0) as log:
        master: int | None = None
        options: dict[str, Any]
        if stdio.tty:
            master, slave = pty.openpty()
            options = {"stdin": slave, "stdout": slave, "stderr": slave}
            options["preexec_fn"] = _controlling_tty
        else:
            options = {
                "stdin": subprocess.PIPE if stdio.stdin else subprocess.DEVNULL,
                "stdout": subprocess.PIPE,
                "stderr": subprocess.PIPE,
            }
        try:
            proc = subprocess.Popen(command, start_new_session=True, **options)
        except OSError as err:
            log.write(f"{now_nano()} stderr F {err}\n".encode())
            _write(
                state_dir / "exit",
                json.dumps(
                    {
                        "exitCode": 128,
                        "reason": "StartError",
                        "message": str(err),
                        "startedAt": started,
                        "finishedAt": now(),
                    }
                ),
            )
            return 0
        finally:
            if master is not None:
                os.close(slave)
        if master is not None:
            outputs = [(master, "stdout")]
            stdin_fd = master if stdio.stdin else None
        else:
            assert proc.stdout and proc.stderr
            outputs = [(proc.stdout.fileno(), "stdout"), (proc.stderr.fileno(), "stderr")]
            stdin_fd = proc.stdin.fileno() if proc.stdin else None
        attached = Attachments(stdio, stdin_fd, master)
        try:
            attached.serve(listen(state_dir))
        except OSError as err:
            # No attach then, but the container runs as before (and its log stays its own).
            (state_dir / "attach.error").write_text(str(err))
        _write(state_dir / "pid", str(proc.pid))
        lock = threading.Lock()
        pumps = [
            threading.Thread(target=_pump, args=(fd, n, log, lock, attached), daemon=True)
            for fd, n in outputs
        ]
        for pump in pumps:
            pump.start()
        code = proc.wait()
        for pump in pumps:
            # Grandchildren may keep the pipes open; do not wait for them forever.
            pump.join(timeout=1.0)
        attached.finish()
        if master is not None:
            with contextlib.suppress(OSError):
                os.close(master)
    signalled = code < 0
    exit_code = 128 - code if signalled else code
    _write(
        state_dir / "exit",
        json.dumps(
            {
                "exitCode": exit_code,
                "signal": -code if signalled else 0,
                "reason": "Completed" if exit_code == 0 else "Error",
                "startedAt": started,
                "finishedAt": now(),
                "finishedAtEpoch": time.time(),
            }
        ),
    )
    return 0


if __name__ == "__main__":
    # Detach from the kubelet's stdio so a dead parent's pipes cannot kill us.
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    sys.exit(main(sys.argv[1:]))
