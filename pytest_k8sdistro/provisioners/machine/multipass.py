"""``--distro-provisioner=multipass``: a throwaway Ubuntu VM per cluster, made with multipass.

A VM fits where a distribution cannot be installed directly (macOS, Windows,
machines one does not want to change). The VM is launched as
``k8sdistro-<cluster key>``, the distribution installed inside it with the same
plan as on any machine (commands through ``multipass exec``, files through
``multipass transfer``), and the VM deleted and purged afterwards, by name, so
other instances (and their deleted-but-recoverable state) are never touched.

The ``node`` fixture reaches the VM over SSH: the launch's cloud-init authorises a
key generated for the run, kept with the run's files.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from pytest_k8sdistro.distros.spec import DistroSpec
from pytest_k8sdistro.errors import ConfigError, ProvisionError
from pytest_k8sdistro.provisioners.base import ProvisionerConfig
from pytest_k8sdistro.provisioners.machine import lease
from pytest_k8sdistro.provisioners.machine.base import MachineProvisioner, Result, Target
from pytest_k8sdistro.provisioners.machine.ssh import SshAddress, node_spec

#: A VM of 4G of memory, 2 CPUs and 20G of disk holds one node of any distribution.
DEFAULT_CPUS = 2
DEFAULT_MEMORY = "4G"
DEFAULT_DISK = "20G"
LAUNCH_TIMEOUT_S = 900
VM_USER = "ubuntu"
INSTALL_HINT = (
    "the multipass provisioner needs the multipass CLI: install it from "
    "https://multipass.run (Linux: snap install multipass), or use "
    "--distro-provisioner=host --distro-allow-host-install or --distro-provisioner=ssh://user@host"
)


def vm_name(key: str) -> str:
    """A multipass instance name for cluster ``key``: letters, digits and hyphens."""
    name = "k8sdistro-" + re.sub(r"[^a-z0-9-]+", "-", key.lower()).strip("-")
    return name[:63].rstrip("-")


def launch_command(
    name: str, *, cloud_init: Path, cpus: float | None, memory: int | None, image: str | None
) -> list[str]:
    argv = [
        "multipass",
        "launch",
        "--name",
        name,
        "--cpus",
        str(max(1, round(cpus)) if cpus else DEFAULT_CPUS),
        "--memory",
        str(memory) if memory else DEFAULT_MEMORY,
        "--disk",
        DEFAULT_DISK,
        "--cloud-init",
        str(cloud_init),
        "--timeout",
        str(LAUNCH_TIMEOUT_S),
    ]
    return [*argv, image] if image else argv


def exec_command(name: str, argv: Sequence[str]) -> list[str]:
    return ["multipass", "exec", name, "--", *argv]


def transfer_command(name: str, source: Path, dest: str) -> list[str]:
    return ["multipass", "transfer", str(source), f"{name}:{dest}"]


def info_command(name: str) -> list[str]:
    return ["multipass", "info", name, "--format", "json"]


def delete_command(name: str) -> list[str]:
    # --purge on the one instance: a bare 'multipass purge' would also purge
    # instances other people deleted and may still want to recover.
    return ["multipass", "delete", "--purge", name]


def address_from_info(name: str, text: str) -> str:
    """The VM's first IPv4 address from ``multipass info --format json``."""
    try:
        data: dict[str, Any] = json.loads(text)
        addresses = data["info"][name]["ipv4"]
    except (ValueError, KeyError, TypeError):
        raise ProvisionError(f"multipass info {name} gave no address: {text[:200]!r}") from None
    if not addresses:
        raise ProvisionError(f"multipass VM {name} has no IPv4 address yet")
    return str(addresses[0])


def cloud_init(public_key: str) -> str:
    return f"#cloud-config\nssh_authorized_keys:\n  - {public_key.strip()}\n"


