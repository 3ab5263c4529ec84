"""``DockerProvisioner``: nodes as containers of the distribution's image on a Docker engine."""

from __future__ import annotations

import calendar
import contextlib
import functools
import io
import re
import tarfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import docker
import docker.errors

from pytest_k8sdistro import interrupt
from pytest_k8sdistro.distros.profile import ContainerStart, DistroProfile, NodeText, Role
from pytest_k8sdistro.distros.spec import DistroSpec
from pytest_k8sdistro.errors import ConfigError, KubeconfigError, ProvisionError, UpgradeUnsupported
from pytest_k8sdistro.kube import kubeconfig
from pytest_k8sdistro.model.cluster import Cluster, Node
from pytest_k8sdistro.model.datastore import DATASTORES
from pytest_k8sdistro.provisioners.base import (
    Capabilities,
    NodeAccess,
    Provisioner,
    ProvisionerConfig,
)
from pytest_k8sdistro.provisioners.docker import (
    cleanup,
    datastore,
    diagnostics,
    engine,
    images,
    labels,
    node,
    privileges,
    shipped,
    supervisor,
)

T = TypeVar("T")

# How often a node's files are read while it starts (its kubeconfig, its join token).
POLL_S = 1.0
#: Subnets tried for a dual-stack network before giving up.
NETWORK_ATTEMPTS = 5
#: How long a restarted server may take to have a new child process: the supervisor
#: gives the old one 60 s to stop before it kills it.
RESTART_TIMEOUT_S = 90.0


