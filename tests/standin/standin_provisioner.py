"""A provisioner that runs the stand-in k3s control plane as a host process.

Test support for the plugin's own tests (sharing between xdist workers, keep and
reuse, namespaces, readiness failures) where no Docker engine is needed. Load it
with ``-p standin_provisioner`` and choose it with ``--provisioner=standin-process``.

When ``K8SDISTRO_TEST_RECORD`` names a file, every create and destroy appends a
line to it, so tests can count them across processes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

from k8s_standin.node.killall import killall
from k8s_standin.node.testing import Standin

from pytest_k8sdistro import Cluster, DistroSpec, Node, Provisioner, ProvisionError, kubeconfig


def record(event: str, key: str) -> None:
    path = os.environ.get("K8SDISTRO_TEST_RECORD")
    if path:
        with open(path, "a") as handle:
            handle.write(f"{event} {key} {os.getpid()}\n")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class StandinProcess(Provisioner):
    NAME = "standin-process"

    def create(self, spec: DistroSpec, key: str) -> Cluster:
        if spec.name != "k3s":
            raise ProvisionError(f"the standin-process provisioner runs k3s only, not {spec}")
        record("create", key)
        base = self.workdir / key
        standin = Standin(base, env={"STANDIN_VERSION": spec.version, **_fault_env()})
        standin.start()
        assert standin.proc is not None
        data = kubeconfig.rewrite_server(
            kubeconfig.load(standin.kubeconfig), "127.0.0.1", standin.port
        )
        path = kubeconfig.write_private(data, self.workdir / f"{key}.kubeconfig")
        return Cluster(
            key=key,
            distro=spec.name,
            version=spec.version,
            provisioner=self.NAME,
            kubeconfig=str(path),
            api_server=kubeconfig.server(data),
            nodes=[Node(name="standin", role="server", host_spec="local://")],
            details={
                "pid": standin.proc.pid,
                "base": str(base),
                "port": standin.port,
                "log": str(standin.output),
            },
        )

    def destroy(self, cluster: Cluster) -> None:
        record("destroy", cluster.key)
        pid = int(cluster.details["pid"])
        if _alive(pid):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 15
            while _alive(pid) and time.monotonic() < deadline:
                _reap(pid)
                time.sleep(0.1)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        killall(Path(cluster.details["base"]))

    def attach(self, cluster: Cluster) -> bool:
        if not _alive(int(cluster.details["pid"])):
            return False
        with socket.socket() as sock:
            sock.settimeout(1)
            return sock.connect_ex(("127.0.0.1", int(cluster.details["port"]))) == 0

    def logs(self, cluster: Cluster, tail: int = 40) -> str:
        try:
            lines = Path(cluster.details["log"]).read_text().splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-tail:])


def _fault_env() -> dict[str, str]:
    return {
        k: v for k, v in os.environ.items() if k.startswith("STANDIN_") and k != "STANDIN_VERSION"
    }


def _reap(pid: int) -> None:
    # The process is our child only in the process that created it.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def pytest_k8sdistro_add_provisioners(registry: dict[str, Any]) -> None:
    registry[StandinProcess.NAME] = StandinProcess