def _run(argv: Sequence[str], *, timeout: float) -> Result:
    if shutil.which(argv[0]) is None:
        raise ProvisionError(INSTALL_HINT)
    try:
        done = subprocess.run(list(argv), capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return Result(124, "", f"timed out after {timeout:.0f}s: {' '.join(argv)}")
    return Result(
        done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")
    )


class MultipassTarget(Target):
    def __init__(self, name: str, ssh_config: Path) -> None:
        self.name = name
        self.ssh_config = ssh_config
        self.description = f"multipass VM {name}"
        self._address: str | None = None

    def execute(self, argv: Sequence[str], *, timeout: float, stdin: bytes | None = None) -> Result:
        return _run(exec_command(self.name, argv), timeout=timeout)

    def spawn(self, argv: Sequence[str]) -> subprocess.Popen[bytes]:
        if shutil.which("multipass") is None:
            raise ProvisionError(INSTALL_HINT)
        return lease.local_process(exec_command(self.name, argv))

    def upload(self, source: Path, dest: str) -> None:
        result = _run(transfer_command(self.name, source, dest), timeout=1800)
        if result.rc != 0:
            raise ProvisionError(f"multipass transfer to {self.name} failed: {result.tail(3)}")

    def api_host(self) -> str:
        if self._address is None:
            result = _run(info_command(self.name), timeout=60)
            if result.rc != 0:
                raise ProvisionError(f"multipass info {self.name} failed: {result.tail(3)}")
            self._address = address_from_info(self.name, result.stdout)
        return self._address

    def node_spec(self) -> str:
        address = SshAddress(host=self.api_host(), user=VM_USER, ssh_config=str(self.ssh_config))
        return node_spec(address, sudo=True)


class MultipassProvisioner(MachineProvisioner):
    NAME = "multipass"
    CAPABILITIES = replace(MachineProvisioner.CAPABILITIES, limits_memory=True, limits_cpus=True)

    @classmethod
    def check_config(cls, config: ProvisionerConfig, specs: tuple[DistroSpec, ...]) -> None:
        if shutil.which("multipass") is None:
            raise ConfigError(
                "--distro-provisioner=multipass needs the multipass CLI, which is not on PATH: "
                "install it from https://multipass.run (Linux: snap install multipass), or "
                "use --distro-provisioner=host --distro-allow-host-install or --distro-provisioner=ssh://user@host"
            )

    def _keys(self, name: str) -> tuple[Path, Path]:
        """A key pair for the VM, and an ssh_config that uses it (for the node fixture)."""
        directory = self.workdir / "multipass"
        directory.mkdir(parents=True, exist_ok=True)
        key = directory / name
        if not key.exists():
            done = subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)],
                capture_output=True,
                check=False,
            )
            if done.returncode != 0:
                raise ProvisionError(f"ssh-keygen failed: {done.stderr.decode(errors='replace')}")
        config = directory / f"{name}.ssh_config"
        config.write_text(
            "Host *\n"
            f"  IdentityFile {key}\n"
            "  IdentitiesOnly yes\n"
            # A fresh VM's host key cannot be known beforehand; pin it on first use,
            # in a file of this run only.
            "  StrictHostKeyChecking accept-new\n"
            f"  UserKnownHostsFile {directory / 'known_hosts'}\n"
        )
        return key, config

    def target(self, key: str, *, creating: bool) -> Target:
        name = vm_name(key)
        private_key, config = self._keys(name)
        if creating:
            self._launch(name, private_key)
        return MultipassTarget(name, config)

    def _launch(self, name: str, private_key: Path) -> None:
        existing = _run(info_command(name), timeout=60)
        if existing.rc == 0:
            self._reap_dead_vm(name, private_key)
        init = private_key.with_suffix(".cloud-init.yaml")
        init.write_text(cloud_init(Path(f"{private_key}.pub").read_text()))
        command = launch_command(
            name,
            cloud_init=init,
            cpus=self.settings.node_cpus,
            memory=self.settings.node_memory,
            image=None,
        )
        self.progress.say(f"launching {' '.join(command)} (a few minutes)")
        result = _run(command, timeout=LAUNCH_TIMEOUT_S + 60)
        if result.rc != 0:
            self.release_target_by_name(name)
            raise ProvisionError(f"multipass launch {name} failed: {result.tail()}")

    def _reap_dead_vm(self, name: str, private_key: Path) -> None:
        """Delete VM ``name`` when the run that made it is dead; refuse otherwise."""
        in_use = ProvisionError(
            f"a multipass VM named {name} exists already (kept by an earlier run, or not "
            f"made by this plugin); reuse it with --distro-reuse-cluster, or remove it with "
            f"'multipass delete --purge {name}'"
        )
        target = MultipassTarget(name, private_key.with_suffix(".ssh_config"))
        try:
            target.probe()
        except ProvisionError:
            raise in_use from None
        taken = lease.Lease.take(target.spawn, sudo=not target.is_root, where=target.description)
        if taken is None:
            raise lease.Busy(
                f"multipass VM {name} is in use by a live run; nothing was changed. Wait "
                "for that run to end."
            )
        try:
            owner = self._read_record(target)
        finally:
            taken.release()
        if owner is None or owner.kept:
            raise in_use
        self.progress.say(
            f"{target.description}: {owner.describe()} ended without cleaning up; deleting its VM"
        )
        self.release_target_by_name(name)

    def release_target(self, key: str) -> None:
        held = self._leases.pop(key, None)
        if held is not None:
            held.release()
        self.release_target_by_name(vm_name(key))

    def release_target_by_name(self, name: str) -> None:
        if shutil.which("multipass") is None:
            return
        result = _run(delete_command(name), timeout=300)
        if result.rc == 0:
            self.progress.say(f"deleted multipass VM {name}")

    def destroy(self, cluster: Any) -> None:
        # The whole VM goes: nothing inside needs uninstalling first.
        self.release_target(cluster.key)
