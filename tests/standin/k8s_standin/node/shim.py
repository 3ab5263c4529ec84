"""Per-container shim, the stand-in's containerd-shim.

Runs as its own session so it survives the control-plane process: it starts the
container process (in a new session, so the kubelet can signal its whole process
group), writes its pid, copies stdout/stderr into the kubelet log file in CRI
format (`<RFC3339Nano> <stream> F <line>`), and records the exit status in a file
the kubelet reads, also after a restart of the kubelet (adoption).

Usage: python3 -m k8s_standin.node.shim STATE_DIR LOG_FILE -- ARGV...
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

from .util import now, now_nano


def _pump(stream: IO[bytes], name: str, log: IO[bytes], lock: threading.Lock) -> None:
    for line in iter(stream.readline, b""):
        tag = b"F" if line.endswith(b"\n") else b"P"
        record = f"{now_nano()} {name} ".encode() + tag + b" " + line.rstrip(b"\n") + b"\n"
        with lock:
            log.write(record)
            log.flush()


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)  # atomic: the kubelet never reads a half-written file


def main(argv: list[str]) -> int:
    state, log_file, sep, *command = argv
    if sep != "--" or not command:
        print(__doc__, file=sys.stderr)
        return 2
    state_dir = Path(state)
    # The kubelet may be gone by the time we exit; never die of its signals.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    Path(log_file).parent.mkdir(parents=True, exist_ok=True)
    started = now()
    with open(log_file, "ab", buffering=0) as log:
        try:
            proc = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
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
        _write(state_dir / "pid", str(proc.pid))
        lock = threading.Lock()
        assert proc.stdout and proc.stderr
        pumps = [
            threading.Thread(target=_pump, args=(s, n, log, lock), daemon=True)
            for s, n in ((proc.stdout, "stdout"), (proc.stderr, "stderr"))
        ]
        for pump in pumps:
            pump.start()
        code = proc.wait()
        for pump in pumps:
            # Grandchildren may keep the pipes open; do not wait for them forever.
            pump.join(timeout=1.0)
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
