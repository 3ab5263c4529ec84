"""One VM: its directory made, QEMU started in its own session, SSH awaited, powered off.

QEMU runs in a session of its own, so Ctrl-C on the terminal reaches pytest only:
pytest's teardown (SIGTERM included, which the plugin turns into KeyboardInterrupt)
then powers the VM off through QMP's ``system_powerdown`` (the ACPI power button),
then ``quit``, then SIGKILL, and removes exactly the VM's directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pytest_k8sdistro import interrupt
from pytest_k8sdistro.distros.install import Step
from pytest_k8sdistro.errors import ProvisionError
from pytest_k8sdistro.provisioners import process
from pytest_k8sdistro.provisioners.machine.forward import free_port
from pytest_k8sdistro.provisioners.machine.qemu import command, qmp, state
from pytest_k8sdistro.provisioners.machine.qemu.seed import VM_USER, cloud_config, write_seed
from pytest_k8sdistro.provisioners.machine.ssh import SshAddress, SshTarget

#: The overlay's size: the guest grows its root filesystem into it on first boot.
DISK_SIZE = 20 * 2**30
#: The overlay is thrown away, so a guest that takes longer to shut down (systemd waits
#: 90 s for a process that ignores SIGTERM) is not waited for: QMP quit follows.
POWERDOWN_TIMEOUT_S = 15.0
QUIT_TIMEOUT_S = 10.0
STARTUP_CHECK_S = 1.0
POLL_S = 2.0
CONSOLE_TAIL = 30

Say = Callable[[str], None]


@dataclass(frozen=True)
class Shape:
    """What the VM is made of and may do."""

    base: Path
    accel: str
    memory_mib: int
    cpus: int
    #: Guest ports forwarded to 127.0.0.1 (SSH is added).
    ports: tuple[int, ...]
    restrict: bool
    boot: command.DirectBoot | None = None
    #: The NIC on the network the cluster's VMs share, when it has several.
    nodes_nic: command.NodesNic | None = None


class VmTarget(SshTarget):
    """The VM over SSH; its API on the 127.0.0.1 port its guest port is forwarded to."""

    def __init__(self, address: SshAddress, forwards: dict[int, int]) -> None:
        super().__init__(address)
        self.forwards = forwards

    def api_host(self) -> str:
        return "127.0.0.1"

    def api_port(self, distro_port: int) -> int:
        if distro_port not in self.forwards:
            raise ProvisionError(
                f"{self.description}: the API port {distro_port} is not forwarded "
                f"(forwarded: {', '.join(map(str, self.forwards))})"
            )
        return self.forwards[distro_port]


@dataclass
class Vm:
    directory: state.VmDir
    hostname: str
    #: Guest port -> 127.0.0.1 port.
    forwards: dict[int, int] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    argv: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else self.directory.qemu_pid()

    def target(self) -> VmTarget:
        address = SshAddress(
            host="127.0.0.1",
            user=VM_USER,
            port=self.forwards[22],
            ssh_config=str(self.directory.ssh_config),
        )
        target = VmTarget(address, self.forwards)
        target.description = f"VM {self.hostname} (ssh 127.0.0.1:{self.forwards[22]})"
        return target

    def running(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        pid = self.pid
        return pid is not None and process.running(pid)

    def console_tail(self, lines: int = CONSOLE_TAIL) -> str:
        try:
            text = self.directory.files.console.read_text(errors="replace")
        except OSError:
            return "(no console output)"
        return "\n".join(text.splitlines()[-lines:]) or "(no console output)"

    def qemu_tail(self, lines: int = 15) -> str:
        try:
            text = self.directory.qemu_log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])


def prepare(directory: state.VmDir, owner: state.Owner, shape: Shape, hostname: str) -> None:
    """The directory, its record first, a key pair, ssh_config, seed and overlay."""
    directory.path.mkdir(parents=True, exist_ok=False)
    owner.write(directory)
    socket_path = directory.files.qmp
    if len(str(socket_path).encode()) > state.SOCKET_PATH_MAX:
        raise ProvisionError(
            f"the VM's control socket {socket_path} is longer than a Unix socket path may be "
            f"({state.SOCKET_PATH_MAX} bytes); run with a shorter HOME"
        )
    _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", hostname, "-f",
          str(directory.key)], "ssh-keygen")  # fmt: skip
    directory.ssh_config.write_text(
        "Host *\n"
        f"  IdentityFile {directory.key}\n"
        "  IdentitiesOnly yes\n"
        # A fresh VM's host key cannot be known beforehand: pinned on first use, in a
        # file of this VM only.
        "  StrictHostKeyChecking accept-new\n"
        f"  UserKnownHostsFile {directory.path / 'known_hosts'}\n"
        "  LogLevel ERROR\n"
    )
    public = directory.key.with_suffix(".pub").read_text()
    write_seed(directory.files.seed, hostname=hostname, config=cloud_config(hostname, public))
    base_format = _format_of(shape.base)
    size = max(DISK_SIZE, _virtual_size(shape.base, base_format))
    _run(
        [command.QEMU_IMG, "create", "-q", "-f", "qcow2", "-F", base_format, "-b",
         str(shape.base.resolve()), str(directory.files.overlay), str(size)],
        "qemu-img create",
    )  # fmt: skip


def start(vm: Vm, shape: Shape, *, attempts: int = 3) -> None:
    """Start QEMU; a forwarded port taken meanwhile is chosen again."""
    for attempt in range(attempts):
        # A port may be taken again before QEMU binds it; QEMU then exits at once with
        # "Could not set up host forwarding rule", and the boot is tried again.
        vm.forwards = {port: free_port() for port in (22, *shape.ports)}
        vm.argv = command.qemu_command(
            vm.directory.files,
            accel=shape.accel,
            memory_mib=shape.memory_mib,
            cpus=shape.cpus,
            forwards=vm.forwards,
            restrict=shape.restrict,
            boot=shape.boot,
            nodes_nic=shape.nodes_nic,
        )
        with vm.directory.qemu_log.open("wb") as log:
            vm.process = subprocess.Popen(
                vm.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own session: Ctrl-C reaches pytest, whose teardown powers it off.
                start_new_session=True,
            )
        with contextlib.suppress(subprocess.TimeoutExpired):
            vm.process.wait(STARTUP_CHECK_S)
        if vm.process.poll() is None:
            return
        tail = vm.qemu_tail()
        if "host forwarding" not in tail or attempt == attempts - 1:
            raise ProvisionError(
                f"QEMU exited at once with status {vm.process.returncode} booting "
                f"{vm.hostname}:\n{tail}\ncommand: {' '.join(vm.argv)}"
            )


def wait_for_ssh(vm: Vm, timeout: float) -> VmTarget:
    """Until the login user runs a command over SSH; fail early when QEMU exits."""
    target = vm.target()
    started = time.monotonic()
    last = ""
    while True:
        if not vm.running():
            code = vm.process.returncode if vm.process is not None else "?"
            raise ProvisionError(
                f"QEMU exited with status {code} while {vm.hostname} booted:\n{vm.qemu_tail()}\n"
                f"last console lines:\n{vm.console_tail()}"
            )
        try:
            result = target.execute(["true"], timeout=30)
            if result.rc == 0:
                return target
            last = result.tail(3)
        except ProvisionError as exc:
            last = str(exc).splitlines()[0]
        elapsed = time.monotonic() - started
        if elapsed >= timeout:
            raise ProvisionError(
                f"{vm.hostname} did not answer SSH on 127.0.0.1:{vm.forwards[22]} within "
                f"{timeout:.0f}s ({last}); last console lines:\n{vm.console_tail()}"
            )
        interrupt.pause(POLL_S)


#: Run as root in the guest: bring the NIC with address MAC up with ADDRESS, print its
#: name. The guest's own network configuration leaves it alone (it configures the
#: first NIC only), so the address stays for the VM's life, which has no reboot.
NODES_NIC_SCRIPT = """set -e
for link in /sys/class/net/*; do
    if [ "$(cat "$link/address")" = "$0" ]; then name=${link##*/}; fi