class DockerProvisioner(Provisioner):
    NAME = "docker"
    CAPABILITIES = Capabilities(
        runs_images=True,
        max_nodes=10,
        limits_memory=True,
        limits_cpus=True,
        measurable=True,
        ip_families=("ipv4", "dual"),
        datastores=tuple(DATASTORES),
        upgrades=True,
    )

    _client: docker.DockerClient | None = None
    #: Clusters boot in threads of their own; they share one client.
    _client_lock = threading.Lock()

    @classmethod
    def check_config(cls, config: ProvisionerConfig, specs: tuple[DistroSpec, ...]) -> None:
        archive = config.image_archive
        if archive is not None:
            problem = images.archive_problem(archive)
            if problem is not None:
                raise ConfigError(
                    f"--distro-image-archive={str(archive)!r}: {problem}; give a tarball "
                    "made by `docker save IMAGE -o FILE` (gzip or zstd compressed is fine)"
                )
        if config.node_cpus is not None:
            available = engine.cpus()
            if available is not None and config.node_cpus > available:
                raise ConfigError(
                    f"--distro-node-cpus={config.node_cpus:g}: the Docker engine has {available} "
                    f"CPU(s), so a node cannot have more; give at most {available}"
                )

    @classmethod
    def describe_start(cls, spec: DistroSpec, config: ProvisionerConfig) -> dict[str, Any]:
        """The server container's create options, as they would be on a host that
        grants --privileged with cgroup v1 (engine facts change a few; see node.py)."""
        start = spec.profile.container
        if start is None:
            return {}
        image = config.image or spec.profile.image(spec.version) or ""
        name = node.container_name(spec.id, "server", 0)
        server = node.NodeSpec(
            start=start,
            role="server",
            name=name,
            image=image,
            args=node.server_args(start, name, dual_stack=config.ip_family == "dual"),
            labels={},
            volumes={node.volume_name(name, path): path for path in start.volumes},
            publish=True,
            memory=config.node_memory,
            cpus=config.node_cpus,
            dual_stack=config.ip_family == "dual",
        )
        host = node.HostFacts(cgroup_v2=False, privileges=privileges.Privileges(privileged=True))
        options = server.create_options(host)
        options.pop("labels", None)
        return {"image": image, "container": options}

    @classmethod
    def check_image_available(cls, ref: str, *, flag: str, instead: str) -> None:
        """Fail unless ``ref`` is on the engine or its registry knows it.

        When no engine answers the check is left to the start, which reports a
        missing engine with its own advice.
        """
        reason = images.unavailable(ref)
        if reason is not None:
            raise ConfigError(
                f"{flag}: the image {ref} is not on this Docker engine and its registry "
                f"does not offer it ({reason}). Either the version does not exist, or the "
                f"registry cannot be reached. To supply it: `docker pull {ref}` on a "
                f"connected machine, `docker save -o image.tar {ref}`, `docker load -i "
                f"image.tar` here; or {instead}"
            )

    @property
    def client(self) -> docker.DockerClient:
        with self._client_lock:
            if self._client is None:
                self._client = engine.connect()
            return self._client

    # -- leftovers ------------------------------------------------------------

    def cleanup_leftovers(self) -> None:
        report = cleanup.remove_leftovers(self.client, cleanup.OwnerCheck(self.run.hostname))
        if report:
            self.progress.say(f"removed leftovers of runs that are gone: {report.summary()}")

    # -- create ---------------------------------------------------------------

    def create(self, spec: DistroSpec, key: str) -> Cluster:
        profile = spec.profile
        if profile.container is None:  # settings reject this; a plugin may not
            raise ProvisionError(f"{spec.name} cannot run in a container")
        image = self.settings.image or profile.image(spec.version)
        assert image is not None  # every profile with a container start names its image
        try:
            return _Creation(self, spec, key, image, profile, profile.container).run()
        except BaseException as exc:
            # Ctrl-C or SIGTERM (turned into KeyboardInterrupt) in the middle of a
            # start must not leave a half-made node behind.
            if isinstance(exc, Exception):
                self._diagnose_failed_start(key)
            self._remove(self.run.run_id, key)
            raise

    def _diagnose_failed_start(self, key: str) -> None:
        dest = self.workdir / "diagnostics" / key
        try:
            found = self.client.containers.list(
                all=True, ignore_removed=True, filters=labels.of_cluster(self.run.run_id, key)
            )
            if found:
                dest.mkdir(parents=True, exist_ok=True)
                diagnostics.collect(found, dest, kubeconfig_path=None, log_paths=())
                self.progress.say(f"{key}: diagnostics of the failed start written to {dest}")
        except Exception as exc:  # never hide the original failure
            self.progress.say(f"{key}: could not collect diagnostics: {exc}")

    # -- destroy, keep, attach ---------------------------------------------------

    def destroy(self, cluster: Cluster) -> None:
        self._remove(cluster.details.get("run_id", self.run.run_id), cluster.key)

    def _remove(self, run_id: str, key: str) -> None:
        """Remove what run ``run_id`` made for cluster ``key``, found by its labels."""
        wanted = labels.of_cluster(run_id, key)
        for container in self.client.containers.list(all=True, ignore_removed=True, filters=wanted):
            _ignore_missing(functools.partial(container.remove, force=True, v=True))
        for network in self.client.networks.list(filters=wanted):
            _ignore_missing(network.remove)
        for volume in self.client.volumes.list(filters=wanted):
            _ignore_missing(volume.remove)

    def keep(self, cluster: Cluster) -> None:
        """Mark ``cluster`` kept with a labelled marker volume.

        Container labels cannot change after creation, so the mark is a separate
        object; leftover clean-up spares every resource whose run and cluster a
        marker names, and removes the marker once the cluster's containers are gone.
        """
        run_id = cluster.details.get("run_id", self.run.run_id)
        name = f"k8sdistro-kept-{cluster.key}-{run_id}"
        try:
            self.client.volumes.get(name)
        except docker.errors.NotFound:
            self.client.volumes.create(name=name, labels=labels.kept_marker(run_id, cluster.key))

    def attach(self, cluster: Cluster) -> bool:
        run_id = cluster.details.get("run_id", "")
        kept = self.client.volumes.list(filters={"label": [f"{labels.KEPT}=1"]})
        if not any(
            (v.attrs.get("Labels") or {}).get(labels.RUN_ID) == run_id
            and (v.attrs.get("Labels") or {}).get(labels.CLUSTER) == cluster.key
            for v in kept
        ):
            return False
        others = []
        if cluster.datastore is not None:  # the database the server keeps its state in
            others.append(cluster.datastore.host_spec.removeprefix("docker://"))
        for container_id in [*cluster.details.get("containers", []), *others]:
            try:
                container = self.client.containers.get(container_id)
            except docker.errors.NotFound:
                return False
            if container.status != "running":
                return False
        server = self.client.containers.get(cluster.details["containers"][0])
        # A restarted engine may have published the API on another port.
        port = node.api_port(self._start_of(cluster))
        return (
            _published(server).get(port) == cluster.details["ports"].get(port)
            and Path(cluster.kubeconfig).is_file()
        )

    # -- measuring ------------------------------------------------------------------

    def node_access(self, cluster: Cluster) -> list[NodeAccess]:
        """Every node container, servers first, with when it started and its image."""
        binary = self._start_of(cluster).binary
        found = []
        for container_id in cluster.details.get("containers", []):
            container = self.client.containers.get(container_id)
            started = _epoch(str(container.attrs.get("State", {}).get("StartedAt", "")))
            found.append(
                NodeAccess(
                    name=container.name,
                    container=container,
                    started_at=started,
                    image=cluster.image,
                    binary=binary,
                )
            )
        return found

    @staticmethod
    def _start_of(cluster: Cluster) -> ContainerStart:
        start = DistroSpec(cluster.distro, cluster.version).profile.container
        if start is None:  # the settings refuse such a distribution before it starts
            raise ProvisionError(f"{cluster.distro} has no container start")
        return start

    # -- logs and diagnostics ------------------------------------------------------

    def logs(self, cluster: Cluster, tail: int = 40) -> str:
        containers = cluster.details.get("containers", [])
        if not containers:
            return ""
        try:
            raw = self.client.containers.get(containers[0]).logs(tail=tail)
        except docker.errors.NotFound:
            return ""
        return bytes(raw).decode(errors="replace")

    def diagnostics(self, cluster: Cluster, dest: Path) -> None:
        containers = []
        for container_id in cluster.details.get("containers", []):
            try:
                containers.append(self.client.containers.get(container_id))
            except docker.errors.NotFound:
                continue
        diagnostics.collect(
            containers,
            dest,
            kubeconfig_path=cluster.kubeconfig,
            log_paths=self._start_of(cluster).log_files,
        )

    # -- in-place restart and upgrade --------------------------------------------

    def restart_server(self, cluster: Cluster, index: int = 0) -> int:
        """Restart the distribution's process in node ``index``; the container stays.

        Returns the new process's pid (in the container's pid namespace).
        """
        container = self.client.containers.get(cluster.details["containers"][index])
        before = _child_pid(container)
        code, output = container.exec_run(list(supervisor.RESTART_COMMAND))
        if code != 0:
            raise ProvisionError(
                f"asking the supervisor in {container.name} to restart failed: "
                f"{output.decode(errors='replace').strip()}"
            )
        started = time.monotonic()
        while time.monotonic() < started + RESTART_TIMEOUT_S:
            after = _child_pid(container)
            if after is not None and after != before:
                self.progress.say(
                    f"{container.name}: restarted in {time.monotonic() - started:.1f}s "
                    f"(pid {before} -> {after})"
                )
                return after
            time.sleep(0.2)
        raise ProvisionError(
            f"{container.name}: the distribution's process did not restart within "
            f"{RESTART_TIMEOUT_S:.0f}s; last log lines:\n{self.logs(cluster)}"
        )

    def upgrade(self, cluster: Cluster, target_version: str, *, image: str | None) -> str:
        """Everything the distribution ships, from the target's image, in every node, in place.

        The profiles' procedures replace the distribution's files and restart its
        process; a documented "stop, replace, start" becomes "replace, then stop and
        start" because the supervisor restarts the process in one step (the engine's
        copy replaces each file rather than writing into it, so running processes are
        unaffected until they are stopped).
        """
        profile = DistroSpec(cluster.distro, cluster.version).profile
        source = image or profile.image(target_version)
        if source is None:
            raise UpgradeUnsupported(
                f"{profile.name} has no container image to take version {target_version} "
                f"from; it upgrades by {profile.upgrade.summary}"
            )
        replaced = self.replace_shipped(cluster, source)
        return f"{profile.upgrade.summary}; {replaced} from {source}"

    def replace_shipped(self, cluster: Cluster, source_image: str) -> str:
        """Swap what the distribution's image ships for ``source_image``'s in every node.

        Servers first, as both projects' upgrade docs say. The files are read from a
        container created from ``source_image`` and never started, copied into each
        running node over the old ones, checked, and the node's process restarted:
        pods and the container survive. Returns what was replaced, in words.
        """
        start = self._start_of(cluster)
        images.ensure(self.client, source_image, archive=None, say=self.progress.say)
        payloads = shipped.from_image(
            self.client,
            source_image,
            start.upgrade_paths,
            labels=labels.for_run(self.run, "", "binary-source"),
            required=start.binary,
            say=self.progress.say,
        )
        what = shipped.describe(payloads)
        for index, container_id in enumerate(cluster.details.get("containers", [])):
            container = self.client.containers.get(container_id)
            shipped.copy_into(container, payloads, source_image)
            self.progress.say(f"{container.name}: {what} replaced from {source_image}")
            self.restart_server(cluster, index)
        cluster.details["binary_from"] = source_image
        return what


