"""The data a distribution profile holds: how to start it and what it claims to offer."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

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

    def with_overrides(self, overrides: dict[str, Any]) -> Expectations:
        """A copy with ``overrides`` applied; keys must be field names."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise KeyError(", ".join(unknown))
        return replace(self, **overrides)


@dataclass(frozen=True)
class KubeconfigSource:
    """Where a running node keeps its admin kubeconfig: a file, or a command's output."""

    path: str | None = None
    command: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if (self.path is None) == (not self.command):
            raise ValueError("a kubeconfig source is either a path or a command")


@dataclass(frozen=True)
class ContainerStart:
    """How a node container of this distribution is started from its official image."""

    #: The distribution's binary inside the image; the supervisor runs it as a child.
    binary: str
    server_args: tuple[str, ...]
    agent_args: tuple[str, ...]
    #: How an agent finds the server: environment variables, or a join token.
    join: Literal["env", "token"]
    env: dict[str, str] = field(default_factory=dict)
    volumes: tuple[str, ...] = ()
    tmpfs: tuple[str, ...] = ("/run", "/var/run")
    #: Flags that put the server on dual-stack networking.
    dual_stack_args: tuple[str, ...] = ()
    #: Environment of a dual-stack server (k0s: its configuration, which the image's
    #: entrypoint writes to a file).
    dual_stack_env: dict[str, str] = field(default_factory=dict)
    #: The flag that takes a node's addresses, when a dual-stack node must be given
    #: both (k3s); None when the distribution finds them itself (k0s).
    node_ip_flag: str | None = None
    #: Prepended before the binary when the image's entrypoint is an init (k0s: tini).
    init: tuple[str, ...] = ()


@dataclass(frozen=True)
class Readiness:
    """The stages a cluster passes before tests may use it, in order."""

    log_line: str | None
    #: System Deployments (namespace/name) that must be Available.
    deployments: tuple[str, ...] = ("kube-system/coredns",)
    timeout_s: float = 300.0


@dataclass(frozen=True)
class Upgrade:
    """The distribution's own in-place upgrade procedure."""

    method: Literal["replace-binary", "snap-refresh"]
    #: What the procedure stops and starts, in words for reports and errors.
    summary: str


@dataclass(frozen=True)
class DistroProfile:
    """Everything the plugin knows about one distribution, as data."""

    name: str
    default_version: str
    #: Accepted version strings; the first group is the Kubernetes ``major.minor``.
    version_pattern: re.Pattern[str]
    version_example: str
    image_repository: str | None
    #: Provisioners that can run this distribution, the first being the default.
    provisioners: tuple[str, ...]
    container: ContainerStart | None
    kubeconfig: KubeconfigSource
    readiness: Readiness
    upgrade: Upgrade
    expectations: Expectations
    #: Upstream files and pages each expectation comes from.
    sources: tuple[str, ...]

    def normalise_version(self, version: str) -> str | None:
        """The canonical form of ``version`` or ``None`` when it is malformed.

        Image tags spell ``+`` as ``-`` (``v1.31.4-k3s1``); both are accepted and
        the ``+`` form is returned.
        """
        as_version = _tag_to_version(version)
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
        return f"{self.image_repository}:{version.replace('+', '-')}"


def _tag_to_version(tag: str) -> str:
    # Image tags replace the build-metadata "+" with "-"; only the last "-" that
    # precedes the distribution suffix is the one to turn back.
    match = re.fullmatch(r"(v?\d+\.\d+\.\d+(?:-rc\d+)?)-(k3s\d+|k0s\.\d+)", tag)
    if match is None:
        return tag
    return f"{match.group(1)}+{match.group(2)}"
