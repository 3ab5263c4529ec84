"""Boot one VM from the cached image: overlay, seed, SSH on 127.0.0.1, clean power-off.

``booted_vm`` is a plain context manager (a fixture can wrap it): it yields once SSH
answers with the seeded key and powers the VM off on exit, through QMP's
``system_powerdown`` (the ACPI power button, so the guest shuts down as it would on a
real machine), falling back to ``quit`` and then SIGKILL if the guest does not stop.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from vm.image import VmImage
from vm.seed import SUDO_USER, write_seed

MEMORY_MIB = 2048
CPUS = 2
# KVM is not usable on the project's machines (a guest hangs after the boot loader), so
# TCG. Its translation cache defaults to 1 GiB, which QEMU's RSS shows on top of the
# guest's memory; a quarter of that keeps several VMs affordable.
ACCEL = "tcg,tb-size=256"
# Under TCG a boot to SSH takes a minute or two on a busy 2-core machine; far above that.
SSH_TIMEOUT_S = 600.0
POWEROFF_TIMEOUT_S = 120.0
# sun_path holds 108 bytes; pytest's tmp_path for a long test name can be longer.
SOCKET_PATH_MAX = 100


@dataclass
class BootedVm:
    name: str
    workdir: Path
    ssh_port: int
    key: Path
    ssh_config: Path
    process: subprocess.Popen[bytes]
    qmp_socket: Path
    pidfile: Path
    console_log: Path
    command: list[str]
    #: Seconds from starting QEMU to the first command over SSH.
    boot_seconds: float = 0.0
    #: What was still there after power-off (filled in on exit; empty when clean).
    leftovers: list[str] = field(default_factory=list)

    def ssh(
        self, user: str, command: str, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.ssh_argv(user), command],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def ssh_argv(self, user: str) -> list[str]:
        return [
            "ssh", "-F", str(self.ssh_config), "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
            "-p", str(self.ssh_port), f"{user}@127.0.0.1",
        ]  # fmt: skip


def qemu_command(
    image: VmImage,
    overlay: Path,
    seed: Path,
    *,
    ssh_port: int,
    qmp_socket: Path,
    pidfile: Path,
    console_log: Path,
    memory_mib: int = MEMORY_MIB,
    cpus: int = CPUS,
    accel: str = ACCEL,
) -> list[str]:
    """The qemu-system-x86_64 command line for one VM (kept apart to be unit-tested)."""
    return [
        "qemu-system-x86_64",
        "-machine", "q35",
        "-accel", accel,
        "-m", str(memory_mib),
        "-smp", str(cpus),
        # Nothing implicit (no VGA, default NIC or CD-ROM): every device is named below.
        "-nodefaults",
        "-display", "none",
        "-serial", f"file:{console_log}",
        "-kernel", str(image.kernel),
        "-initrd", str(image.initrd),
        "-append", image.cmdline,
        "-drive", f"if=virtio,file={overlay},format=qcow2",
        "-drive", f"if=virtio,file={seed},format=raw,readonly=on",
        # restrict=on: the guest reaches nothing outside (the network rule of the
        # project's machines); DHCP and the forwarded SSH port still work. Forwarded on
        # 127.0.0.1 only, never on every address.
        "-netdev", f"user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:{ssh_port}-:22",
        "-device", "virtio-net-pci,netdev=net0",
        "-qmp", f"unix:{qmp_socket},server=on,wait=off",
        "-pidfile", str(pidfile),
        # A guest that reboots (a panic, say) ends QEMU instead of booting again.
        "-no-reboot",
    ]  # fmt: skip


def free_port() -> int:
    # The port may be taken again before QEMU binds it; QEMU then exits at once, and the
    # caller sees that in the console and QEMU logs.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def booted_vm(
    image: VmImage,
    workdir: Path,
    *,
    hostname: str = "k8sdistro-vm",
    memory_mib: int = MEMORY_MIB,
    cpus: int = CPUS,
    accel: str = ACCEL,
    ssh_timeout: float = SSH_TIMEOUT_S,
) -> Iterator[BootedVm]:
    """Boot a VM on an overlay of ``image``, yield it once SSH answers, power it off."""
    for tool in ("qemu-system-x86_64", "qemu-img", "ssh", "ssh-keygen"):
        if shutil.which(tool) is None:
            raise RuntimeError(
                f"{tool} is not installed (apt-get install -y qemu-system-x86 "
                "qemu-utils openssh-client)"
            )
    workdir.mkdir(parents=True, exist_ok=True)
    key = workdir / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    seed = write_seed(
        workdir / "seed.iso",
        hostname=hostname,
        authorized_key=key.with_suffix(".pub").read_text().strip(),
    )
    overlay = workdir / "overlay.qcow2"
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(image.disk),
         str(overlay)],
        check=True,
    )  # fmt: skip
    ssh_config = workdir / "ssh_config"
    ssh_config.write_text(
        "Host *\n"
        f"  IdentityFile {key}\n"
        "  IdentitiesOnly yes\n"
        "  StrictHostKeyChecking accept-new\n"
        f"  UserKnownHostsFile {workdir / 'known_hosts'}\n"
        "  LogLevel ERROR\n"
    )
    with _socket_dir(workdir) as sockets:
        port = free_port()
        qmp_socket = sockets / "qmp.sock"
        pidfile = workdir / "qemu.pid"
        console_log = workdir / "console.log"
        command = qemu_command(
            image, overlay, seed, ssh_port=port, qmp_socket=qmp_socket, pidfile=pidfile,
            console_log=console_log, memory_mib=memory_mib, cpus=cpus, accel=accel,
        )  # fmt: skip
        started = time.monotonic()
        with (workdir / "qemu.log").open("wb") as qemu_log:
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=qemu_log, stderr=subprocess.STDOUT
            )
        vm = BootedVm(
            hostname, workdir, port, key, ssh_config, process, qmp_socket, pidfile,
            console_log, command,
        )  # fmt: skip
        try:
            wait_for_ssh(vm, ssh_timeout)
            vm.boot_seconds = time.monotonic() - started
            yield vm
        finally:
            power_off(vm)


def wait_for_ssh(vm: BootedVm, timeout: float) -> None:
    """Until ``ci`` runs a command over SSH with the seeded key; fail early if QEMU exits."""
    deadline = time.monotonic() + timeout
    while True:
        if vm.process.poll() is not None:
            raise RuntimeError(f"QEMU exited with {vm.process.returncode}\n{_tails(vm)}")
        try:
            done = vm.ssh(SUDO_USER, "true", timeout=30)
            if done.returncode == 0:
                return
            error = done.stderr.strip()
        except subprocess.TimeoutExpired:
            error = "ssh timed out"
        if time.monotonic() > deadline:
            raise RuntimeError(f"no SSH after {timeout:.0f} s: {error}\n{_tails(vm)}")
        time.sleep(2)


def power_off(vm: BootedVm, timeout: float = POWEROFF_TIMEOUT_S) -> None:
    """ACPI power-off via QMP, then ``quit``, then SIGKILL; record what is left after."""
    for qmp_command in ("system_powerdown", "quit"):
        if vm.process.poll() is not None:
            break
        with contextlib.suppress(OSError, ValueError):
            qmp(vm.qmp_socket, qmp_command)
        with contextlib.suppress(subprocess.TimeoutExpired):
            vm.process.wait(timeout if qmp_command == "system_powerdown" else 10)
    if vm.process.poll() is None:
        vm.process.kill()
        vm.process.wait()
        vm.leftovers.append("QEMU did not stop on power-off or quit: killed")
    if _alive(vm.process.pid):
        vm.leftovers.append(f"process {vm.process.pid} still exists")
    for path in (vm.qmp_socket, vm.pidfile):
        if path.exists():
            vm.leftovers.append(f"{path} left behind")
            path.unlink()


def qmp(path: Path, command: str, timeout: float = 10.0) -> dict[str, object]:
    """Run one QMP command: greeting, capabilities negotiation, the command's reply."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        stream = sock.makefile("rw", encoding="utf-8")
        json.loads(stream.readline())  # the greeting
        reply: dict[str, object] = {}
        for name in ("qmp_capabilities", command):
            stream.write(json.dumps({"execute": name}) + "\n")
            stream.flush()
            while True:
                line = stream.readline()
                if not line:  # "quit" may close the socket before its reply arrives
                    return reply
                reply = json.loads(line)
                if "event" not in reply:  # events arrive between commands and replies
                    break
        return reply


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@contextlib.contextmanager
def _socket_dir(workdir: Path) -> Iterator[Path]:
    if len(str(workdir / "qmp.sock")) <= SOCKET_PATH_MAX:
        yield workdir
        return
    short = Path(tempfile.mkdtemp(prefix="k8sdvm-"))
    try:
        yield short
    finally:
        shutil.rmtree(short, ignore_errors=True)


def _tails(vm: BootedVm) -> str:
    parts = []
    for path in (vm.workdir / "qemu.log", vm.console_log):
        with contextlib.suppress(OSError):
            lines = path.read_text(errors="replace").splitlines()[-25:]
            parts.append(f"--- {path.name} ---\n" + "\n".join(lines))
    return "\n".join(parts)
