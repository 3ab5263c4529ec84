"""``ssh_machine``: a throwaway machine reached over SSH on a port published on 127.0.0.1."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import docker
import docker.errors
import pytest
from filelock import FileLock

from sshd.image import ensure_image

TEST_LABELS = {"pytest-k8sdistro.test": "1"}
# What works on the project's machines (no --privileged there; see
# ../shared/machine-notes.md), and on machines that grant --privileged too. The
# stand-in's node side makes network namespaces for pods.
CAPS = {
    "cap_add": ["ALL"],
    "cap_drop": ["SYS_RESOURCE"],
    "security_opt": ["seccomp=unconfined", "apparmor=unconfined"],
}
READY_TIMEOUT_S = 60.0
#: SSH, and the APIs of k3s and k0s (6443) and microk8s (16443).
PUBLISHED = (22, 6443, 16443)


@dataclass(frozen=True)
class SshMachine:
    container_id: str
    ssh_port: int
    api_port: int
    key: Path
    ssh_config: Path
    #: Machine port -> the port on 127.0.0.1 that reaches it.
    published: dict[int, int]

    def url(self, user: str, *, api_host: str = "127.0.0.1", api_port: int = 6443) -> str:
        """The --provisioner URL for ``user``; the API (k3s's and k0s's 6443, microk8s's
        16443) is reached on its published port."""
        config = quote(str(self.ssh_config), safe="/")
        return (
            f"ssh://{user}@127.0.0.1:{self.ssh_port}"
            f"?ssh_config={config}&api={api_host}:{self.published[api_port]}"
        )

    def exec(self, client: docker.DockerClient, command: str) -> tuple[int, str]:
        code, output = client.containers.get(self.container_id).exec_run(["sh", "-c", command])
        return int(code), bytes(output).decode(errors="replace")


@pytest.fixture
def ssh_machine(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, standin_images: object
) -> Iterator[SshMachine]:
    client = docker.from_env()
    try:
        shared = tmp_path_factory.getbasetemp().parent
        with FileLock(str(shared / "k8sdistro-sshd-image.lock"), timeout=600):
            ref = ensure_image(client, standin_images.base, print)  # type: ignore[attr-defined]
        key = tmp_path / "id_ed25519"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        container = client.containers.run(
            ref,
            detach=True,
            labels=TEST_LABELS,
            hostname="ssh-machine",
            environment={"AUTHORIZED_KEY": key.with_suffix(".pub").read_text().strip()},
            ports={f"{port}/tcp": ("127.0.0.1", None) for port in PUBLISHED},
            **CAPS,
        )
        try:
            container.reload()
            ports = container.attrs["NetworkSettings"]["Ports"]
            ssh_port = int(ports["22/tcp"][0]["HostPort"])
            config = tmp_path / "ssh_config"
            config.write_text(
                "Host *\n"
                f"  IdentityFile {key}\n"
                "  IdentitiesOnly yes\n"
                "  StrictHostKeyChecking accept-new\n"
                f"  UserKnownHostsFile {tmp_path / 'known_hosts'}\n"
                "  LogLevel ERROR\n"
            )
            machine = SshMachine(
                container.id,
                ssh_port,
                int(ports["6443/tcp"][0]["HostPort"]),
                key,
                config,
                {port: int(ports[f"{port}/tcp"][0]["HostPort"]) for port in PUBLISHED},
            )
            wait_for_sshd(machine, container)
            yield machine
        finally:
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True, v=True)
    finally:
        client.close()


def wait_for_sshd(machine: SshMachine, container: object) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    command = [
        "ssh", "-F", str(machine.ssh_config), "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
        "-p", str(machine.ssh_port), "root@127.0.0.1", "true",
    ]  # fmt: skip
    while True:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode == 0:
            return
        if time.monotonic() > deadline:
            logs = container.logs(tail=30).decode(errors="replace")  # type: ignore[attr-defined]
            raise RuntimeError(f"sshd did not answer: {done.stderr}\n{logs}")
        time.sleep(0.5)
