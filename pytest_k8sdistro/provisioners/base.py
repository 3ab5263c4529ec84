"""The interface every provisioner implements, what it declares it can do, and the
configuration it is given.

Option checks, suites and measurements read a provisioner's :class:`Capabilities`;
nothing outside ``provisioners/`` decides anything from a provisioner's name, so a
provisioner a plugin adds gets every decision the built-in ones get.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pytest_k8sdistro.distros.install import Artifact
from pytest_k8sdistro.distros.profile import DistroProfile
from pytest_k8sdistro.distros.spec import DistroSpec
from pytest_k8sdistro.errors import ConfigError, ProvisionError, UpgradeUnsupported
from pytest_k8sdistro.model.cluster import Cluster, RunIdentity
from pytest_k8sdistro.progress import Progress

#: Every IP family a provisioner may offer (``--distro-ip-family``).
IP_FAMILIES = ("ipv4", "dual")


@dataclass(frozen=True, kw_only=True)
class ProvisionerConfig:
    """What a provisioner is told about the clusters it makes: the run's settings that
    shape a cluster. The run's full settings extend this."""

    #: ``--distro-image``: a vendor's image run under the distribution's contract.
    image: str | None = None
    #: ``--distro-image-archive``: a tarball loaded before the image is looked for.
    image_archive: Path | None = None
    #: ``--distro-kubeconfig``: a cluster that is already running.
    kubeconfig: Path | None = None
    nodes: int = 1
    #: ``--distro-ip-family``: "ipv4", or "dual" for dual-stack clusters.
    ip_family: str = "ipv4"
    #: ``--distro-datastore``: an external database started beside the server, or None.
    datastore: str | None = None
    #: ``--distro-datastore-image``: the image of that database, or None for the default.
    datastore_image: str | None = None
    node_memory: int | None = None
    node_cpus: float | None = None
    ready_timeout: float | None = None
    #: What the provisioner works on, when it takes an address (``ssh://user@host``).
    provisioner_target: str | None = None
    #: ``--distro-allow-host-install``: the host provisioner may change this machine.
    allow_host_install: bool = False
    #: ``--distro-addons``, or None when not given.
    distro_addons: tuple[str, ...] | None = None
    #: ``--distro-install-artifact``: local files installed instead of downloads.
    install_artifacts: tuple[Artifact, ...] = ()
    #: ``--distro-vm-accel``: auto, kvm or tcg, for provisioners that boot VMs.
    vm_accel: str = "auto"
    #: ``--distro-vm-image``: the disk VMs boot from, or None for the provisioner's default.
    vm_image: Path | None = None
    #: ``--distro-vm-kernel``, ``--distro-vm-initrd``, ``--distro-vm-cmdline``: direct
    #: kernel boot, for disks without a boot loader.
    vm_kernel: Path | None = None
    vm_initrd: Path | None = None
    vm_cmdline: str | None = None

    def ready_timeout_for(self, profile: DistroProfile) -> float:
        return self.ready_timeout or profile.readiness.timeout_s


@dataclass(frozen=True)
class Capabilities:
    """What a provisioner can do; every option check and suite decision reads this."""

    #: Whether it starts clusters at all (False: it only attaches to a running one).
    starts_clusters: bool = True
    #: Nodes run from container images (``--distro-image``, archives, image checks).
    runs_images: bool = False
    #: Nodes are machines the distribution is installed on (install plans, artifacts).
    installs_on_machines: bool = False
    #: The most nodes one cluster may have (``--distro-nodes``).
    max_nodes: int = 1
    #: ``--distro-node-memory`` and ``--distro-node-cpus`` are applied to each node.
    limits_memory: bool = False
    limits_cpus: bool = False
    #: The nodes' memory and disk can be measured from here (footprint suite).
    measurable: bool = False
    #: Why not, when they cannot; in words for skips and reports.
    not_measurable_reason: str = ""
    #: ``--distro-ip-family`` values it can start.
    ip_families: tuple[str, ...] = ("ipv4",)
    #: External datastores (``--distro-datastore``) it can start beside a server.
    datastores: tuple[str, ...] = ()
    #: It takes an address (``NAME://...``), which it then requires.
    takes_address: bool = False
    #: It runs the distribution's in-place upgrade (:meth:`Provisioner.upgrade`).
    upgrades: bool = False
    #: It can run ``--distro-addons`` (addons enabled while installing).
    enables_addons: bool = False
    #: Local files it can install from (``--distro-install-artifact``).
    installs_artifacts: bool = False
    #: It installs on the machine pytest runs on, once ``--distro-allow-host-install`` says so.
    installs_here: bool = False
    #: It can start another cluster while the run's is up (the footprint suite measures
    #: on one of its own). False where every cluster goes on the one machine it is given.
    second_cluster: bool = True
    #: It boots a VM per cluster (``--distro-vm-*``).
    boots_vms: bool = False

    def runs(self, profile: DistroProfile) -> bool:
        """Whether a distribution with ``profile`` can be brought up this way."""
        if not self.starts_clusters:
            return True
        if self.runs_images and profile.container is not None:
            return True
        return self.installs_on_machines and profile.machine is not None


