"""Boot the VM test image with the qemu provisioner's own pieces, outside a provisioner.

Test-only glue: the directory, seed, overlay, QEMU command line, SSH wait and
power-off are the plugin's (pytest_k8sdistro/provisioners/machine/qemu/vm.py); this
only strings them together for tests of the image itself.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from pytest_k8sdistro.provisioners.machine.qemu import command, state
from pytest_k8sdistro.provisioners.machine.qemu import vm as qemu_vm
from pytest_k8sdistro.provisioners.machine.qemu.vm import VmTarget
from vm.image import VmImage


@contextlib.contextmanager
def booted_vm(
    image: VmImage, directory: Path, *, hostname: str, memory_mib: int = 1024
) -> Iterator[tuple[qemu_vm.Vm, VmTarget, float]]:
    """Yield the VM, its SSH target and the seconds to SSH; power off and remove on exit."""
    shape = qemu_vm.Shape(
        base=image.disk,
        # KVM hangs guests on the project's machines.
        accel="tcg",
        memory_mib=memory_mib,
        cpus=2,
        ports=(),
        restrict=True,
        boot=command.DirectBoot(image.kernel, image.initrd, image.cmdline),
    )
    owner = state.Owner(
        run_id="test", pid=os.getpid(), pid_start="", hostname=socket.gethostname(),
        cluster=hostname, overlay=str(directory / "overlay.qcow2"),
    )  # fmt: skip
    booted = qemu_vm.Vm(state.VmDir(directory), hostname)
    qemu_vm.prepare(booted.directory, owner, shape, hostname)
    started = time.monotonic()
    try:
        qemu_vm.start(booted, shape)
        target = qemu_vm.wait_for_ssh(booted, timeout=600)
        yield booted, target, time.monotonic() - started
    finally:
        qemu_vm.power_off(booted, print)
        qemu_vm.remove(booted)
