"""Options of provisioners that boot a VM per cluster (``--distro-provisioner=qemu``).

Added to the plugin's option group by :func:`pytest_k8sdistro.config.options.add_options`.
Paths are checked while pytest parses its arguments; what depends on the machine
(QEMU installed, ``/dev/kvm`` usable) is the provisioner's ``check_config``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_k8sdistro.config import parse

ACCELS = ("auto", "kvm", "tcg")


def vm_accel(value: str) -> str:
    return parse.choice(value, flag="--distro-vm-accel", accepted=ACCELS, what="an accelerator")


def existing_file(flag: str, what: str) -> Callable[[str], Path]:
    def convert(value: str) -> Path:
        path = Path(value).expanduser()
        if not path.is_file():
            raise pytest.UsageError(f"{flag}={value!r}: no such file; give the path of {what}")
        return path.resolve()

    return convert


def add_options(group: Any) -> None:
    group.addoption(
        "--distro-vm-accel",
        dest="vm_accel",
        type=vm_accel,
        default="auto",
        metavar="auto|kvm|tcg",
        help="how VMs run: kvm (hardware), tcg (emulation, slower) or auto (kvm when "
        "/dev/kvm opens read-write, else tcg). Default: auto",
    )
    group.addoption(
        "--distro-vm-image",
        dest="vm_image",
        type=existing_file("--distro-vm-image", "a qcow2 or raw disk image"),
        default=None,
        metavar="PATH",
        help="the disk VMs boot from (qcow2 or raw; never written: each VM gets an "
        "overlay). Default: Ubuntu 24.04's cloud image, downloaded once and verified",
    )
    group.addoption(
        "--distro-vm-kernel",
        dest="vm_kernel",
        type=existing_file("--distro-vm-kernel", "a Linux kernel (vmlinuz)"),
        default=None,
        metavar="PATH",
        help="boot this kernel directly, for disk images without a boot loader",
    )
    group.addoption(
        "--distro-vm-initrd",
        dest="vm_initrd",
        type=existing_file("--distro-vm-initrd", "an initramfs"),
        default=None,
        metavar="PATH",
        help="the initramfs for --distro-vm-kernel",
    )
    group.addoption(
        "--distro-vm-cmdline",
        dest="vm_cmdline",
        default=None,
        metavar="ARGS",
        help="the kernel command line for --distro-vm-kernel. Default: "
        "'root=/dev/vda rw console=ttyS0'",
    )
