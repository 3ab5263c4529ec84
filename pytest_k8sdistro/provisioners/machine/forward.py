"""Node ports of an SSH machine, reachable on 127.0.0.1 through one ``ssh -N -L`` process.

The suites reach ingress (80, 443) and load-balancer ports (LOAD_BALANCER_PORTS)
from the pytest host on 127.0.0.1, as the docker provisioner publishes them. On an
SSH machine the same ports are forwarded by the OpenSSH client, to the machine's own
address (where hostPorts and ServiceLB listen; a hostPort is not reachable through
the machine's loopback). Each local port is chosen free on 127.0.0.1 and bound there
only. ``ExitOnForwardFailure`` makes a port that cannot be bound an error at once.

An ``ssh`` that ends during the run (a dropped connection, a machine that slept) is
started again on the same local ports: a suite would otherwise find nothing there and
report the distribution as not serving, when only the path to it was gone.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence

from pytest_k8sdistro.errors import ProvisionError

#: How long the forwards may take to listen.
LISTEN_TIMEOUT_S = 15.0
#: Pause before starting an ssh that ended again, so a machine that is down is not
#: hammered.
RESTART_PAUSE_S = 1.0
#: Run on the machine: the address its default route leaves by, else its first one.
ADDRESS_SCRIPT = (
    "ip -4 route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \\([0-9.]*\\).*/\\1/p' | "
    "grep . || hostname -I 2>/dev/null | cut -d' ' -f1"
)


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago (callers cope with losing it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


class Forwards:
    """One ``ssh -N`` process forwarding ``node_ports`` of ``address`` on the machine."""

    def __init__(
        self, options: Sequence[str], host: str, address: str, node_ports: Sequence[int]
    ) -> None:
        #: Node port -> the port on 127.0.0.1.
        self.ports = {port: free_port() for port in node_ports}
        forwards = [
            arg
            for node_port, local in self.ports.items()
            for arg in ("-L", f"127.0.0.1:{local}:{address}:{node_port}")
        ]
        self._argv = [*options, "-N", "-o", "ExitOnForwardFailure=yes", *forwards, "--", host]
        # ssh says a line for every forwarded connection the machine refuses; a pipe
        # nobody reads would fill during a run and stop every forward.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        #: How many times an ended ssh was started again.
        self.restarts = 0
        self.process = self._spawn()
        deadline = time.monotonic() + LISTEN_TIMEOUT_S
        while not all(_listening(local) for local in self.ports.values()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                error = self.stop()
                raise ProvisionError(
                    f"forwarding node ports {sorted(self.ports)} of {address} to 127.0.0.1 "
                    f"failed: {error or 'they never listened'}"
                )
            time.sleep(0.1)
        threading.Thread(target=self._watch, name="k8sdistro-ssh-forwards", daemon=True).start()

    def _spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            self._argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._stderr
        )

    def _watch(self) -> None:
        """Start ssh again whenever it ends before :meth:`stop`."""
        while not self._stopping.is_set():
            self.process.wait()
            if self._stopping.wait(RESTART_PAUSE_S):
                return
            with self._lock:
                if self._stopping.is_set():
                    return
                self.process = self._spawn()
                self.restarts += 1

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> str:
        """End the forwards; returns what ssh said on stderr."""
        self._stopping.set()
        with self._lock:
            if self._stderr.closed:
                return ""
            if self.process.poll() is None:
                self.process.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(timeout=5)
                if self.process.poll() is None:
                    self.process.kill()
                    self.process.wait()
            self._stderr.seek(0)
            said = self._stderr.read().decode(errors="replace").strip()
            self._stderr.close()
        return said