done
[ -n "${name:-}" ] || { echo "no network interface has address $0" >&2; exit 1; }
ip link set dev "$name" up
ip address replace "$1" dev "$name"
echo "$name"
"""


def configure_nodes_nic(target: VmTarget, nic: command.NodesNic, address: str) -> str:
    """Give the VM's NIC on the nodes' network ``address`` (CIDR); its interface name."""
    step = Step(("sh", "-c", NODES_NIC_SCRIPT, nic.mac, address), timeout_s=60)
    result = target.run_step(step)
    name = result.stdout.strip().splitlines()[-1:] if result.rc == 0 else []
    if not name:
        raise ProvisionError(
            f"{target.description}: cannot give its NIC {nic.mac} the address {address}: "
            f"{result.tail(3)}"
        )
    return name[0]


def power_off(vm: Vm, say: Say, *, acpi: bool = True) -> str:
    """ACPI power-off, then ``quit``, then SIGKILL; how it ended, in words.

    ``acpi=False`` starts at ``quit``: a guest still booting does not act on the
    power button yet, and its disk is thrown away anyway.
    """
    steps = [
        ("system_powerdown", POWERDOWN_TIMEOUT_S, "powered off"),
        ("quit", QUIT_TIMEOUT_S, "stopped with QMP quit (no ACPI power-off)"),
    ]
    for name, wait_s, how in steps if acpi else steps[1:]:
        if not vm.running():
            return "was not running"
        with contextlib.suppress(OSError, ValueError):
            qmp.execute(vm.directory.files.qmp, name)
        _wait_gone(vm, wait_s)
        if not vm.running():
            return how
    pid = vm.pid
    if vm.running() and pid is not None:
        say(f"{vm.hostname}: QEMU did not stop on power-off or quit; killing it")
        if vm.process is not None or command.names_overlay(
            process.cmdline(pid), vm.directory.files.overlay
        ):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _wait_gone(vm, QUIT_TIMEOUT_S)
    return "killed"


def remove(vm: Vm) -> None:
    shutil.rmtree(vm.directory.path, ignore_errors=True)


def _wait_gone(vm: Vm, timeout: float) -> None:
    if vm.process is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            vm.process.wait(timeout)
        return
    deadline = time.monotonic() + timeout
    while vm.running() and time.monotonic() < deadline:
        time.sleep(0.2)


def _format_of(path: Path) -> str:
    from pytest_k8sdistro.provisioners.machine.qemu.image import disk_format

    return disk_format(path)


def _virtual_size(path: Path, fmt: str) -> int:
    out = _run([command.QEMU_IMG, "info", "--output=json", "-f", fmt, str(path)], "qemu-img info")
    try:
        return int(json.loads(out)["virtual-size"])
    except (ValueError, KeyError, TypeError):
        raise ProvisionError(f"qemu-img info {path} gave no virtual size: {out[:200]!r}") from None


def _run(argv: list[str], what: str) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, check=False, timeout=300)
    except FileNotFoundError:
        raise ProvisionError(f"{argv[0]} is not installed: {command.INSTALL_HINT}") from None
    if done.returncode != 0:
        raise ProvisionError(
            f"{what} failed ({done.returncode}): {done.stderr.decode(errors='replace').strip()}"
        )
    return done.stdout.decode(errors="replace")