class _Creation:
    """One cluster being started; every step removes nothing (``create`` does)."""

    def __init__(
        self,
        owner: DockerProvisioner,
        spec: DistroSpec,
        key: str,
        image: str,
        profile: DistroProfile,
        start: ContainerStart,
    ) -> None:
        self.owner = owner
        self.client = owner.client
        self.settings = owner.settings
        self.spec = spec
        self.key = key
        self.image = image
        self.profile = profile
        self.start = start
        self.say = owner.progress.say
        timeout = self.settings.ready_timeout_for(profile)
        self.started = time.monotonic()
        self.deadline = self.started + timeout
        self.base = key
        self.volumes: list[str] = []

    def labels(self, role: str) -> dict[str, str]:
        return labels.for_run(self.owner.run, self.key, role)

    def run(self) -> Cluster:
        info = self.client.info()  # once: the host facts and the privileges' key
        facts = engine.EngineFacts.from_info(info)
        images.ensure(self.client, self.image, archive=self.settings.image_archive, say=self.say)
        granted = privileges.detect(
            self.client, self.image, self.labels("probe"), say=self.say, info=info
        )
        host = node.HostFacts(cgroup_v2=facts.cgroup_v2, privileges=granted)
        server_name = self._names()
        dual = self.settings.ip_family == "dual"
        own_network = self.settings.nodes > 1 or dual or self.settings.datastore is not None
        network = self._network(dual) if own_network else None

        server_env = node.dual_stack_env(self.start, "server") if dual else {}
        store: datastore.Started | None = None
        if self.settings.datastore is not None:
            assert network is not None
            supported = self.profile.datastores
            if supported is None:  # the settings refuse this before anything starts
                raise ProvisionError(f"{self.spec.name} takes no external datastore")
            store = datastore.start(
                self.client,
                datastore.DATASTORES[self.settings.datastore],
                image=self.settings.datastore_image,
                name=f"k8sdistro-{self.base}-datastore",
                network=network,
                labels=self.labels("datastore"),
                volumes=self._volumes,
                deadline=self.deadline,
                say=self.say,
                progress=self.owner.progress,
            )
            # In the environment, not the arguments: the endpoint holds a password.
            server_env[supported.endpoint_env] = store.endpoint

        server = self._start_node(
            host,
            role="server",
            name=server_name,
            args=node.server_args(self.start, server_name, dual_stack=dual),
            env=server_env,
            network=network,
        )
        self.say(f"{self.spec}: node {server.name} started; waiting for its kubeconfig")
        data = self._wait(f"the kubeconfig of {server.name}", server, self._read_kubeconfig)
        ports = _published(server)
        api_port = ports.get(node.api_port(self.start))
        if api_port is None:
            raise ProvisionError(
                f"{server.name}: the engine published no port for {node.api_port(self.start)}"
            )
        path = kubeconfig.write_private(
            kubeconfig.rewrite_server(data, node.PUBLISH_HOST_IP, api_port),
            self.owner.workdir / f"{self.key}.kubeconfig",
        )

        containers = [server]
        if self.settings.nodes > 1:
            token = self._wait(f"a join token from {server.name}", server, self._join_token)
            for index in range(1, self.settings.nodes):
                name = node.container_name(self.base, "agent", index)
                containers.append(
                    self._start_node(
                        host,
                        role="agent",
                        name=name,
                        args=node.agent_args(self.start, name, token),
                        env={
                            **node.agent_env(self.start, server_name, token),
                            **(node.dual_stack_env(self.start, "agent") if dual else {}),
                        },
                        network=network,
                    )
                )
            self.say(f"{self.spec}: {self.settings.nodes - 1} agent node(s) started")

        return Cluster(
            key=self.key,
            distro=self.spec.name,
            version=self.spec.version,
            provisioner=DockerProvisioner.NAME,
            kubeconfig=str(path),
            api_server=f"https://{node.PUBLISH_HOST_IP}:{api_port}",
            image=self.image,
            ports=ports,
            nodes=[
                Node(
                    name=c.name,
                    role="server" if index == 0 else "agent",
                    host_spec=f"docker://{c.id}",
                )
                for index, c in enumerate(containers)
            ],
            details={
                "run_id": self.owner.run.run_id,
                "containers": [c.id for c in containers],
                "names": [c.name for c in containers],
                "network": network,
                "ip_family": self.settings.ip_family,
                "volumes": self.volumes,
                "ports": ports,
                "privileged": granted.privileged,
                "kmsg": granted.kmsg,
                "cgroup_version": facts.cgroup_version,
            },
            datastore=store.record if store is not None else None,
        )

    def _names(self) -> str:
        """The server's name; a run-specific one when another run holds the plain one."""
        name = node.container_name(self.base, "server", 0)
        try:
            other = self.client.containers.get(name)
        except docker.errors.NotFound:
            return name
        owner = labels.Owner.from_labels(other.labels or {})
        whose = f"run {owner.run_id} (pid {owner.pid} on {owner.hostname})" if owner else "?"
        self.base = f"{self.key}-{self.owner.run.run_id[:6]}"
        self.say(
            f"{name} exists (made by {whose}); naming this run's nodes k8sdistro-{self.base}-*"
        )
        return node.container_name(self.base, "server", 0)

    def _network(self, dual_stack: bool) -> str:
        name = f"k8sdistro-{self.base}"
        if not dual_stack:
            self.client.networks.create(name, **node.network_options(self.labels("network")))
            return name
        seed = f"{self.owner.run.run_id}|{self.key}"
        for attempt in range(NETWORK_ATTEMPTS):
            subnet = node.ula_subnet(seed, attempt)
            try:
                self.client.networks.create(
                    name, **node.network_options(self.labels("network"), ipv6_subnet=subnet)
                )
            except docker.errors.APIError as exc:
                if "overlap" in str(exc.explanation or exc).lower():
                    continue  # another network holds it: derive the next one
                raise ProvisionError(
                    f"cannot create the IPv6-enabled network {name}: {exc.explanation or exc}; "
                    "dual-stack needs an engine with IPv6 support on this host"
                ) from None
            self.say(f"{self.spec}: dual-stack network {name} (IPv6 {subnet})")
            return name
        raise ProvisionError(
            f"cannot create the IPv6-enabled network {name}: {NETWORK_ATTEMPTS} candidate "
            "subnets overlapped networks that exist; remove unused ones (docker network prune)"
        )

    def _start_node(
        self,
        host: node.HostFacts,
        *,
        role: Role,
        name: str,
        args: list[str],
        env: dict[str, str],
        network: str | None,
    ) -> Any:
        volumes = self._volumes(self.image, name, self.start.volumes)
        spec = node.NodeSpec(
            start=self.start,
            role=role,
            name=name,
            image=self.image,
            args=args,
            labels=self.labels(role),
            volumes=volumes,
            env=env,
            network=network,
            publish=role == "server",
            memory=self.settings.node_memory,
            cpus=self.settings.node_cpus,
            dual_stack=self.settings.ip_family == "dual",
        )
        try:
            container = self.client.containers.create(**spec.create_options(host))
        except docker.errors.APIError as exc:
            raise ProvisionError(f"cannot create node {name}: {exc.explanation or exc}") from None
        try:
            container.start()
        except docker.errors.APIError as exc:
            raise ProvisionError(f"cannot start node {name}: {exc.explanation or exc}") from None
        container.reload()
        return container

    def _volumes(self, image: str, container: str, paths: tuple[str, ...]) -> dict[str, str]:
        """Named, labelled volumes for ``paths`` and every path ``image`` declares:
        an anonymous volume would carry no labels, so clean-up could not find it if
        the container went. Returns volume name -> path in the container."""
        volumes = {}
        declared = self.client.images.get(image).attrs.get("Config", {}).get("Volumes") or {}
        for path in sorted({*paths, *declared}):
            volume = node.volume_name(container, path)
            self.client.volumes.create(name=volume, labels=self.labels("volume"))
            self.volumes.append(volume)
            volumes[volume] = path
        return volumes

    def _wait(self, what: str, container: Any, attempt: Callable[[Any], T | None]) -> T:
        """Poll ``attempt`` until it returns a value, the node stops, or time runs out."""
        while True:
            found = attempt(container)
            if found is not None:
                return found
            container.reload()
            elapsed = time.monotonic() - self.started
            if container.status not in ("created", "running"):
                raise ProvisionError(
                    f"{container.name} stopped ({container.status}, exit code "
                    f"{container.attrs['State'].get('ExitCode')}) while waiting for {what}; "
                    f"last log lines:\n{_tail(container)}"
                )
            if time.monotonic() >= self.deadline:
                raise ProvisionError(
                    f"no {what} after {elapsed:.0f}s; last log lines:\n{_tail(container)}"
                )
            self.owner.progress.every(
                f"docker-wait-{container.name}", 10.0, f"waiting {elapsed:.0f}s for {what}"
            )
            interrupt.pause(POLL_S)

    def _read_kubeconfig(self, container: Any) -> dict[str, Any] | None:
        text = _node_text(container, self.profile.kubeconfig)
        if not text:
            return None
        try:
            return kubeconfig.parse(text, origin=f"the kubeconfig of {container.name}")
        except KubeconfigError:
            return None  # written but not complete yet

    def _join_token(self, container: Any) -> str | None:
        return _node_text(container, self.start.join_token).strip() or None


