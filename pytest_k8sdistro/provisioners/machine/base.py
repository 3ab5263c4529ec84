"""Installing a distribution on a machine: the part the host, SSH and multipass provisioners share.

A :class:`Target` runs commands on one machine and copies files to it; a
:class:`MachineProvisioner` runs the profile's install plan
(:class:`~pytest_k8sdistro.distros.profile.MachineInstall`) there, reads the
kubeconfig, and runs the plan's uninstall steps on teardown. While it works on a
machine it holds that machine's lease (:mod:`.lease`): what a dead run left there is
removed first, and a machine a live run holds is never touched.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from pytest_k8sdistro import interrupt
from pytest_k8sdistro.distros import install as installers
from pytest_k8sdistro.distros.spec import DistroSpec
from pytest_k8sdistro.errors import (
    ConfigError,
    KubeconfigError,
    ProvisionError,
    UnknownDistro,
    UpgradeUnsupported,
)
from pytest_k8sdistro.kube import kubeconfig
from pytest_k8sdistro.model.cluster import Cluster, Node
from pytest_k8sdistro.provisioners.base import (
    Capabilities,
    NodeAccess,
    Provisioner,
    ProvisionerConfig,
)
from pytest_k8sdistro.provisioners.machine import lease

POLL_S = 2.0


@dataclass(frozen=True)
class Result:
    rc: int
    stdout: str
    stderr: str

    def tail(self, lines: int = 15) -> str:
        text = (self.stderr.strip() or self.stdout.strip()).splitlines()
        return "\n".join(text[-lines:])


class Target(ABC):
    """One machine that commands run on. Subclasses say how they get there."""

    #: Says where, in messages: "this machine", "ci@10.0.0.5:22".
    description: str = "the machine"
    #: Filled in by :meth:`probe`.
    is_root: bool = False
    machine: str = "x86_64"

    @abstractmethod
    def execute(self, argv: Sequence[str], *, timeout: float, stdin: bytes | None = None) -> Result:
        """Run ``argv`` as the login user."""

    @abstractmethod
    def spawn(self, argv: Sequence[str]) -> subprocess.Popen[bytes]:
        """Start ``argv`` there with pipes on its stdin and stdout, and return at once.

        The process must end when the pipe to its stdin closes (the lease relies on
        it), and must not share the terminal's process group: Ctrl-C stops pytest,
        whose teardown still needs the lease.
        """

    @abstractmethod
    def upload(self, source: Path, dest: str) -> None:
        """Copy the local file ``source`` to ``dest`` on the machine, as the login user."""

    @abstractmethod
    def api_host(self) -> str:
        """The address the pytest host reaches the machine's API at."""

    def api_port(self, distro_port: int) -> int:
        """The port the pytest host reaches the API at (the distribution's, unless forwarded)."""
        return distro_port

    @abstractmethod
    def node_spec(self) -> str:
        """A testinfra host spec for the ``node`` fixture."""

    def probe(self) -> None:
        """Learn who we are on the machine and its architecture; fail with a hint."""
        result = self.execute(["sh", "-c", "id -u; uname -m"], timeout=60)
        lines = result.stdout.split()
        if result.rc != 0 or len(lines) < 2 or not lines[0].isdigit():
            raise ProvisionError(
                f"cannot run commands on {self.description} (exit {result.rc}): {result.tail()}"
            )
        self.is_root = lines[0] == "0"
        self.machine = lines[1]

    def run_step(self, step: installers.Step) -> Result:
        return self.execute(step.command(sudo=not self.is_root), timeout=step.timeout_s)

    def check_sudo(self) -> None:
        if self.is_root:
            return
        result = self.execute(["sudo", "-n", "true"], timeout=60)
        if result.rc != 0:
            raise ProvisionError(
                f"the login user on {self.description} is not root and cannot use sudo "
                f"without a password ({result.tail(3)}); installing needs root: allow "
                "passwordless sudo for it (a NOPASSWD rule in /etc/sudoers.d/) or log in as root"
            )


