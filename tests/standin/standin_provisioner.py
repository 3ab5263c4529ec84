"""Provisioners that run the stand-in k3s control plane as a host process.

Test support for the plugin's own tests (sharing between xdist workers, keep and
reuse, namespaces, readiness failures) where no Docker engine is needed. Load it
with ``-p standin_provisioner`` and choose it with ``--provisioner=standin-process``.

``--provisioner=standin-netns`` runs the same stand-in with real pod networking
(a network namespace per pod, kube-proxy rules, cluster DNS on port 53), the way
it runs inside its node image, so the suites can run against it without Docker.
It must run inside a throwaway sandbox: start pytest under
``unshare --net --mount --propagation private`` as root. The sandbox gets a node
address on a veth, a private /run and /var/lib (so the k3s data dir is the real
``/var/lib/rancher/k3s``), and forwarders from 127.0.0.1 to the node's ingress and
load-balancer ports, as Docker's published ports would be. ``--ip-family=dual``
starts it dual-stack with the profile's dual-stack settings.

When ``K8SDISTRO_TEST_RECORD`` names a file, every create and destroy appends a
line to it, so tests can count them across processes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from k8s_standin.node.killall import killall
from k8s_standin.node.testing import Standin
from k8s_standin.testing import free_port

from pytest_k8sdistro import (
    Capabilities,
    Cluster,
    DistroSpec,
    Node,
    Provisioner,
    ProvisionError,
)
from pytest_k8sdistro.kube import kubeconfig
from pytest_k8sdistro.model.cluster import LOAD_BALANCER_PORTS


def record(event: str, key: str) -> None:
    """Append ``event key pid time`` to ``$K8SDISTRO_TEST_RECORD``."""
    path = os.environ.get("K8SDISTRO_TEST_RECORD")
    if path:
        with open(path, "a") as handle:
            handle.write(f"{event} {key} {os.getpid()} {time.time():.3f}\n")


def _linger() -> None:
    """``$K8SDISTRO_TEST_LINGER_S`` more seconds for a create or destroy, as a real
    node's boot and removal take: lets tests see whether two of them overlap."""
    seconds = float(os.environ.get("K8SDISTRO_TEST_LINGER_S") or 0)
    if seconds:
        time.sleep(seconds)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class StandinProcess(Provisioner):
    NAME = "standin-process"
    # It runs what a distribution's image would run, as a host process.
    CAPABILITIES = Capabilities(runs_images=True)

    def create(self, spec: DistroSpec, key: str) -> Cluster:
        if spec.name != "k3s":
            raise ProvisionError(f"the standin-process provisioner runs k3s only, not {spec}")
        return self.start_k3s_standin(spec, key)

    def start_k3s_standin(self, spec: DistroSpec, key: str) -> Cluster:
        """The stand-in k3s as a host process, for ``spec`` (which may be a distribution a
        test's plugin adds on top of k3s's contract)."""
        record("create", key)
        _linger()
        base = self.workdir / key
        standin = Standin(base, env={"STANDIN_VERSION": spec.version, **_fault_env()})
        standin.start()
        if os.environ.get("K8SDISTRO_TEST_LINGER_S"):  # when it ended, too
            record("created", key)
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
        _linger()
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
        if os.environ.get("K8SDISTRO_TEST_LINGER_S"):
            record("destroyed", cluster.key)

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


NODE_IP = "192.168.77.1"
NODE_IPV6 = "fd00:77::1"
API_PORT = 6443
#: Node ports reachable from 127.0.0.1, as the Docker provisioner publishes them.
PUBLISHED = (80, 443, *LOAD_BALANCER_PORTS)
SANDBOX_MARK = Path("/run/k8sdistro-standin-sandbox")


def _sh(*argv: str) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if proc.returncode:
        raise ProvisionError(f"{' '.join(argv)}: {proc.stderr.strip()}")


def _in_fresh_netns() -> bool:
    # A new network namespace holds nothing but its loopback interface.
    return [name for _, name in socket.if_nameindex()] == ["lo"]


def _sandbox(workdir: Path, dual_stack: bool) -> None:
    """Give the sandbox a node address, a private /run and /var/lib (once)."""
    if SANDBOX_MARK.exists():
        return
    if os.geteuid() != 0 or not _in_fresh_netns():
        raise ProvisionError(
            "the standin-netns provisioner changes network and mounts: run pytest as root "
            "under `unshare --net --mount --propagation private`"
        )
    _sh("ip", "link", "set", "lo", "up")
    _sh("ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p")
    _sh("ip", "addr", "add", f"{NODE_IP}/24", "dev", "eth0")
    if dual_stack:
        _sh("ip", "-6", "addr", "add", f"{NODE_IPV6}/64", "dev", "eth0", "nodad")
    _sh("ip", "link", "set", "eth0p", "up")
    _sh("ip", "link", "set", "eth0", "up")
    # Nodes have a default route; ClusterIP traffic needs one to be DNATed.
    _sh("ip", "route", "add", "default", "dev", "eth0")
    if dual_stack:
        _sh("ip", "-6", "route", "add", "default", "dev", "eth0")
    var_lib = workdir / "sandbox-var-lib"
    var_lib.mkdir(parents=True, exist_ok=True)
    _sh("mount", "--bind", str(var_lib), "/var/lib")
    _sh("mount", "-t", "tmpfs", "tmpfs", "/run")
    SANDBOX_MARK.write_text(str(os.getpid()))


