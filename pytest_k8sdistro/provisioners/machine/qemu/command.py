"""The qemu-system-x86_64 command line of one VM, and the choice of accelerator.

Kept free of I/O but for :func:`kvm_problem`, so that what a VM is allowed to do
(forwards on 127.0.0.1 only, a guest restricted from the outside) is unit-tested.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pytest_k8sdistro.errors import ConfigError

QEMU = "qemu-system-x86_64"
QEMU_IMG = "qemu-img"
ACCELS = ("auto", "kvm", "tcg")
KVM_DEVICE = Path("/dev/kvm")
#: TCG's translation cache defaults to 1 GiB of host memory on top of the guest's;
#: a quarter of it costs little speed and keeps a VM's footprint near its size.
TCG = "tcg,tb-size=256"
#: The first NIC's (user-mode networking, the way out and the forwards).
OUTSIDE_MAC = "52:54:00:12:34:56"
INSTALL_HINT = "install QEMU (Debian/Ubuntu: apt-get install qemu-system-x86 qemu-utils)"


@dataclass(frozen=True)
class DirectBoot:
    """A kernel booted by QEMU itself, for disks without a boot loader."""

    kernel: Path
    initrd: Path | None
    cmdline: str


@dataclass(frozen=True)
class Files:
    """Where one VM's files are (all in its own directory, see :mod:`.state`)."""

    overlay: Path
    seed: Path
    qmp: Path
    pidfile: Path
    console: Path


@dataclass(frozen=True)
class NodesNic:
    """A second NIC on the network a cluster's VMs share.

    QEMU's socket netdev in multicast mode: every VM of the cluster joins the group
    ``group:port`` on the host's loopback, so they see each other's frames as one
    Ethernet segment, and nothing else does (no bridge, no privileges, nothing on
    the host's own networks). Each cluster has a port of its own.
    """

    group: str
    port: int
    mac: str


def kvm_problem(device: Path = KVM_DEVICE) -> str | None:
    """None when ``device`` opens read-write (what QEMU needs for KVM), else why not."""
    try:
        fd = os.open(device, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return f"{device} does not exist (no KVM: nested virtualisation off, or no kvm module)"
    except PermissionError:
        return (
            f"{device} is not readable and writable by this user: add the user to the group "
            f"that owns it ('sudo usermod -aG kvm $USER', then log in again) or allow it with "
            "a udev rule"
        )
    except OSError as exc:
        return f"{device} cannot be opened: {exc.strerror}"
    os.close(fd)
    return None


def choose_accel(requested: str, problem: Callable[[], str | None] = kvm_problem) -> str:
    """``kvm`` or ``tcg`` for ``--distro-vm-accel=requested``; ConfigError when kvm cannot be."""
    if requested == "tcg":
        return "tcg"
    found = problem()
    if requested == "kvm":
        if found is not None:
            raise ConfigError(
                f"--distro-vm-accel=kvm: {found}; or use --distro-vm-accel=tcg (emulation, "
                "several times slower)"
            )
        return "kvm"
    return "kvm" if found is None else "tcg"


def accel_options(accel: str) -> list[str]:
    if accel == "kvm":
        # The host's CPU model: guests see what they run on, and KVM needs no translation.
        return ["-accel", "kvm", "-cpu", "host"]
    return ["-accel", TCG]


def netdev(forwards: Mapping[int, int], *, restrict: bool) -> str:
    """User-mode networking: each guest port of ``forwards`` (guest -> host) reachable on
    127.0.0.1 only, never on every address; ``restrict``: the guest reaches nothing outside."""
    rules = [f"hostfwd=tcp:127.0.0.1:{host}-:{guest}" for guest, host in forwards.items()]
    return ",".join(["user", "id=net0", f"restrict={'on' if restrict else 'off'}", *rules])


def qemu_command(
    files: Files,
    *,
    accel: str,
    memory_mib: int,
    cpus: int,
    forwards: Mapping[int, int],
    restrict: bool,
    boot: DirectBoot | None = None,
    nodes_nic: NodesNic | None = None,
) -> list[str]:
    argv = [
        QEMU,
        "-machine", "q35",
        *accel_options(accel),
        "-m", str(memory_mib),
        "-smp", str(cpus),
        # Nothing implicit (no VGA, default NIC or CD-ROM): every device is named here.
        "-nodefaults",
        "-display", "none",
        "-serial", f"file:{files.console}",
    ]  # fmt: skip
    if boot is not None:
        argv += ["-kernel", str(boot.kernel), "-append", boot.cmdline]
        if boot.initrd is not None:
            argv += ["-initrd", str(boot.initrd)]
    argv += [
        "-drive", f"if=virtio,file={files.overlay},format=qcow2",
        "-drive", f"if=virtio,file={files.seed},format=raw,readonly=on",
        "-netdev", netdev(forwards, restrict=restrict),
        # The address QEMU gives its first NIC anyway, named so that a guest configures
        # this one (cloud images' fallback network config matches one NIC by address).
        "-device", f"virtio-net-pci,netdev=net0,mac={OUTSIDE_MAC}",
    ]  # fmt: skip
    if nodes_nic is not None:
        argv += [
            "-netdev",
            f"socket,id=nodes,mcast={nodes_nic.group}:{nodes_nic.port},localaddr=127.0.0.1",
            "-device", f"virtio-net-pci,netdev=nodes,mac={nodes_nic.mac}",
        ]  # fmt: skip
    argv += [
        "-qmp", f"unix:{files.qmp},server=on,wait=off",
        "-pidfile", str(files.pidfile),
        # A guest that reboots (a panic, say) ends QEMU instead of booting again.
        "-no-reboot",
    ]  # fmt: skip
    return argv


def names_overlay(argv: list[str], overlay: Path) -> bool:
    """Whether a process's arguments are a QEMU running on ``overlay`` (and so ours)."""
    if not argv or not Path(argv[0]).name.startswith("qemu-system"):
        return False
    drive = f"file={overlay},"
    return any(drive in arg for arg in argv)
