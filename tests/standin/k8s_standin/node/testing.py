"""Run a whole stand-in control plane as a subprocess, for host tests.

Host mode: pods share the host's network (STANDIN_POD_NETWORK=host), node paths
live under a temporary STANDIN_ROOT, listeners move to free ports. `stop()` ends
the control plane and, unless told otherwise, every container it started (they
outlive it on purpose, see runtime.py).
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ..testing import free_port
from .killall import killall

__all__ = ["free_port"]  # imported from here by the node tests

T = TypeVar("T")
STANDIN_DIR = Path(__file__).resolve().parents[2]


#: The service ports host-mode tests give LoadBalancers: Traefik's and the suites'.
HOSTPORTS = (80, 443, 8080, 8443)


def free_hostport_offset() -> int:
    """An offset that puts every port of HOSTPORTS on a free port below the ephemeral
    range (32768 and up), where the API and DNS ports of other stand-ins (free_port)
    and outgoing connections cannot be holding it."""
    rng = random.Random()
    for _ in range(200):
        offset = rng.randrange(10_000, 32_768 - max(HOSTPORTS))
        if all(_bindable(offset + port) for port in HOSTPORTS):
            return offset
    raise RuntimeError("no free host-port offset below 32768")


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class StandinExited(Exception):
    """The process under test died: waiting longer cannot help."""


def wait_for(check: Callable[[], T], timeout: float, what: str, interval: float = 0.3) -> T:
    """Poll until `check` returns something truthy; fail with the last value seen."""
    __tracebackhide__ = True
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = check()
        except StandinExited:
            raise
        except Exception as err:  # transient API errors while things converge
            last = err
        if last and not isinstance(last, Exception):
            return last  # type: ignore[no-any-return]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
        time.sleep(interval)


class Standin:
    def __init__(
        self,
        base: Path,
        flavor: str = "k3s",
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
        join: Standin | None = None,
        token: str = "standin-test-token",
        node_name: str = "",
        node_ip: str = "127.0.0.1",
    ) -> None:
        self.base = base
        self.flavor = flavor
        self.join = join  # set for a k3s agent joining that server
        self.token = token
        self.node_name = node_name
        self.node_ip = node_ip  # "127.0.0.1,::1" for a dual-stack node
        self.extra_env = dict(env or {})
        self.args = args
        self.port = free_port()
        self.ingress_port = free_port()
        self.dns_port = free_port()
        # svclb pods listen on <service port> + offset in host mode (80 -> offset + 80).
        self.hostport_offset = free_hostport_offset()
        self.data_dir = base / "data"
        self.root = base / "root"
        self.log_root = base / "log"
        # k0s keeps its admin kubeconfig in its PKI dir; k3s writes where it is told.
        self.kubeconfig = (
            base / "kubeconfig.yaml" if flavor == "k3s" else self.data_dir / "pki" / "admin.conf"
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.output = base / "standin.log"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STANDIN_")}
        env.update(
            {
                "PYTHONPATH": str(STANDIN_DIR),
                "STANDIN_POD_NETWORK": "host",
                "STANDIN_ROOT": str(self.root),
                "STANDIN_LOG_ROOT": str(self.log_root),
                "STANDIN_DNS_PORT": str(self.dns_port),
                "STANDIN_INGRESS_HTTP_PORT": str(self.ingress_port),
                "STANDIN_INGRESS_HTTPS_PORT": str(free_port()),
                "STANDIN_BACKOFF_SECONDS": "1",
                "STANDIN_SYNC_INTERVAL": "0.3",
                "STANDIN_BIND_ADDRESS": "127.0.0.1",
                "STANDIN_LISTEN_ADDRESS": "127.0.0.1",
                "STANDIN_HOSTPORT_OFFSET": str(self.hostport_offset),
            }
        )
        env.update(self.extra_env)
        return env

    def command(self) -> list[str]:
        if self.join is not None and self.flavor == "k0s":
            # k0s names nodes after the hostname: give the worker its own UTS namespace.
            return [
                "unshare",
                "--uts",
                "sh",
                "-c",
                'hostname "$0" && exec "$@"',
                self.node_name or "worker-1",
                sys.executable,
                "-m",
                "k8s_standin",
                "k0s",
                "worker",
                self._k0s_join_token(),
                "--data-dir",
                str(self.data_dir),
                *self.args,
            ]
        if self.join is not None:
            return [
                sys.executable,
                "-m",
                "k8s_standin",
                "k3s",
                "agent",
                "--server",
                f"https://127.0.0.1:{self.join.port}",
                "--token",
                self.token,
                "--data-dir",
                str(self.data_dir),
                "--node-ip",
                self.node_ip,
                *(["--node-name", self.node_name] if self.node_name else []),
                *self.args,
            ]
        if self.flavor == "k3s":
            return [
                sys.executable,
                "-m",
                "k8s_standin",
                "k3s",
                "server",
                "--data-dir",
                str(self.data_dir),
                "--https-listen-port",
                str(self.port),
                "--bind-address",
                "127.0.0.1",
                "--node-ip",
                self.node_ip,
                "--write-kubeconfig",
                str(self.kubeconfig),
                "--token",
                self.token,
                *(["--node-name", self.node_name] if self.node_name else []),
                *self.args,
            ]
        config = self.base / "k0s.yaml"
        config.write_text(
            json.dumps(
                {
                    "apiVersion": "k0s.k0sproject.io/v1beta1",
                    "kind": "ClusterConfig",
                    "spec": {"api": {"address": "127.0.0.1", "port": self.port}},
                }
            )
        )
        return [
            sys.executable,
            "-m",
            "k8s_standin",
            "k0s",
            "controller",
            "--enable-worker",
            "--data-dir",
            str(self.data_dir),
            "--config",
            str(config),
            *self.args,
        ]

    def _k0s_join_token(self) -> str:
        assert self.join is not None
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "k8s_standin",
                "k0s",
                "token",
                "create",
                "--role=worker",
                "--data-dir",
                str(self.join.data_dir),
            ],
            env=self.join.env,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return proc.stdout.strip()

    def start(self, timeout: float = 30) -> Standin:
        self.base.mkdir(parents=True, exist_ok=True)
        with open(self.output, "ab") as out:
            self.proc = subprocess.Popen(
                self.command(),
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(self._api_ready, timeout, f"the stand-in API (log: {self.output})")
        return self

    def _api_ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise StandinExited(
                f"stand-in exited with {self.proc.returncode}:\n" + self.output.read_text()[-3000:]
            )
        if self.join is not None:
            # Agents serve no API; they are up once they wrote their kubelet credentials.
            return (self.data_dir / "agent" / "kubelet.kubeconfig").exists() or (
                self.data_dir / "kubelet.conf"
            ).exists()
        if not self.kubeconfig.exists():
            return False
        with socket.socket() as sock:
            sock.settimeout(1)
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self, kill_pods: bool = True) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
        if kill_pods:
            killall(self.base)

    def restart(self, timeout: float = 30) -> Standin:
        self.stop(kill_pods=False)
        return self.start(timeout)

    def api_client(self) -> Any:
        from kubernetes import config

        return config.new_client_from_config(config_file=str(self.kubeconfig))

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.output.read_text()[-chars:]
        except OSError:
            return ""