def _busybox_dir(workdir: Path) -> str | None:
    """A directory holding ``busybox`` for the suites' workloads, or None if on PATH.

    The node image ships busybox; a host may not. Take it from a stand-in image
    built locally (tests/standin/image) when the host has none.
    """
    if shutil.which("busybox"):
        return None
    target = workdir / "busybox-bin"
    if (target / "busybox").exists():
        return str(target)
    docker = shutil.which("docker")
    if docker is None:
        return None
    images = subprocess.run(
        [docker, "images", "--format", "{{.Repository}}:{{.Tag}}", "pytest-k8sdistro-standin/k3s"],
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout.split()
    if not images:
        return None
    target.mkdir(parents=True, exist_ok=True)
    name = f"k8sdistro-busybox-{os.getpid()}"
    subprocess.run([docker, "create", "--name", name, images[0]], capture_output=True, timeout=60)
    try:
        subprocess.run(
            [docker, "cp", f"{name}:/bin/busybox", str(target / "busybox")],
            capture_output=True,
            timeout=60,
        )
    finally:
        subprocess.run([docker, "rm", "-f", name], capture_output=True, timeout=60)
    return str(target) if (target / "busybox").exists() else None


class StandinNetns(Provisioner):
    NAME = "standin-netns"
    CAPABILITIES = Capabilities(runs_images=True, ip_families=("ipv4", "dual"))

    def create(self, spec: DistroSpec, key: str) -> Cluster:
        if spec.name != "k3s":
            raise ProvisionError(f"the standin-netns provisioner runs k3s only, not {spec}")
        record("create", key)
        dual = self.settings.ip_family == "dual"
        busybox = _busybox_dir(self.workdir)
        _sandbox(self.workdir, dual)
        base = self.workdir / key
        base.mkdir(parents=True, exist_ok=True)
        kubeconfig_path = base / "kubeconfig.yaml"
        env = {k: v for k, v in os.environ.items() if not k.startswith("STANDIN_")}
        env.update(
            {
                "PYTHONPATH": str(Path(__file__).resolve().parent),
                "STANDIN_VERSION": spec.version,
                "STANDIN_POD_NETWORK": "netns",
                "STANDIN_ROOT": str(base / "root"),
                "STANDIN_LOG_ROOT": str(base / "log"),
                "STANDIN_BIND_ADDRESS": "0.0.0.0",
                "STANDIN_SYNC_INTERVAL": "0.3",
                "STANDIN_BACKOFF_SECONDS": "1",
                **_fault_env(),
            }
        )
        if busybox:
            env["PATH"] = busybox + os.pathsep + env.get("PATH", "")
        args = [
            "--https-listen-port",
            str(API_PORT),
            "--node-ip",
            f"{NODE_IP},{NODE_IPV6}" if dual else NODE_IP,
            "--write-kubeconfig",
            str(kubeconfig_path),
            "--token",
            "standin-test-token",
        ]
        if dual:
            assert spec.profile.container is not None
            args += list(spec.profile.container.dual_stack_args)
        log_path = base / "standin.log"
        with open(log_path, "ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "k8s_standin", "k3s", "server", *args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while not kubeconfig_path.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise ProvisionError(f"the stand-in did not start; log: {log_path}")
            time.sleep(0.2)
        data = kubeconfig.rewrite_server(kubeconfig.load(kubeconfig_path), "127.0.0.1", API_PORT)
        path = kubeconfig.write_private(data, self.workdir / f"{key}.kubeconfig")
        ports: dict[str, int] = {}
        forwards = []
        for port in PUBLISHED:
            ports[f"{port}/tcp"] = local = free_port()
            forwards.append(f"{local}:{NODE_IP}:{port}")
        forwarder = subprocess.Popen(
            [sys.executable, "-m", "standin_provisioner", "forward", *forwards],
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        return Cluster(
            key=key,
            distro=spec.name,
            version=spec.version,
            provisioner=self.NAME,
            kubeconfig=str(path),
            api_server=kubeconfig.server(data),
            nodes=[Node(name="standin", role="server", host_spec="local://")],
            ports=ports,
            details={
                "pid": proc.pid,
                "forwarder": forwarder.pid,
                "base": str(base),
                "port": API_PORT,
                "log": str(log_path),
                "dual_stack": dual,
            },
        )

    def destroy(self, cluster: Cluster) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(cluster.details["forwarder"]), signal.SIGTERM)
        StandinProcess.destroy(self, cluster)  # type: ignore[arg-type]

    def attach(self, cluster: Cluster) -> bool:
        return StandinProcess.attach(self, cluster)  # type: ignore[arg-type]

    def logs(self, cluster: Cluster, tail: int = 40) -> str:
        return StandinProcess.logs(self, cluster, tail)  # type: ignore[arg-type]


def _relay(src: socket.socket, dst: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := src.recv(65536):
            dst.sendall(data)
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


def _serve_forward(local: int, host: str, port: int) -> None:
    listener = socket.create_server(("127.0.0.1", local))
    while True:
        conn, _ = listener.accept()
        try:
            upstream = socket.create_connection((host, port), timeout=5)
        except OSError:
            conn.close()
            continue
        upstream.settimeout(None)
        threading.Thread(target=_relay, args=(conn, upstream), daemon=True).start()
        threading.Thread(target=_relay, args=(upstream, conn), daemon=True).start()


def forward_main(specs: list[str]) -> None:
    """Relay 127.0.0.1:LOCAL to HOST:PORT for each LOCAL:HOST:PORT, like docker-proxy."""
    threads = []
    for spec in specs:
        local, host, port = spec.split(":")
        thread = threading.Thread(
            target=_serve_forward, args=(int(local), host, int(port)), daemon=True
        )
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()


def pytest_k8sdistro_add_provisioners(registry: dict[str, Any]) -> None:
    registry[StandinProcess.NAME] = StandinProcess
    registry[StandinNetns.NAME] = StandinNetns


if __name__ == "__main__" and sys.argv[1:2] == ["forward"]:
    forward_main(sys.argv[2:])
