"""``--distro-provisioner=qemu``: the distribution installed in a VM that QEMU boots per cluster.

Each node is a VM: a cluster of several nodes is a server VM and agent VMs that
share a private network (:class:`~.command.NodesNic`), where each has an address of
its own that the distribution is told to advertise.

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
import socket
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from pytest_k8sdistro.distros.install import Join, JoinPlan, NodeNetwork
from pytest_k8sdistro.distros.registry import get_profile, known_distros
from pytest_k8sdistro.distros.spec import DistroSpec
from pytest_k8sdistro.errors import ConfigError, ProvisionError, UnknownDistro
from pytest_k8sdistro.model.cluster import SUITE_NODE_PORTS, Cluster, Node
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
#: Nodes of one cluster, each a VM of --distro-node-memory.
MAX_NODES = 5
#: The network a cluster's VMs share: node N (0 the server) has NODES_SUBNET.(10 + N).
NODES_SUBNET = "10.77.0"
NODES_PREFIX = 24
#: An administratively scoped group (RFC 2365); QEMU sends to it on 127.0.0.1 only.
NODES_GROUP = "239.255.77.1"


class QemuProvisioner(ReachesOverSsh):
    NAME = "qemu"
    CAPABILITIES = replace(
        MachineProvisioner.CAPABILITIES,
        limits_memory=True,
        limits_cpus=True,
        boots_vms=True,
        max_nodes=MAX_NODES,
    )
    #: Node ports the suites reach from this host: ingress and the load-balancer ports.
    FORWARDED = SUITE_NODE_PORTS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.state_root = state.state_root()
        self._vms: dict[str, vm.Vm] = {}
        #: Cluster key -> its agents' VMs, in node order.
        self._agents: dict[str, list[vm.Vm]] = {}
        self._nics: dict[str, list[command.NodesNic]] = {}
        self._node_nets: dict[tuple[str, int], NodeNetwork] = {}
        self._join_plans: dict[str, JoinPlan] = {}
        self._specs: dict[str, DistroSpec] = {}
        self._accel: str | None = None
        self._accel_lock = threading.Lock()

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
        if config.nodes > 1:
            _check_joins(config.nodes, specs)
        _check_memory(config.nodes, config.node_memory or DEFAULT_MEMORY, _host_memory())
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
        self.cleanup_leftovers()
        agents = self.settings.nodes - 1
        booting: list[Future[vm.Vm]] = []
        if agents:
            port = _free_udp_port()
            self._nics[key] = [
                command.NodesNic(NODES_GROUP, port, _nodes_mac(index))
                for index in range(agents + 1)
            ]
            # The agents boot beside the server, which boots and installs meanwhile.
            with ThreadPoolExecutor(agents, thread_name_prefix="k8sdistro-vm") as pool:
                booting = [pool.submit(self._boot, key, index) for index in range(1, agents + 1)]
                try:
                    cluster = super().create(spec, key)
                except BaseException:
                    self._agents[key] = _booted(booting)
                    self.release_target(key)
                    raise
                self._agents[key] = _booted(booting)
            try:
                self._join_agents(cluster, spec, key, booting)
            except BaseException:
                self.destroy(cluster)
                raise
        else:
            cluster = super().create(spec, key)
        booted = self._vms[key]
        cluster.ports.update({f"{port}/tcp": booted.forwards[port] for port in self.FORWARDED})
        cluster.details["vm"] = {
            "directory": str(booted.directory.path),
            "hostname": booted.hostname,
            "accel": self._accel,
            "forwards": _str_keys(booted.forwards),
        }
        if agents:
            nic = self._nics[key][0]
            cluster.details["vm"]["nodes_network"] = (
                f"{NODES_SUBNET}.0/{NODES_PREFIX}, QEMU multicast {nic.group}:{nic.port} "
                "on 127.0.0.1"
            )
            cluster.details["vm"]["agents"] = [
                {"directory": str(agent.directory.path), "hostname": agent.hostname}
                for agent in self._agents.get(key, [])
            ]
        return cluster

    def _join_agents(
        self, cluster: Cluster, spec: DistroSpec, key: str, booting: list[Future[vm.Vm]]
    ) -> None:
        """Join every agent VM to the server of ``cluster``, side by side."""
        for boot in booting:
            boot.result()  # the first agent that did not boot fails the cluster
        server = self._node_nets[(key, 0)]
        join = Join(
            server=server.address,
            api_port=self.plan_for(spec, "/nonexistent", MACHINE).api_port,
            token=self.join_token(key, spec),
        )
        agents = self._agents[key]
        targets = [agent.target() for agent in agents]
        with ThreadPoolExecutor(len(agents), thread_name_prefix="k8sdistro-join") as pool:
            joins = [
                pool.submit(self.join, target, spec, join, self._node_nets[(key, index)])
                for index, target in enumerate(targets, start=1)
            ]
            plans = [joined.result() for joined in joins]
        self._join_plans[key] = plans[0]
        cluster.nodes += [
            Node(name=target.description, role="agent", host_spec=target.node_spec())
            for target in targets
        ]

    def target(self, key: str, *, creating: bool) -> Target:
        if creating:
            self._vms[key] = self._boot(key)
        found = self._vms.get(key) or self._adopt(key)
        if found is None:
            raise ProvisionError(f"no VM of this run holds cluster {key}")
        return found.target()

    def node_network(self, key: str, index: int) -> NodeNetwork | None:
        return self._node_nets.get((key, index))

    def _accelerator(self) -> str:
        with self._accel_lock:  # the VMs of a cluster boot side by side
            return self._choose_accelerator()

    def _choose_accelerator(self) -> str:
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

    def _shape(self, spec: DistroSpec, key: str, index: int) -> vm.Shape:
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
            # An agent's ports are reached from the server, on the nodes' network.
            ports=(plan.api_port, *self.FORWARDED) if index == 0 else (),
            # The guest reaches the outside only when the install must download.
            restrict=not plan.downloads,
            boot=boot,
            nodes_nic=self._nics[key][index] if key in self._nics else None,
        )

    def _boot(self, key: str, index: int = 0) -> vm.Vm:
        """Boot node ``index`` of cluster ``key`` (0: the server) until it answers SSH."""
        spec = self._specs[key]
        shape = self._shape(spec, key, index)
        directory = state.VmDir(self.state_root / state.dir_name(self.run.run_id, key, index))
        booted = vm.Vm(directory, _hostname(key, index))
        owner = state.Owner(
            run_id=self.run.run_id,
            pid=self.run.pid,
            pid_start=process.process_start(self.run.pid),
            hostname=self.run.hostname,
            cluster=key,
            overlay=str(directory.files.overlay),
            node=index,
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
            owner = replace(owner, forwards=_str_keys(booted.forwards))
            owner.write(directory)
            target = vm.wait_for_ssh(booted, self.settings.ready_timeout_for(spec.profile))
            if shape.nodes_nic is not None:
                address = f"{NODES_SUBNET}.{10 + index}"
                interface = vm.configure_nodes_nic(
                    target, shape.nodes_nic, f"{address}/{NODES_PREFIX}"
                )
                self._node_nets[(key, index)] = NodeNetwork(address, interface)
                replace(owner, nodes_address=address, nodes_interface=interface).write(directory)
        except BaseException as exc:
            if isinstance(exc, ProvisionError):
                saved = self._save_console(key, booted)
                exc = ProvisionError(f"{exc}\n(console log kept in {saved})") if saved else exc
            self._power_off(booted, acpi=False)  # it never answered SSH
            if isinstance(exc, ProvisionError):
                raise exc from None
            raise
        where = (
            f", {self._node_nets[(key, index)].address} on the nodes' network"
            if (key, index) in self._node_nets
            else ""
        )
        self.progress.say(
            f"{key}: {booted.hostname} answers SSH on 127.0.0.1:{booted.forwards[22]} after "
            f"{time.monotonic() - started:.0f}s{where}"
        )
        return booted

    def _adopt(self, key: str) -> vm.Vm | None:
        """The VM an earlier run kept for ``key`` (``--distro-reuse-cluster``)."""
        found = state.find_kept(self.state_root, key, self.run.hostname)
        if found is None:
            return None
        directory, owner = found
        adopted = vm.Vm(
            directory, _hostname(key, 0), {int(g): h for g, h in owner.forwards.items()}
        )
        self._vms[key] = adopted
        agents: list[vm.Vm] = []
        while agent := state.find_kept(self.state_root, key, self.run.hostname, len(agents) + 1):
            directory, owner = agent
            forwards = {int(g): h for g, h in owner.forwards.items()}
            agents.append(vm.Vm(directory, _hostname(key, len(agents) + 1), forwards))
        self._agents[key] = agents
        return adopted

    def release_target(self, key: str) -> None:
        self._stop_reached(key)
        held = self._leases.pop(key, None)
        if held is not None:
            held.release()
        self._targets.pop(key, None)
        for agent in self._agents.pop(key, []):
            self._power_off(agent)
        found = self._vms.pop(key, None)
        if found is not None:
            self._power_off(found)
        self._nics.pop(key, None)
        self._join_plans.pop(key, None)
        for node in [node for node in self._node_nets if node[0] == key]:
            del self._node_nets[node]

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
        for kept in (found, *self._agents.pop(cluster.key, [])):
            owner = state.Owner.read(kept.directory)
            if owner is not None:
                replace(owner, kept=True).write(kept.directory)
            self.progress.say(
                f"{cluster.key}: VM {kept.hostname} keeps running (pid {kept.pid}); attach "
                f"with --distro-reuse-cluster, or remove it: kill {kept.pid}; "
                f"rm -rf {kept.directory.path}"
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
        plan = self._join_plans.get(cluster.key)
        for agent in self._agents.get(cluster.key, []):
            if agent.directory.files.console.is_file():
                shutil.copy(agent.directory.files.console, dest / f"{agent.hostname}.console.log")
            if plan is not None:
                with contextlib.suppress(ProvisionError, OSError):
                    logs = agent.target().run_step(plan.logs(500)).stdout
                    (dest / f"{agent.hostname}.log").write_text(logs)


def _str_keys(forwards: dict[int, int]) -> dict[str, int]:
    return {str(guest): host for guest, host in forwards.items()}


def _hostname(key: str, index: int) -> str:
    """The VM's hostname, which distributions name their node after: unique per cluster."""
    name = vm_name(key)
    return name if index == 0 else f"{name[:58].rstrip('-')}-a{index}"


