"""``--distro-provisioner=host``: install the distribution on the machine running pytest.

Meant for throwaway machines (a CI runner, a VM made for the job): it installs
system services and, on teardown, uninstalls them. Settings refuse it unless
``--distro-allow-host-install`` is given.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from pytest_k8sdistro.distros.spec import DistroSpec
from pytest_k8sdistro.errors import ConfigError
from pytest_k8sdistro.model.cluster import SUITE_NODE_PORTS, Cluster
from pytest_k8sdistro.provisioners.base import ProvisionerConfig
from pytest_k8sdistro.provisioners.machine import lease
from pytest_k8sdistro.provisioners.machine.base import MachineProvisioner, Result, Target


class LocalTarget(Target):
    description = f"this machine ({socket.gethostname()})"

    def execute(self, argv: Sequence[str], *, timeout: float, stdin: bytes | None = None) -> Result:
        try:
            done = subprocess.run(
                list(argv), input=stdin, capture_output=True, timeout=timeout, check=False
            )
        except FileNotFoundError as exc:
            return Result(127, "", f"{argv[0]}: {exc.strerror}")
        except subprocess.TimeoutExpired:
            return Result(124, "", f"timed out after {timeout:.0f}s")
        return Result(
            done.returncode,
            done.stdout.decode(errors="replace"),
            done.stderr.decode(errors="replace"),
        )

    def spawn(self, argv: Sequence[str]) -> subprocess.Popen[bytes]:
        return lease.local_process(argv)

    def upload(self, source: Path, dest: str) -> None:
        shutil.copyfile(source, dest)

    def api_host(self) -> str:
        return "127.0.0.1"

    def node_spec(self) -> str:
        return "local://?sudo=true" if not self.is_root else "local://"


class HostProvisioner(MachineProvisioner):
    NAME = "host"
    CAPABILITIES = replace(
        MachineProvisioner.CAPABILITIES, installs_here=True, second_cluster=False
    )

    @classmethod
    def check_config(cls, config: ProvisionerConfig, specs: tuple[DistroSpec, ...]) -> None:
        super().check_config(config, specs)
        if not config.allow_host_install:
            raise ConfigError(
                "--distro-provisioner=host installs the distribution on this machine as system "
                "services and removes it afterwards; allow that with --distro-allow-host-install "
                "(only on a throwaway machine), or use --distro-provisioner=ssh://user@host or "
                "--distro-provisioner=multipass"
            )

    def target(self, key: str, *, creating: bool) -> Target:
        return LocalTarget()

    def reach(self, cluster: Cluster, address: str, port: int) -> tuple[str, int]:
        # pytest runs on the node: its addresses, and what it routes, are this host's.
        return address, port

    def ports(self, api_port: int) -> dict[str, int]:
        # Everything the node serves is on this machine's own ports.
        return {f"{port}/tcp": port for port in (api_port, *SUITE_NODE_PORTS)}
