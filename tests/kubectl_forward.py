"""kubectl for the stand-in tests: `port-forward` in the background, for tests that fetch
through it, and kubectl on a terminal of its own, for `-t`."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import termios
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

KUBECTL = shutil.which("kubectl")
#: kubectl 1.31+ tunnels SPDY through WebSocket unless this is false; then it upgrades to
#: plain SPDY/3.1 (client-go's PortForwardWebsockets client gate).
PLAIN_SPDY = {"KUBECTL_PORT_FORWARD_WEBSOCKETS": "false"}
#: kubectl 1.32 speaks SPDY/3.1 to pods/exec and pods/attach (so `cp` and `run -i` too)
#: when its WebSocket upgrade fails, or when this is false (the RemoteCommandWebsockets gate).
SPDY_REMOTE_COMMAND = {"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false"}


@contextlib.contextmanager
def port_forward(
    kubeconfig: Path,
    target: str,
    remote: int,
    *,
    namespace: str = "default",
    env: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> Iterator[int]:
    """``kubectl port-forward -n NAMESPACE TARGET :REMOTE`` until the block ends; yields
    the local port from kubectl's "Forwarding from 127.0.0.1:NNNN -> REMOTE" line."""
    assert KUBECTL is not None
    args = ["port-forward", "-n", namespace, target, f":{remote}"]
    proc = subprocess.Popen(
        [KUBECTL, "--kubeconfig", str(kubeconfig), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    assert proc.stdout is not None and proc.stderr is not None
    try:
        line = _first_line(proc, timeout)
        found = re.search(rf"Forwarding from 127\.0\.0\.1:(\d+) -> {remote}\b", line)
        if found is None:
            proc.kill()
            _, err = proc.communicate(timeout=10)
            pytest.fail(f"kubectl port-forward did not start: {line!r}\n{err}")
        yield int(found.group(1))
    finally:
        if proc.poll() is None:
            proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _first_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if select.select([proc.stdout], [], [], 0.2)[0]:
            return proc.stdout.readline()
        if proc.poll() is not None:
            return ""
    return ""


def fetch(port: int, path: str = "/", timeout: float = 20.0) -> bytes:
    """The body of ``GET http://127.0.0.1:PORT/PATH``, through the forwarding."""
    url = f"http://127.0.0.1:{port}{path}"
    with urllib.request.urlopen(url, timeout=timeout) as response:
        body: bytes = response.read()
    return body


def in_terminal(
    kubeconfig: Path,
    args: list[str],
    *,
    typed: bytes = b"",
    env: dict[str, str] | None = None,
    size: tuple[int, int] | None = None,
) -> tuple[int, bytes]:
    """kubectl on a pty of its own (-t needs a terminal) of ``size`` (rows, columns);
    ``typed`` is sent once kubectl has asked for it ("try pressing enter"). Returns the
    exit status and everything the terminal showed."""
    assert KUBECTL is not None
    master, slave = pty.openpty()
    if size is not None:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", *size, 0, 0))
    proc = subprocess.Popen(
        [KUBECTL, "--kubeconfig", str(kubeconfig), *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
        env={**os.environ, **(env or {})},
    )
    os.close(slave)
    shown, sent = b"", not typed
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if not sent and b"try pressing enter" in shown:
                time.sleep(1.0)  # the attachment is being made after the hint
                os.write(master, typed)
                sent = True
            if select.select([master], [], [], 0.2)[0]:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: kubectl has gone, and the terminal with it
                    break
                if not chunk:
                    break
                shown += chunk
            elif proc.poll() is not None:
                break
        return proc.wait(timeout=30), shown
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
