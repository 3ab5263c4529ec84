"""Start the stand-in as a subprocess for host tests (no Docker, loopback only)."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE_PARENT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class StandIn:
    """One stand-in process; `restart()` keeps the data dir and port."""

    flavor: str
    args: list[str]
    env: dict[str, str]
    workdir: Path
    port: int
    kubeconfig: Path
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path = field(init=False)
    starts: int = 0

    def __post_init__(self) -> None:
        self.log_path = self.workdir / "standin.log"

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def command(self, *extra: str) -> list[str]:
        return [sys.executable, "-m", "k8s_standin", self.flavor, *extra]

    def run(self, *extra: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """Run a one-shot subcommand (k0s kubeconfig admin, token create, ...)."""
        return subprocess.run(
            self.command(*extra),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self) -> None:
        self.starts += 1
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.command(*self.args),
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def admin_context(self) -> ssl.SSLContext:
        """TLS with the kubeconfig's admin client certificate when it is there (k3s and
        k0s refuse anonymous requests, health checks included), the server unverified."""
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        if self.kubeconfig.exists():
            import base64
            import tempfile

            import yaml

            try:
                user = yaml.safe_load(self.kubeconfig.read_text())["users"][0]["user"]
                pem = base64.b64decode(user["client-certificate-data"]) + base64.b64decode(
                    user["client-key-data"]
                )
            except (KeyError, TypeError, ValueError, yaml.YAMLError):
                return ctx
            with tempfile.NamedTemporaryFile(suffix=".pem") as tmp:
                tmp.write(pem)
                tmp.flush()
                ctx.load_cert_chain(tmp.name)
        return ctx

    def probe(self, path: str) -> int | None:
        """HTTP status of GET path as the administrator, or None when nothing answers."""
        ctx = self.admin_context()
        try:
            with urllib.request.urlopen(self.url + path, context=ctx, timeout=2) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as err:
            return int(err.code)
        except OSError:
            return None

    def wait_for(self, path: str = "/readyz", status: int = 200, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"stand-in exited with {self.proc.returncode}:\n{self.log()}")
            if self.probe(path) == status and self.kubeconfig.exists():
                return
            time.sleep(0.05)
        raise TimeoutError(f"{path} did not answer {status} within {timeout}s:\n{self.log()}")

    def stop(self, timeout: float = 10) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def restart(self) -> None:
        self.stop()
        self.start()


def _env(workdir: Path, extra: dict[str, str] | None, node: bool) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(PACKAGE_PARENT), env.get("PYTHONPATH", "")) if p
    )
    env["STANDIN_LOG_ROOT"] = str(workdir / "log")
    env["STANDIN_ROOT"] = str(workdir / "root")
    env["STANDIN_BIND_ADDRESS"] = "127.0.0.1"
    if not node:
        env["STANDIN_NO_NODE"] = "1"
    env.update(extra or {})
    return env


def k3s(
    workdir: Path, *args: str, env: dict[str, str] | None = None, node: bool = False
) -> StandIn:
    port = free_port()
    kubeconfig = workdir / "k3s.yaml"
    full = [
        "server",
        "--https-listen-port",
        str(port),
        "--data-dir",
        str(workdir / "data"),
        "--write-kubeconfig",
        str(kubeconfig),
        "--node-ip",
        "127.0.0.1",
        "--node-name",
        "standin-server",
        *args,
    ]
    return StandIn("k3s", full, _env(workdir, env, node), workdir, port, kubeconfig)


def k0s(
    workdir: Path,
    *args: str,
    config: str = "",
    env: dict[str, str] | None = None,
    node: bool = False,
) -> StandIn:
    port = free_port()
    cfg = workdir / "k0s.yaml"
    cfg.write_text(
        f"apiVersion: k0s.k0sproject.io/v1beta1\nkind: ClusterConfig\nspec:\n"
        f"  api:\n    address: 127.0.0.1\n    port: {port}\n{config}"
    )
    data = workdir / "k0s"
    full = ["controller", "--data-dir", str(data), "-c", str(cfg), *args]
    return StandIn(
        "k0s", full, _env(workdir, env, node), workdir, port, data / "pki" / "admin.conf"
    )


@contextmanager
def running(standin: StandIn, wait: str = "/readyz") -> Iterator[StandIn]:
    standin.workdir.mkdir(parents=True, exist_ok=True)
    standin.start()
    try:
        standin.wait_for(wait)
        yield standin
    finally:
        standin.stop()
