"""`kubectl port-forward` in the background, for tests that fetch through it."""

from __future__ import annotations

import contextlib
import os
import re
import select
import shutil
import subprocess
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