def _epoch(timestamp: str) -> float | None:
    """The engine's RFC 3339 timestamps (nanoseconds, ``Z``) as epoch seconds."""
    match = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?Z", timestamp)
    if match is None:
        return None
    parts = [int(p) for p in match.groups()[:6]]
    seconds = calendar.timegm((*parts, 0, 0, 0))
    return seconds + float(match.group(7) or 0)


def _node_text(container: Any, source: NodeText) -> str:
    if source.path is not None:
        return _read_file(container, source.path)
    return _exec_stdout(container, list(source.command))


def _published(container: Any) -> dict[str, int]:
    """Container port -> host port on 127.0.0.1, from a fresh inspect."""
    ports: dict[str, int] = {}
    for port, bindings in (container.attrs["NetworkSettings"].get("Ports") or {}).items():
        for binding in bindings or ():
            if binding.get("HostIp") == node.PUBLISH_HOST_IP and binding.get("HostPort"):
                ports[port] = int(binding["HostPort"])
    return ports


def _read_file(container: Any, path: str) -> str:
    try:
        stream, _ = container.get_archive(path)
        data = b"".join(stream)
    except docker.errors.NotFound:
        return ""
    except docker.errors.APIError as exc:
        if exc.status_code == 409:  # container not running
            return ""
        raise
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = tar.next()
        handle = tar.extractfile(member) if member is not None else None
        return handle.read().decode(errors="replace") if handle is not None else ""


def _exec_stdout(container: Any, command: list[str]) -> str:
    try:
        code, (stdout, _) = container.exec_run(command, demux=True)
    except docker.errors.APIError:
        return ""  # not running (yet)
    return bytes(stdout or b"").decode(errors="replace") if code == 0 else ""


def _child_pid(container: Any) -> int | None:
    code, output = container.exec_run(list(supervisor.CHILD_PID_COMMAND))
    text = bytes(output).decode(errors="replace").strip()
    return int(text) if code == 0 and text.isdigit() else None


def _tail(container: Any, lines: int = 30) -> str:
    try:
        return bytes(container.logs(tail=lines)).decode(errors="replace").rstrip()
    except docker.errors.APIError:
        return "(no logs)"


def _ignore_missing(action: Callable[[], object]) -> None:
    with contextlib.suppress(docker.errors.NotFound):
        action()
