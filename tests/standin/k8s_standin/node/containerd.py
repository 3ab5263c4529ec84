"""The node's containerd, run as a process of its own from the distribution's files.

Neither distribution links containerd into its main binary any more: the rancher/k3s
image ships ``/bin/containerd`` beside ``/bin/k3s`` (k3s-io/k3s scripts/build-containerd.sh,
v1.33 on), and k0s unpacks the containerd embedded in it to ``<data-dir>/bin`` and runs
it from there (k0sproject/k0s pkg/assets/stage.go). Either way the version a node reports
as ``nodeInfo.containerRuntimeVersion`` comes from the containerd process that runs, so it
changes only when that file was replaced and the process restarted.

The stand-in's containerd is a script in those places: started with ``--state DIR`` it
writes its version to ``DIR/version`` and waits. The kubelet reports what it wrote. A
containerd left running by a process that was killed is stopped first, as a new
containerd could not take over the old one's socket.

Where no containerd file exists (host tests run the package straight from the source
tree), the node reports the flavour's built-in version.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from .util import log

#: The runtime version each flavour reports when it has no containerd file.
BUILT_IN = {
    "k3s": "containerd://2.3.4-k3s1",
    "k0s": "containerd://2.3.3",
    "microk8s": "containerd://1.7.28",
}
START_TIMEOUT_S = 10.0

#: Where the flavour's runtime files are: set by the k3s launcher (``/bin``) and by the
#: k0s stand-in once it has unpacked them (``<data-dir>/bin``).
ENV_RUNTIME_DIR = "STANDIN_RUNTIME_DIR"


def runtime_dir() -> Path | None:
    value = os.environ.get(ENV_RUNTIME_DIR, "")
    return Path(value) if value else None


def _stop_previous(state: Path) -> None:
    try:
        pid = int((state / "pid").read_text().strip())
    except (OSError, ValueError):
        return
    # Imported here: the runtime imports this module for the shim's path.
    from .runtime import alive

    if not alive(pid):
        return
    log.info("stopping the containerd (pid %d) a previous run left", pid)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def start(flavor: str, state: Path) -> str:
    """Start containerd with its state in ``state``; returns the version it reports,
    as ``containerd://VERSION``."""
    directory = runtime_dir()
    binary = directory / "containerd" if directory else None
    if binary is None or not os.access(binary, os.X_OK):
        return BUILT_IN.get(flavor, BUILT_IN["k3s"])
    state.mkdir(parents=True, exist_ok=True)
    _stop_previous(state)
    (state / "version").unlink(missing_ok=True)
    proc = subprocess.Popen(
        [str(binary), "--state", str(state)],
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    (state / "pid").write_text(str(proc.pid))
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            version = (state / "version").read_text().strip()
            if version:
                log.info("containerd %s running (pid %d, %s)", version, proc.pid, binary)
                return f"containerd://{version}"
        if proc.poll() is not None:
            raise RuntimeError(f"{binary} exited with status {proc.returncode}")
        time.sleep(0.05)
    raise RuntimeError(f"{binary} wrote no version to {state} within {START_TIMEOUT_S:.0f}s")


def shim() -> Path | None:
    """The flavour's containerd-shim-runc-v2 file, when it ships one."""
    directory = runtime_dir()
    path = directory / "containerd-shim-runc-v2" if directory else None
    return path if path is not None and os.access(path, os.X_OK) else None