@dataclass(frozen=True)
class NodeAccess:
    """How the nodes of a cluster can be reached for measuring, one per node.

    Exactly one of ``container`` (an engine's container object: memory from its
    cgroup, files through the engine) and ``host_spec`` (a testinfra host on a
    machine: MemTotal - MemAvailable, ``du``) is set.
    """

    name: str
    container: Any = None
    host_spec: str | None = None
    #: Epoch seconds when the node itself started, when the provisioner knows it.
    started_at: float | None = None
    #: The node's image (containers), for the image's size.
    image: str | None = None
    #: The distribution's binary inside it, when it lives outside the data dirs.
    binary: str | None = None


class Provisioner(ABC):
    """Brings a distribution up somewhere and takes it down again.

    A provisioner only starts and stops; deciding when the cluster is ready is
    the job of :mod:`pytest_k8sdistro.kube.readiness`, which may read :meth:`logs`.
    """

    NAME: ClassVar[str]
    #: What this provisioner can do; subclasses declare their own.
    CAPABILITIES: ClassVar[Capabilities] = Capabilities()

    def __init__(
        self, config: ProvisionerConfig, run: RunIdentity, workdir: Path, progress: Progress
    ) -> None:
        self.settings = config
        self.run = run
        self.workdir = workdir
        self.progress = progress

    @classmethod  # noqa: B027 - optional hook, nothing by default
    def check_config(cls, config: ProvisionerConfig, specs: tuple[DistroSpec, ...]) -> None:
        """Raise :class:`ConfigError` for settings this provisioner cannot honour.

        Called before anything starts, after the generic checks against
        :attr:`CAPABILITIES`; the message names the options and what to do instead.
        """

    @classmethod
    def parse_address(cls, address: str) -> None:
        """Raise :class:`ConfigError` when ``address`` (``NAME://...``) is malformed."""
        if not cls.CAPABILITIES.takes_address:
            raise ConfigError(f"the {cls.NAME} provisioner takes no address")

    @classmethod  # noqa: B027 - optional hook, nothing by default
    def check_image_available(cls, ref: str, *, flag: str, instead: str) -> None:
        """Raise :class:`ConfigError` when the image ``ref`` cannot be had (only for
        provisioners that run images); ``flag`` names the option that asked for it,
        ``instead`` what the user can do instead."""

    def cleanup_leftovers(self) -> None:  # noqa: B027 - optional hook, nothing by default
        """Remove what runs whose process is gone left behind."""

    @abstractmethod
    def create(self, spec: DistroSpec, key: str) -> Cluster:
        """Start ``spec`` and return it once its kubeconfig is written (not yet ready)."""

    @abstractmethod
    def destroy(self, cluster: Cluster) -> None:
        """Remove everything :meth:`create` made for ``cluster``; never anything else."""

    def attach(self, cluster: Cluster) -> bool:
        """Whether a cluster kept by an earlier run is still there to be reused."""
        return False

    def keep(self, cluster: Cluster) -> None:  # noqa: B027 - optional hook, nothing by default
        """Mark ``cluster`` as kept, so that leftover clean-up spares it."""

    def logs(self, cluster: Cluster, tail: int = 40) -> str:
        """The last ``tail`` lines the distribution logged, or '' when unknown."""
        return ""

    def diagnostics(self, cluster: Cluster, dest: Path) -> None:  # noqa: B027
        """Write what helps to debug ``cluster`` under ``dest``."""

    def reach(self, cluster: Cluster, address: str, port: int) -> tuple[str, int]:
        """Where this host connects to reach ``address:port`` as ``cluster``'s nodes do
        (a load balancer's address, announced on the nodes' network).

        Raises :class:`LookupError`, saying why, where that network is not reachable
        from here; a suite then tries what the provisioner publishes instead.
        """
        raise LookupError(
            f"the {self.NAME} provisioner does not route this host to the nodes' network"
        )

    @classmethod
    def describe_start(cls, spec: DistroSpec, config: ProvisionerConfig) -> dict[str, Any]:
        """What bringing ``spec`` up would run, as data, without running anything: the
        container options, or the commands on a machine (``k8sdistro show``)."""
        return {}

    def node_access(self, cluster: Cluster) -> list[NodeAccess]:
        """How each node of ``cluster`` is reached for measuring, servers first.

        Only called when :attr:`CAPABILITIES` says ``measurable``.
        """
        return []

    def upgrade(self, cluster: Cluster, target_version: str, *, image: str | None) -> str:
        """Run the distribution's own in-place upgrade on every node, servers first.

        Returns once each node's process was restarted (not once the cluster is
        ready again: the suite measures that), with what was done, in words. It
        must never recreate a node: that would kill the pods the suite watches.
        """
        profile = DistroSpec(cluster.distro, cluster.version).profile
        raise UpgradeUnsupported(
            f"the {self.NAME} provisioner cannot upgrade {cluster.distro} in place: it "
            f"does not implement upgrade(), which must run {profile.upgrade.summary!r} on "
            "every node, servers first, without recreating the node"
        )


class Unchosen(Provisioner):
    """Stands for the provisioner of a run that tests no distribution: it checks
    nothing and brings nothing up, so no provisioner's module is ever loaded then."""

    NAME = "(none)"

    def create(self, spec: DistroSpec, key: str) -> Cluster:
        raise ProvisionError(f"no provisioner was chosen for {spec}")

    def destroy(self, cluster: Cluster) -> None:
        """Nothing was created."""