def _nodes_mac(index: int) -> str:
    """Locally administered, QEMU's 52:54:00 prefix, one per node of a cluster."""
    return f"52:54:00:6b:00:{10 + index:02x}"


_udp_ports_taken: set[int] = set()


def _free_udp_port() -> int:
    """A UDP port for a cluster's multicast group, not given to another cluster of
    this process (they may boot side by side, before QEMU binds the first one)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port not in _udp_ports_taken:
            _udp_ports_taken.add(port)
            return port


def _booted(booting: list[Future[vm.Vm]]) -> list[vm.Vm]:
    """The VMs of ``booting`` that came up, once every boot has ended (a boot that
    failed powered its own VM off)."""
    booted = []
    for boot in booting:
        with contextlib.suppress(BaseException):
            booted.append(boot.result())
    return booted


def _host_memory(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    """This host's MemTotal in bytes, or None where there is no /proc/meminfo."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return None


def _check_memory(nodes: int, per_vm: int, host: int | None) -> None:
    """Refuse VMs that together are given more memory than the host has: they would
    boot, then swap or be killed mid-run, which would look like the distribution."""
    wanted = nodes * per_vm
    if host is None or wanted <= host:
        return
    vms = f"{nodes} VMs of {per_vm // 2**20} MiB" if nodes > 1 else f"a VM of {per_vm // 2**20} MiB"
    raise ConfigError(
        f"--distro-provisioner=qemu: {vms} (--distro-node-memory) need {wanted // 2**20} MiB, "
        f"more than this host's {host // 2**20} MiB; give --distro-node-memory less"
        + (" or --distro-nodes fewer" if nodes > 1 else "")
    )


def _check_joins(nodes: int, specs: tuple[DistroSpec, ...]) -> None:
    """Refuse several nodes of a distribution whose agents the plugin cannot join."""
    joinable = []
    for name in known_distros():
        with contextlib.suppress(UnknownDistro):
            machine = get_profile(name).machine
            if machine is not None and machine.join is not None:
                joinable.append(name)
    for spec in specs:
        machine = spec.profile.machine
        if machine is None or machine.join is None:
            raise ConfigError(
                f"--distro-nodes={nodes} with --distro-provisioner=qemu: the plugin joins "
                f"agents to a server on machines for {', '.join(joinable) or 'no distribution'}"
                f", not for {spec.name}; give {spec.name} one node, or run its nodes from "
                "its image with --distro-provisioner=docker"
            )
