"""Node ports of an SSH machine, reachable on 127.0.0.1 through one ``ssh -N -L`` process.

The suites reach ingress (80, 443) and load-balancer ports (LOAD_BALANCER_PORTS)
from the pytest host on 127.0.0.1, as the docker provisioner publishes them. On an
SSH machine the same ports are forwarded by the OpenSSH client, to the machine's own
address (where hostPorts and ServiceLB listen; a hostPort is not reachable through
the machine's loopback). Each local port is chosen free on 127.0.0.1 and bound there
only. ``ExitOnForwardFailure`` makes a port that cannot be bound an error at once.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence

from pytest_k8sdistro.errors import ProvisionError

#: How long the forwards may take to listen.
LISTEN_TIMEOUT_S = 15.0
#: Run on the machine: the address its default route leaves by, else its first one.
ADDRESS_SCRIPT = (
    "ip -4 route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \\([0-9.]*\\).*/\\1/p' | "
    "grep . || hostname -I 2>/dev/null | cut -d' ' -f1"
)


def free_port() -> int:
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
        argv = [*options, "-N", "-o", "ExitOnForwardFailure=yes", *forwards, "--", host]
        # ssh says a line for every forwarded connection the machine refuses; a pipe
        # nobody reads would fill during a run and stop every forward.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        self.process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._stderr
        )
        deadline = time.monotonic() + LISTEN_TIMEOUT_S
        while not all(_listening(local) for local in self.ports.values()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                error = self.stop()
                raise ProvisionError(
                    f"forwarding node ports {sorted(self.ports)} of {address} to 127.0.0.1 "
                    f"failed: {error or 'they never listened'}"
                )
            time.sleep(0.1)

    def stop(self) -> str:
        """End the forwards; returns what ssh said on stderr."""
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