class MachineProvisioner(Provisioner):
    """Installs one single-node distribution on the machine :meth:`target` reaches."""

    NAME: ClassVar[str]
    CAPABILITIES: ClassVar[Capabilities] = Capabilities(
        installs_on_machines=True,
        measurable=True,
        upgrades=True,
        enables_addons=True,
        installs_artifacts=True,
    )

    @classmethod
    def check_config(cls, config: ProvisionerConfig, specs: tuple[DistroSpec, ...]) -> None:
        if not cls.CAPABILITIES.second_cluster and len(specs) > 1:
            names = ", ".join(str(spec) for spec in specs)
            raise ConfigError(
                f"the {cls.NAME} provisioner installs on one machine, which holds one cluster "
                f"at a time, and this run asks for {len(specs)} ({names}): give one --distro "
                "per run, or a provisioner that starts a machine per cluster "
                "(--distro-provisioner=multipass)"
            )

    def node_access(self, cluster: Cluster) -> list[NodeAccess]:
        """The machine, through its testinfra host: meminfo and ``du`` run there."""
        return [NodeAccess(name=node.name, host_spec=node.host_spec) for node in cluster.nodes]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._targets: dict[str, Target] = {}
        self._leases: dict[str, lease.Lease] = {}

    @abstractmethod
    def target(self, key: str, *, creating: bool) -> Target:
        """The machine for cluster ``key``; ``creating`` when it may be made now (a VM)."""

    def release_target(self, key: str) -> None:
        """Remove the machine itself when the provisioner made it (a VM)."""

    def _probed(self, key: str) -> Target:
        """The machine of an existing cluster, probed once per process."""
        if key not in self._targets:
            target = self.target(key, creating=False)
            target.probe()
            self._targets[key] = target
        return self._targets[key]

    @classmethod
    def describe_start(cls, spec: DistroSpec, config: ProvisionerConfig) -> dict[str, Any]:
        """The install plan's commands on an x86_64 machine, as the login user root."""
        machine = spec.profile.machine
        if machine is None:
            return {}
        addons = config.distro_addons or () if spec.profile.addons is not None else ()
        plan = machine.plan(
            installers.PlanInput(
                distro=spec.name,
                version=spec.version,
                staging="/tmp/k8sdistro-XXXXXX",
                artifacts=config.install_artifacts,
                addons=tuple(addons),
                ready_timeout_s=config.ready_timeout_for(spec.profile),
            )
        )
        described: dict[str, Any] = {
            "install": [step.shell(sudo=False) for step in plan.install],
            "kubeconfig_command": plan.kubeconfig.shell(sudo=False),
            "uninstall": [step.shell(sudo=False) for step in plan.uninstall],
            "api_port": plan.api_port,
            "downloads": plan.downloads,
        }
        joins = cls.CAPABILITIES.max_nodes > 1
        if joins and machine.join is not None and machine.join_token is not None:
            agent = machine.join(
                installers.PlanInput(
                    distro=spec.name,
                    version=spec.version,
                    staging="/tmp/k8sdistro-XXXXXX",
                    artifacts=config.install_artifacts,
                    join=installers.Join("SERVER", plan.api_port, "TOKEN"),
                )
            )
            described["join_token_command"] = machine.join_token.shell(sudo=False)
            described["join"] = [step.shell(sudo=False) for step in agent.install]
        return described

    def _plan_input(
        self,
        spec: DistroSpec,
        staging: str,
        machine: str,
        node: installers.NodeNetwork | None,
        join: installers.Join | None = None,
    ) -> installers.PlanInput:
        settings = self.settings
        profile = spec.profile
        addons = settings.distro_addons or () if profile.addons is not None else ()
        return installers.PlanInput(
            distro=spec.name,
            version=spec.version,
            staging=staging,
            machine=machine,
            artifacts=settings.install_artifacts,
            addons=tuple(addons),
            ready_timeout_s=settings.ready_timeout_for(profile),
            node=node,
            join=join,
        )

    def plan_for(
        self,
        spec: DistroSpec,
        staging: str,
        machine: str,
        *,
        node: installers.NodeNetwork | None = None,
    ) -> installers.InstallPlan:
        if spec.profile.machine is None:  # the settings refuse this before anything starts
            raise ProvisionError(f"{spec.name} has no install plan for a machine")
        try:
            return spec.profile.machine.plan(self._plan_input(spec, staging, machine, node))
        except ValueError as exc:
            raise ProvisionError(f"{spec}: {exc}") from None

    def node_network(self, key: str, index: int) -> installers.NodeNetwork | None:
        """Node ``index`` of cluster ``key``'s address on the network its nodes share,
        where its machine has several (a VM's private network); None: the
        distribution chooses, as on a machine with one."""
        return None

    # -- the machine's lease ------------------------------------------------------

    def _claim(self, key: str, target: Target, *, reusing: bool) -> None:
        """Hold ``target``'s lease for cluster ``key``, first removing a dead run's remains.

        ``reusing``: the cluster kept under ``key`` is this run's to attach to or remove.
        Raises :class:`~.lease.Busy` when a live run holds the machine.
        """
        held = self._leases.get(key)
        if held is not None and held.alive:
            return
        taken = lease.Lease.take(target.spawn, sudo=not target.is_root, where=target.description)
        owner = self._read_record(target)
        if taken is None:
            if owner is not None and owner.run_id == self.run.run_id:
                if owner.cluster != key:
                    # One machine holds one installation: going on would install over
                    # the run's other cluster, and a failure would uninstall it.
                    raise ProvisionError(
                        f"{target.description} already holds this run's cluster "
                        f"{owner.cluster} ({owner.distro}); a machine holds one cluster at "
                        "a time, so nothing was changed there"
                    )
                return  # another process of this run (an xdist worker) holds it
            holder = owner.describe() if owner else "run"
            raise lease.Busy(
                f"{target.description} is in use by a live {holder}; nothing was changed "
                "there. Wait for that run to end, or give this run another machine."
            )
        try:
            if owner is not None and owner.run_id != self.run.run_id:
                if owner.kept and not (reusing and owner.cluster == key):
                    raise ProvisionError(
                        f"{target.description} holds the cluster kept by {owner.describe()}; "
                        f"attach to it with --distro-reuse-cluster, or remove it: "
                        f"{self._removal_hint(target, owner)}"
                    )
                if not owner.kept:
                    self._reap(target, owner)
        except BaseException:
            taken.release()
            raise
        self._leases[key] = taken

    def _let_go(self, key: str, target: Target, *, forget: bool = True) -> None:
        """Release the lease of ``key``; ``forget`` removes the record as well.

        Only a lease this process holds: the record of a run that holds the machine
        (or of a kept cluster) is never removed from here.
        """
        taken = self._leases.pop(key, None)
        if taken is None:
            return
        if forget:
            with contextlib.suppress(Exception):
                target.run_step(lease.remove_record_step())
        taken.release()

    def _read_record(self, target: Target) -> lease.Owner | None:
        result = target.run_step(lease.read_record_step())
        return lease.Owner.from_json(result.stdout) if result.stdout.strip() else None

    def _write_record(
        self, target: Target, key: str, spec: DistroSpec, *, staging: str = "", kept: bool = False
    ) -> None:
        owner = lease.Owner(
            run_id=self.run.run_id,
            hostname=self.run.hostname,
            pid=self.run.pid,
            cluster=key,
            distro=spec.name,
            version=spec.version,
            staging=staging,
            kept=kept,
            since=time.time(),
        )
        step = lease.write_record_step()
        result = target.execute(
            step.command(sudo=not target.is_root), timeout=step.timeout_s, stdin=owner.to_json()
        )
        if result.rc != 0:
            raise ProvisionError(
                f"cannot record this run as the owner on {target.description} "
                f"({lease.RECORD}): {result.tail(3)}"
            )

    def _dead_plan(self, target: Target, owner: lease.Owner) -> installers.InstallPlan:
        try:
            spec = DistroSpec(owner.distro, owner.version)
            return self.plan_for(spec, "/nonexistent", target.machine)
        except (UnknownDistro, ProvisionError) as exc:
            raise ProvisionError(
                f"{target.description} has remains of {owner.describe()}, which this run "
                f"cannot remove ({exc}); remove {owner.distro} there by hand, then "
                f"{lease.RECORD}"
            ) from None

    def _removal_hint(self, target: Target, owner: lease.Owner) -> str:
        steps = self._dead_plan(target, owner).uninstall
        commands = [step.shell(sudo=not target.is_root) for step in steps]
        commands.append(lease.remove_record_step().shell(sudo=not target.is_root))
        return "; ".join(commands)

    def _reap(self, target: Target, owner: lease.Owner) -> None:
        """Remove what a run that died on ``target`` left: its distribution and files."""
        self.progress.say(
            f"{target.description}: {owner.describe()} ended without cleaning up; "
            f"removing the {owner.distro} it left there"
        )
        self._uninstall(target, self._dead_plan(target, owner))
        if owner.staging.startswith("/tmp/k8sdistro-"):
            target.execute(["rm", "-rf", owner.staging], timeout=60)
        target.run_step(lease.remove_record_step())

    # -- create -------------------------------------------------------------

    def create(self, spec: DistroSpec, key: str) -> Cluster:
        target = self.target(key, creating=True)
        plan: installers.InstallPlan | None = None
        staging: str | None = None
        try:
            target.probe()
            target.check_sudo()
            self._claim(key, target, reusing=False)
            staging = self._staging(target)
            self._write_record(target, key, spec, staging=staging)
            planned = self.plan_for(spec, staging, target.machine, node=self.node_network(key, 0))
            self._check_absent(target, planned, spec)
            plan = planned
            for upload in plan.uploads:
                self.progress.say(f"{spec}: copying {upload.source} to {target.description}")
                target.upload(upload.source, f"{staging}/{upload.name}")
            where = "air-gapped, from local artifacts" if not plan.downloads else "downloading"
            self.progress.say(f"{spec}: installing on {target.description} ({where})")
            for step in plan.install:
                self._run(target, step, spec)
            target.execute(["rm", "-rf", staging], timeout=60)
            data = self._wait_kubeconfig(target, plan, spec)
        except BaseException:
            # Ctrl-C or a failed step must not leave a half-installed distribution.
            if plan is not None:
                self._uninstall(target, plan)
            if staging is not None:
                with contextlib.suppress(Exception):
                    target.execute(["rm", "-rf", staging], timeout=60)
            self._let_go(key, target)
            self.release_target(key)
            raise
        self._targets[key] = target
        host, port = target.api_host(), target.api_port(plan.api_port)
        path = kubeconfig.write_private(
            reachable_kubeconfig(data, host, port),
            self.workdir / f"{key}.kubeconfig",
        )
        url_host = f"[{host}]" if ":" in host else host
        return Cluster(
            key=key,
            distro=spec.name,
            version=spec.version,
            provisioner=self.NAME,
            kubeconfig=str(path),
            api_server=f"https://{url_host}:{port}",
            nodes=[Node(name=target.description, role="server", host_spec=target.node_spec())],
            ports=self.ports(port),
            details=self._details(target, plan),
        )

    def _check_absent(
        self, target: Target, plan: installers.InstallPlan | installers.JoinPlan, spec: DistroSpec
    ) -> None:
        """Refuse a machine where the distribution is installed and no run of ours left it.

        A dead run's remains are gone by now (:meth:`_claim` reaps them), so what is
        found belongs to someone else; installing over it and uninstalling afterwards
        would remove their cluster.
        """
        if plan.present is None:
            return
        result = target.run_step(plan.present)
        if result.rc == 0:
            raise ProvisionError(
                f"{spec.name} is already installed on {target.description}, and not by a run "
                f"of this plugin ('{plan.present.shell(sudo=False)}' found it); nothing was "
                f"changed there. Test it where it runs with --distro-kubeconfig, or give "
                "this run a machine without it"
            )

    def ports(self, api_port: int) -> dict[str, int]:
        """Node ports reachable on 127.0.0.1 (only the host provisioner has any)."""
        return {}

    def _details(self, target: Target, plan: installers.InstallPlan | None) -> dict[str, Any]:
        return {
            "run_id": self.run.run_id,
            "target": target.description,
            "node_spec": target.node_spec(),
            "sudo": not target.is_root,
            "downloads": plan.downloads if plan else None,
        }

    def _staging(self, target: Target) -> str:
        result = target.execute(["mktemp", "-d", "/tmp/k8sdistro-XXXXXX"], timeout=60)
        staging = result.stdout.strip()
        if result.rc != 0 or not staging.startswith("/tmp/k8sdistro-"):
            raise ProvisionError(
                f"cannot make a staging directory on {target.description}: {result.tail()}"
            )
        return staging

    def _run(self, target: Target, step: installers.Step, spec: DistroSpec) -> Result:
        shown = step.shell(sudo=not target.is_root)
        self.progress.say(f"{spec}: {target.description}: {shown}")
        result = target.run_step(step)
        if step.check and result.rc != 0:
            raise ProvisionError(
                f"{spec}: '{shown}' failed on {target.description} (exit {result.rc}):\n"
                f"{result.tail()}"
            )
        return result

    def _wait_kubeconfig(
        self, target: Target, plan: installers.InstallPlan, spec: DistroSpec
    ) -> dict[str, Any]:
        timeout = self.settings.ready_timeout_for(spec.profile)
        started = time.monotonic()
        last = ""
        while True:
            result = target.run_step(plan.kubeconfig)
            if result.rc == 0 and result.stdout.strip():
                try:
                    return kubeconfig.parse(
                        result.stdout, origin=f"the kubeconfig on {target.description}"
                    )
                except KubeconfigError as exc:
                    last = str(exc)  # being written
            else:
                last = result.tail(3)
            elapsed = time.monotonic() - started
            if elapsed >= timeout:
                logs = target.run_step(plan.logs(30)).stdout.strip()
                raise ProvisionError(
                    f"{spec}: no kubeconfig from '{plan.kubeconfig.shell(sudo=False)}' on "
                    f"{target.description} after {elapsed:.0f}s ({last}); last log lines:\n{logs}"
                )
            self.progress.every(
                f"machine-kubeconfig-{spec}", 10.0, f"waiting {elapsed:.0f}s for the kubeconfig"
            )
            interrupt.pause(POLL_S)

    # -- agents ----------------------------------------------------------------

    def join_token(self, key: str, spec: DistroSpec) -> str:
        """The token agents join cluster ``key`` with, once its server has made it."""
        machine = spec.profile.machine
        if machine is None or machine.join_token is None:
            raise ProvisionError(f"{spec.name}: the plugin knows no join of agents on machines")
        target = self._probed(key)
        timeout = self.settings.ready_timeout_for(spec.profile)
        started = time.monotonic()
        while True:
            result = target.run_step(machine.join_token)
            token = result.stdout.strip()
            if result.rc == 0 and token:
                return token
            elapsed = time.monotonic() - started
            if elapsed >= timeout:
                raise ProvisionError(
                    f"{spec}: no join token from '{machine.join_token.shell(sudo=False)}' on "
                    f"{target.description} after {elapsed:.0f}s: {result.tail(3)}"
                )
            self.progress.every(f"machine-token-{key}", 10.0, f"waiting {elapsed:.0f}s for it")
            interrupt.pause(POLL_S)

    def join(
        self,
        target: Target,
        spec: DistroSpec,
        join: installers.Join,
        node: installers.NodeNetwork | None,
    ) -> installers.JoinPlan:
        """Install ``spec``'s agent on ``target``, joined to the server ``join`` names.

        For a machine the provisioner made for this cluster (a VM): no lease is
        taken, and on failure what was installed is removed again.
        """
        machine = spec.profile.machine
        if machine is None or machine.join is None:
            raise ProvisionError(f"{spec.name}: the plugin knows no join of agents on machines")
        target.probe()
        target.check_sudo()
        staging = self._staging(target)
        plan: installers.JoinPlan | None = None
        try:
            try:
                planned = machine.join(self._plan_input(spec, staging, target.machine, node, join))
            except ValueError as exc:
                raise ProvisionError(f"{spec}: {exc}") from None
            self._check_absent(target, planned, spec)
            plan = planned
            for upload in plan.uploads:
                target.upload(upload.source, f"{staging}/{upload.name}")
            self.progress.say(f"{spec}: joining {target.description} to {join.server} as an agent")
            for step in plan.install:
                self._run(target, step, spec)
        except BaseException:
            if plan is not None:
                self._uninstall(target, plan)
            raise
        finally:
            with contextlib.suppress(Exception):
                target.execute(["rm", "-rf", staging], timeout=60)
        return plan

    # -- upgrade ----------------------------------------------------------------

    def upgrade(self, cluster: Cluster, target_version: str, *, image: str | None) -> str:
        """Run the distribution's own in-place upgrade on the machine."""
        spec = DistroSpec(cluster.distro, cluster.version)
        machine = spec.profile.machine
        if machine is None or machine.upgrade is None:
            raise UpgradeUnsupported(
                f"the {self.NAME} provisioner knows no in-place upgrade of {cluster.distro} "
                "on a machine: run the upgrade suite with a provisioner that starts it from "
                "images"
            )
        steps = machine.upgrade(target_version, self.settings.ready_timeout_for(spec.profile))
        target = self._probed(cluster.key)
        self._claim(cluster.key, target, reusing=True)
        for step in steps:
            self._run(target, step, spec)
        return spec.profile.upgrade.summary

    # -- destroy, attach, logs ------------------------------------------------

    def _plan_of(self, cluster: Cluster, target: Target) -> installers.InstallPlan:
        spec = DistroSpec(cluster.distro, cluster.version)
        return self.plan_for(spec, "/nonexistent", target.machine)

    def _uninstall(
        self, target: Target, plan: installers.InstallPlan | installers.JoinPlan
    ) -> None:
        for step in plan.uninstall:
            try:
                result = target.run_step(step)
            except Exception as exc:  # keep going: remove as much as possible
                self.progress.say(f"{target.description}: '{step.shell(sudo=False)}': {exc}")
                continue
            if result.rc != 0:
                self.progress.say(
                    f"{target.description}: '{step.shell(sudo=not target.is_root)}' exited "
                    f"{result.rc}: {result.tail(3)}"
                )

    def destroy(self, cluster: Cluster) -> None:
        try:
            target = self._probed(cluster.key)
            self._claim(cluster.key, target, reusing=True)
            self.progress.say(
                f"{cluster.key}: uninstalling {cluster.distro} from {target.description}"
            )
            self._uninstall(target, self._plan_of(cluster, target))
            self._let_go(cluster.key, target)
        finally:
            self.release_target(cluster.key)

    def keep(self, cluster: Cluster) -> None:
        """Say on the machine that the cluster stays, so that no later run reaps it."""
        target = self._probed(cluster.key)
        self._claim(cluster.key, target, reusing=True)
        self._write_record(
            target, cluster.key, DistroSpec(cluster.distro, cluster.version), kept=True
        )
        self._let_go(cluster.key, target, forget=False)

    def attach(self, cluster: Cluster) -> bool:
        try:
            target = self._probed(cluster.key)
            self._claim(cluster.key, target, reusing=True)
            result = target.run_step(self._plan_of(cluster, target).kubeconfig)
        except lease.Busy:
            raise  # a live run's machine: say so rather than replace what it uses
        except (ProvisionError, OSError):
            return False
        return result.rc == 0 and Path(cluster.kubeconfig).is_file()

    def logs(self, cluster: Cluster, tail: int = 40) -> str:
        try:
            target = self._probed(cluster.key)
            return target.run_step(self._plan_of(cluster, target).logs(tail)).stdout
        except (ProvisionError, OSError):
            return ""

    def diagnostics(self, cluster: Cluster, dest: Path) -> None:
        text = self.logs(cluster, tail=500)
        if text:
            (dest / f"{cluster.distro}.log").write_text(text)


def reachable_kubeconfig(data: Mapping[str, Any], host: str, port: int) -> dict[str, Any]:
    """``data`` pointed at ``host:port``, still verifying the server's own certificate.

    The distribution wrote an address its certificate lists (127.0.0.1 or the
    node's address). When the pytest host reaches the API under
    another name or through forwarding, ``tls-server-name`` keeps the certificate check
    on the original address instead of switching it off.
    """
    original = kubeconfig.server(dict(data))
    original_host = urlsplit(original).hostname or ""
    url_host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    rewritten = kubeconfig.rewrite_server(dict(data), url_host, port)
    if original_host and original_host != host.strip("[]"):
        cluster = kubeconfig.current_cluster(rewritten)
        cluster.setdefault("tls-server-name", original_host)
    return rewritten
