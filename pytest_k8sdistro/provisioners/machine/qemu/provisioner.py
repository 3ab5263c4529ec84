"""``--distro-provisioner=qemu``: the distribution installed in a VM that QEMU boots per cluster.

The VM boots a copy-on-write overlay of a base disk (``--distro-vm-image``, default
Ubuntu's noble cloud image) with a NoCloud seed that makes the login user, and is
then a machine like any other: the SSH provisioner's target runs the profile's
install plan in it (:mod:`..base`), through a port forwarded on 127.0.0.1. The API
and the node ports the suites use are forwarded the same way, on 127.0.0.1 only.

QEMU is driven directly, not through libvirt: no daemon, no privileges, the same on
a laptop and a CI runner, and every forward under our control.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from pytest_k8sdistro.distros.spec import DistroSpec
from pytest_k8sdistro.errors import ConfigError, ProvisionError
from pytest_k8sdistro.model.cluster import SUITE_NODE_PORTS, Cluster
from pytest_k8sdistro.provisioners import process
from pytest_k8sdistro.provisioners.base import ProvisionerConfig
from pytest_k8sdistro.provisioners.machine.base import MachineProvisioner, Target
from pytest_k8sdistro.provisioners.machine.multipass import vm_name
from pytest_k8sdistro.provisioners.machine.qemu import command, image, state, vm
from pytest_k8sdistro.provisioners.machine.ssh import ReachesOverSsh

#: The 2021 comparison ran every distribution on 4 GiB, 2-CPU instances.
DEFAULT_MEMORY = 4 * 2**30
DEFAULT_CPUS = 2
#: For ``--distro-vm-kernel`` without ``--distro-vm-cmdline``.
DEFAULT_CMDLINE = "root=/dev/vda rw console=ttyS0"
#: The machine QEMU emulates (qemu-system-x86_64).
MACHINE = "x86_64"


class QemuProvisioner(ReachesOverSsh):
    NAME = "qemu"
    CAPABILITIES = replace(
        MachineProvisioner.CAPABILITIES, limits_memory=True, limits_cpus=True, boots_vms=True
    )
    #: Node ports the suites reach from this host: ingress and the load-balancer ports.
    FORWARDED = SUITE_NODE_PORTS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.state_root = state.state_root()
        self._vms: dict[str, vm.Vm] = {}
        self._specs: dict[str, DistroSpec] = {}
        self._accel: str | None = None

    # -- checks ---------------------------------------------------------------

    @classmethod
    def check_config(cls, config: ProvisionerConfig, specs: tuple[DistroSpec, ...]) -> None:
        missing = [tool for tool in (command.QEMU, command.QEMU_IMG) if shutil.which(tool) is None]
        if missing:
            raise ConfigError(
                f"--distro-provisioner=qemu needs {' and '.join(missing)}, not found on PATH: "
                f"{command.INSTALL_HINT}"
            )
        if shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
            raise ConfigError(
                "--distro-provisioner=qemu reaches its VMs with the OpenSSH client (ssh, "
                "ssh-keygen), not found on PATH; install it (Debian: apt-get install "
                "openssh-client)"
            )
        command.choose_accel(config.vm_accel)
        if config.node_cpus is not None and config.node_cpus != int(config.node_cpus):
            raise ConfigError(
                f"--distro-node-cpus={config.node_cpus:g}: a VM has a whole number of CPUs; "
                "give 1, 2, ..."
            )
        for flag, path in (
            ("--distro-vm-image", config.vm_image),
            ("--distro-vm-kernel", config.vm_kernel),
            ("--distro-vm-initrd", config.vm_initrd),
        ):
            if path is not None and not path.is_file():
                raise ConfigError(f"{flag}={str(path)!r}: no such file")
        if config.vm_kernel is None:
            given = [
                flag
                for flag, value in (
                    ("--distro-vm-initrd", config.vm_initrd),
                    ("--distro-vm-cmdline", config.vm_cmdline),
                )
                if value is not None
            ]
            if given:
                raise ConfigError(
                    f"{' and '.join(given)} are for direct kernel boot and need "
                    "--distro-vm-kernel=PATH; add it, or drop them to boot the disk's own "
                    "boot loader"
                )

    # -- leftovers ------------------------------------------------------------

    def cleanup_leftovers(self) -> None:
        state.reap(self.state_root, self.run.hostname, self.progress.say)

    # -- the machine ------------------------------------------------------------

    def create(self, spec: DistroSpec, key: str) -> Cluster:
        self._specs[key] = spec
        cluster = super().create(spec, key)
        booted = self._vms[key]
        cluster.ports.update({f"{port}/tcp": booted.forwards[port] for port in self.FORWARDED})
        cluster.details["vm"] = {
            "directory": str(booted.directory.path),
            "hostname": booted.hostname,
            "accel": self._accel,
            "forwards": _str_keys(booted.forwards),
        }
        return cluster

    def target(self, key: str, *, creating: bool) -> Target:
        if creating:
            self._vms[key] = self._boot(key)
        found = self._vms.get(key) or self._adopt(key)
        if found is None:
            raise ProvisionError(f"no VM of this run holds cluster {key}")
        return found.target()

    def _accelerator(self) -> str:
        if self._accel is None:
            why = command.kvm_problem()
            self._accel = command.choose_accel(self.settings.vm_accel, lambda: why)
            reason = (
                f"{command.KVM_DEVICE} opens read-write"
                if self._accel == "kvm"
                else (why or "--distro-vm-accel=tcg") + "; emulating, several times slower"
            )
            self.progress.say(f"qemu: accelerator {self._accel} ({reason})")
        return self._accel

    def _shape(self, spec: DistroSpec) -> vm.Shape:
        settings = self.settings
        plan = self.plan_for(spec, "/nonexistent", MACHINE)
        base = settings.vm_image or image.default_image(self.progress.say)
        boot = None
        if settings.vm_kernel is not None:
            boot = command.DirectBoot(
                settings.vm_kernel, settings.vm_initrd, settings.vm_cmdline or DEFAULT_CMDLINE
            )
        return vm.Shape(
            base=base,
            accel=self._accelerator(),
            memory_mib=(settings.node_memory or DEFAULT_MEMORY) // 2**20,
            cpus=int(settings.node_cpus or DEFAULT_CPUS),
            ports=(plan.api_port, *self.FORWARDED),
            # The guest reaches the outside only when the install must download.
            restrict=not plan.downloads,
            boot=boot,
        )

    def _boot(self, key: str) -> vm.Vm:
        spec = self._specs[key]
        self.cleanup_leftovers()
        shape = self._shape(spec)
        directory = state.VmDir(self.state_root / state.dir_name(self.run.run_id, key))
        booted = vm.Vm(directory, vm_name(key))
        owner = state.Owner(
            run_id=self.run.run_id,
            pid=self.run.pid,
            pid_start=process.process_start(self.run.pid),
            hostname=self.run.hostname,
            cluster=key,
            overlay=str(directory.files.overlay),
        )
        network = (
            "no outbound network (air-gapped install)"
            if shape.restrict
            else "outbound network on (the install downloads)"
        )
        started = time.monotonic()
        try:
            vm.prepare(directory, owner, shape, booted.hostname)
            self.progress.say(
                f"{key}: booting VM {booted.hostname} from {shape.base} ({shape.accel}, "
                f"{shape.memory_mib} MiB, {shape.cpus} CPUs, {network}); files in {directory.path}"
            )
            vm.start(booted, shape)
            replace(owner, forwards=_str_keys(booted.forwards)).write(directory)
            vm.wait_for_ssh(booted, self.settings.ready_timeout_for(spec.profile))
        except BaseException as exc:
            if isinstance(exc, ProvisionError):
                saved = self._save_console(key, booted)
                exc = ProvisionError(f"{exc}\n(console log kept in {saved})") if saved else exc
            self._power_off(booted, acpi=False)  # it never answered SSH
            if isinstance(exc, ProvisionError):
                raise exc from None
            raise
        self.progress.say(
            f"{key}: {booted.hostname} answers SSH on 127.0.0.1:{booted.forwards[22]} after "
            f"{time.monotonic() - started:.0f}s"
        )
        return booted

    def _adopt(self, key: str) -> vm.Vm | None:
        """The VM an earlier run kept for ``key`` (``--distro-reuse-cluster``)."""
        found = state.find_kept(self.state_root, key, self.run.hostname)
        if found is None:
            return None
        directory, owner = found
        adopted = vm.Vm(directory, vm_name(key), {int(g): h for g, h in owner.forwards.items()})
        self._vms[key] = adopted
        return adopted

    def release_target(self, key: str) -> None:
        self._stop_reached(key)
        held = self._leases.pop(key, None)
        if held is not None:
            held.release()
        self._targets.pop(key, None)
        found = self._vms.pop(key, None)
        if found is not None:
            self._power_off(found)

    def _power_off(self, found: vm.Vm, *, acpi: bool = True) -> None:
        how = vm.power_off(found, self.progress.say, acpi=acpi)
        vm.remove(found)
        self.progress.say(f"VM {found.hostname} {how}; removed {found.directory.path}")

    def _save_console(self, key: str, booted: vm.Vm) -> Path | None:
        dest = self.workdir / "diagnostics" / key
        with contextlib.suppress(OSError):
            dest.mkdir(parents=True, exist_ok=True)
            for source in (booted.directory.files.console, booted.directory.qemu_log):
                if source.is_file():
                    shutil.copy(source, dest / source.name)
            return dest
        return None

    # -- the cluster ------------------------------------------------------------

    def destroy(self, cluster: Cluster) -> None:
        # The whole VM goes: nothing inside needs uninstalling first.
        self.release_target(cluster.key)

    def keep(self, cluster: Cluster) -> None:
        """Leave the VM running, and say in its record that no later run may reap it."""
        # Forwards end with this run; a later run that attaches makes its own.
        self._stop_reached(cluster.key)
        super().keep(cluster)
        found = self._vms.pop(cluster.key, None) or self._adopt(cluster.key)
        if found is None:
            return
        self._vms.pop(cluster.key, None)
        owner = state.Owner.read(found.directory)
        if owner is not None:
            replace(owner, kept=True).write(found.directory)
        self.progress.say(
            f"{cluster.key}: VM {found.hostname} keeps running (pid {found.pid}); attach with "
            f"--distro-reuse-cluster, or remove it: kill {found.pid}; rm -rf {found.directory.path}"
        )

    def attach(self, cluster: Cluster) -> bool:
        if cluster.key not in self._vms and self._adopt(cluster.key) is None:
            return False
        return super().attach(cluster)

    def diagnostics(self, cluster: Cluster, dest: Path) -> None:
        super().diagnostics(cluster, dest)
        found = self._vms.get(cluster.key)
        if found is not None and found.directory.files.console.is_file():
            shutil.copy(found.directory.files.console, dest / "console.log")


def _str_keys(forwards: dict[int, int]) -> dict[str, int]:
    return {str(guest): host for guest, host in forwards.items()}
