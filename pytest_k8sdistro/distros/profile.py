"""The data a distribution profile holds: how to start it and what it claims to offer.

A profile is plain data: every fact the plugin uses about one distribution, with
the upstream source it was read in. Code outside ``distros/`` reads these fields
and never branches on a distribution's name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, Literal, get_type_hints

from pytest_k8sdistro.errors import ConfigError
from pytest_k8sdistro.model import versions

if TYPE_CHECKING:
    from pytest_k8sdistro.distros.install import (
        ArtifactKind,
        InstallPlan,
        JoinPlan,
        PlanInput,
        Step,
    )

#: Every feature name that ``@pytest.mark.distro_feature`` accepts.
FEATURES: tuple[str, ...] = (
    "dns",
    "cni",
    "network-policy",
    "storage",
    "ingress",
    "load-balancer",
    "ipv6",
    "datastore",
    "metrics-server",
    "hitless-upgrade",
    "multi-node",
)

IPv6Support = Literal["dual-stack", "unsupported"]
Role = Literal["server", "agent"]


@dataclass(frozen=True)
class Expectations:
    """What a distribution claims to offer out of the box, as the suites check it.

    ``None`` (or an empty tuple) means the distribution claims *not* to offer the
    component; the suites then check that it is indeed absent, so a changed
    default is noticed.
    """

    dns: str | None
    cni: str
    network_policy: bool
    runtime: str
    runtime_version_family: str | None
    storage_class: str | None
    storage_provisioner: str | None
    volume_binding_mode: str | None
    ingress_classes: tuple[str, ...]
    default_ingress_class: str | None
    load_balancer: str | None
    datastore: str
    ipv6: IPv6Support
    metrics_server: bool
    hitless_upgrade: bool
    multi_node: bool
    #: RBAC authorizes requests out of the box (--authorization-mode includes RBAC).
    rbac: bool
    memory_min_mib: int
    memory_idle_max_mib: int
    disk_max_mb: int

    def features(self) -> frozenset[str]:
        """The names from :data:`FEATURES` that this distribution claims."""
        claimed = {
            "dns": self.dns is not None,
            "cni": bool(self.cni),
            "network-policy": self.network_policy,
            "storage": self.storage_class is not None,
            "ingress": bool(self.ingress_classes),
            "load-balancer": self.load_balancer is not None,
            "ipv6": self.ipv6 != "unsupported",
            "datastore": bool(self.datastore),
            "metrics-server": self.metrics_server,
            "hitless-upgrade": self.hitless_upgrade,
            "multi-node": self.multi_node,
        }
        return frozenset(name for name, present in claimed.items() if present)

    def with_overrides(self, overrides: Mapping[str, Any]) -> Expectations:
        """A copy with ``overrides`` applied; keys must be field names."""
        unknown = sorted(set(overrides) - set(EXPECTATION_FIELDS))
        if unknown:
            raise KeyError(", ".join(unknown))
        return replace(self, **overrides)


#: The expectation fields, in order: the keys of ``--distro-expect`` and of version ranges.
EXPECTATION_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Expectations))
EXPECTATION_TYPES: dict[str, Any] = get_type_hints(Expectations)


def absent_value(name: str) -> Any:
    """The value of expectation ``name`` that says "not offered"."""
    kind = EXPECTATION_TYPES[name]
    if kind is bool:
        return False
    if getattr(kind, "__origin__", None) is tuple:
        return ()
    return None


@dataclass(frozen=True)
class VersionRange:
    """Expectations that hold from release ``since`` (inclusive) up to ``until``
    (exclusive), each a Kubernetes minor such as ``"1.35"``; None is open."""

    changes: Mapping[str, Any]
    #: Where upstream says so, with the tag or branch it was read at.
    source: str
    since: str | None = None
    until: str | None = None

    def __post_init__(self) -> None:
        unknown = sorted(set(self.changes) - set(EXPECTATION_FIELDS))
        if unknown:
            raise ValueError(f"unknown expectation field(s): {', '.join(unknown)}")
        for bound in (self.since, self.until):
            if bound is not None:
                versions.parse_minor(bound)

    def covers(self, version: str) -> bool:
        minor = versions.minor_of(version)
        if self.since is not None and minor < versions.parse_minor(self.since):
            return False
        return not (self.until is not None and minor >= versions.parse_minor(self.until))

    def describe(self) -> str:
        if self.since and self.until:
            return f"{self.since} to before {self.until}"
        if self.since:
            return f"{self.since} and later"
        return f"before {self.until}" if self.until else "every release"


@dataclass(frozen=True)
class Addons:
    """Components that a distribution installs only when asked (microk8s addons).

    Without an addon, the expectation fields it provides are absent; with it, they
    hold the profile's values for the version, changed by ``when_enabled``.
    """

    #: Every addon name accepted, in the order help lists them.
    known: tuple[str, ...]
    #: Addon -> the expectation fields it is responsible for.
    provides: Mapping[str, tuple[str, ...]]
    #: Addon -> expectation values it sets when enabled (beyond the profile's).
    when_enabled: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: Addons that take an argument and cannot go without one, with an example.
    need_argument: Mapping[str, str] = field(default_factory=dict)
    #: Addon -> (the first minor without it, where upstream says so).
    removed: Mapping[str, tuple[str, str]] = field(default_factory=dict)

    def missing_at(self, addons: tuple[str, ...], version: str) -> list[str]:
        """Messages for each of ``addons`` that ``version`` no longer has."""
        minor = versions.minor_of(version)
        found = []
        for addon in addons:
            name = addon.partition(":")[0]
            if name in self.removed:
                since, source = self.removed[name]
                if minor >= versions.parse_minor(since):
                    found.append(f"{name} is gone from {since} on ({source})")
        return found

    def parse(self, value: str) -> tuple[str, ...]:
        """``dns,hostpath-storage,metallb:RANGE`` as a tuple; :class:`ConfigError` if bad."""
        addons = tuple(item.strip() for item in value.split(",") if item.strip())
        if not addons:
            raise ConfigError("no addon named")
        for addon in addons:
            name, sep, argument = addon.partition(":")
            if name not in self.known:
                raise ConfigError(f"{name!r} is not an addon this plugin knows")
            if name in self.need_argument and not argument:
                raise ConfigError(f"{name} needs its argument, e.g. {self.need_argument[name]}")
            if sep and not argument:
                raise ConfigError(f"{addon!r} has an empty argument")
        return addons

    def apply(self, expectations: Expectations, enabled: tuple[str, ...]) -> Expectations:
        """``expectations`` as they hold with only ``enabled`` addons (``name:ARG`` counts)."""
        names = {addon.partition(":")[0] for addon in enabled}
        changes: dict[str, Any] = {}
        for addon, provided in self.provides.items():
            if addon not in names:
                changes.update({name: absent_value(name) for name in provided})
        for addon in names:
            changes.update(self.when_enabled.get(addon, {}))
        return expectations.with_overrides(changes)


@dataclass(frozen=True)
class NodeText:
    """Text a running node holds: a file's content, or a command's output."""

    path: str | None = None
    command: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if (self.path is None) == (not self.command):
            raise ValueError("node text comes from either a path or a command")


#: Where a running node keeps its admin kubeconfig.
KubeconfigSource = NodeText


@dataclass(frozen=True)
class ContainerStart:
    """How a node container of this distribution is started from its official image.

    Argument and environment templates are filled in with ``{name}`` (the node's
    name), ``{server}`` (the server's hostname), ``{token}`` (the join token) and
    ``{api_port}``.
    """

    #: The distribution's binary inside the image; the supervisor runs it as a child.
    binary: str
    server_args: tuple[str, ...]
    agent_args: tuple[str, ...]
    #: Where a server keeps the token agents join with: a file, or a command's output.
    join_token: NodeText
    #: Added to a server's arguments in a container (the node name, API addresses).
    server_node_args: tuple[str, ...] = ()
    #: Added to an agent's arguments: how it finds the server and proves itself.
    agent_node_args: tuple[str, ...] = ()
    #: An agent's environment, for distributions that join through it.
    agent_env: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    volumes: tuple[str, ...] = ()
    tmpfs: tuple[str, ...] = ("/run", "/var/run")
    #: Flags that put the server on dual-stack networking.
    dual_stack_args: tuple[str, ...] = ()
    #: Environment of a dual-stack server (a configuration the image's entrypoint
    #: writes to a file, say).
    dual_stack_env: Mapping[str, str] = field(default_factory=dict)
    #: The flag that takes a node's addresses, when a dual-stack node must be given
    #: both; None when the distribution finds them itself.
    node_ip_flag: str | None = None
    #: Prepended before the binary when the image's entrypoint is an init.
    init: tuple[str, ...] = ()
    #: Shell run once before the first start, by role: what the image's own
    #: entrypoint would have prepared, since the supervisor replaces it.
    prepare: Mapping[str, str] = field(default_factory=dict)
    #: Whether that preparation nests cgroups itself on a cgroup v2 host.
    prepare_nests_cgroups: bool = False
    #: The API's port inside the node.
    api_port: int = 6443
    #: Log files inside the node that are not in the container's log (diagnostics).
    log_files: tuple[str, ...] = ()
    #: Everything the image ships that the distribution runs, files or directories
    #: (copied whole): an in-place upgrade copies each from the target's image, so no
    #: runtime binary beside the main one is left at the old version. Empty: the
    #: binary alone.
    shipped: tuple[str, ...] = ()

    @property
    def upgrade_paths(self) -> tuple[str, ...]:
        """What an in-place upgrade replaces in a node."""
        return self.shipped or (self.binary,)


@dataclass(frozen=True)
class MachineInstall:
    """How the distribution is installed on a machine (host, SSH, VM) and removed."""

    #: The install plan for one machine; ``ValueError`` for inputs it cannot use.
    plan: Callable[[PlanInput], InstallPlan]
    #: Local files it can install from instead of downloading, with what each is.
    artifacts: Mapping[ArtifactKind, str]
    #: Where the install puts its binaries (disk footprint).
    binaries: tuple[str, ...] = ()
    #: The in-place upgrade's steps to ``target`` on a machine, or None when the
    #: plugin does not know one; the second argument is the readiness timeout.
    upgrade: Callable[[str, float], tuple[Step, ...]] | None = None
    #: Prints, on the server, the token agents join with; None when the plugin knows
    #: no join on machines (one node only).
    join_token: Step | None = None
    #: The plan of an agent that joins (``PlanInput.join`` set).
    join: Callable[[PlanInput], JoinPlan] | None = None


@dataclass(frozen=True)
class ExternalDatastores:
    """SQL databases the distribution can keep its state in instead of its own."""

    kinds: tuple[str, ...]
    #: The environment variable that takes the endpoint (it holds a password, so it
    #: does not go on the command line).
    endpoint_env: str


@dataclass(frozen=True)
class Readiness:
    """The stages a cluster passes before tests may use it, in order."""

    log_line: str | None
    #: System Deployments (namespace/name) that must be Available.
    deployments: tuple[str, ...] = ("kube-system/coredns",)
    timeout_s: float = 300.0
    #: Known reasons a node of this distribution never gets ready, with the upstream
    #: issue; cited when readiness times out.
    pitfalls: tuple[str, ...] = ()


@dataclass(frozen=True)
class Upgrade:
    """The distribution's own in-place upgrade procedure."""

    method: Literal["replace-binary", "snap-refresh"]
    #: What the procedure stops and starts, in words for reports and errors.
    summary: str
    source: str = ""


@dataclass(frozen=True)
class DistroProfile:
    """Everything the plugin knows about one distribution, as data."""

    name: str
    default_version: str
    #: Accepted version strings; the first group is the Kubernetes ``major.minor``.
    version_pattern: re.Pattern[str]
    version_example: str
    image_repository: str | None
    container: ContainerStart | None
    kubeconfig: KubeconfigSource
    readiness: Readiness
    upgrade: Upgrade
    #: What the default version claims; ``by_version`` changes it for other releases.
    expectations: Expectations
    #: Upstream files and pages the expectations come from, with tags or branches.
    sources: tuple[str, ...]
    by_version: tuple[VersionRange, ...] = ()
    machine: MachineInstall | None = None
    addons: Addons | None = None
    datastores: ExternalDatastores | None = None
    #: The distribution's data directories on a node (disk footprint).
    data_dirs: tuple[str, ...] = ()
    #: Where each datastore the distribution can run on keeps its files in the server
    #: node: datastore -> (path, "file" or "dir") pairs (the datastore suite).
    datastore_files: Mapping[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    #: Why the distribution cannot run in a container, when it cannot; user-facing.
    no_container_reason: str = ""
    #: Facts no upstream source confirmed, in words; listed by the docs.
    unconfirmed: tuple[str, ...] = ()
    #: Expectation field -> where upstream says so, with the tag, branch or commit it
    #: was read at ("unconfirmed: ..." where no upstream source says so).
    expectation_sources: Mapping[str, str] = field(default_factory=dict)

    def source_of(self, name: str, version: str) -> str:
        """Where expectation ``name`` at ``version`` comes from: the last version range
        that covers ``version`` and sets it, else the profile's own source."""
        source = self.expectation_sources.get(name, "")
        for change in self.by_version:
            if name in change.changes and change.covers(version):
                source = change.source
        return source

    def expectations_at(self, version: str) -> Expectations:
        """The expectations of ``version``: the profile's, changed by every range that
        covers it, in the order the profile lists them."""
        expectations = self.expectations
        for change in self.by_version:
            if change.covers(version):
                expectations = expectations.with_overrides(change.changes)
        return expectations

    def normalise_version(self, version: str) -> str | None:
        """The canonical form of ``version`` or ``None`` when it is malformed.

        Image tags spell ``+`` as ``-`` (``v1.31.4-k3s1``); both are accepted and
        the ``+`` form is returned.
        """
        as_version = versions.tag_to_version(version)
        for candidate in (version, as_version, "v" + version, "v" + as_version):
            if self.version_pattern.fullmatch(candidate):
                return candidate
        return None

    def minor(self, version: str) -> str:
        """``v1.33`` for ``v1.33.6+k3s1``: the short form used in test ids."""
        match = self.version_pattern.fullmatch(version)
        if match is None:
            return version
        return ("v" if version.startswith("v") else "") + match.group(1)

    def image(self, version: str) -> str | None:
        """The official image reference for ``version``."""
        if self.image_repository is None:
            return None
        return f"{self.image_repository}:{versions.version_to_tag(version)}"
