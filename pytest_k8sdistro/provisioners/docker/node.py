"""How a node container is started: names, arguments and ``containers.create`` options.

Pure functions of the profile and what was found out about the engine, so the
whole start specification is unit-tested without an engine.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import docker.types

from pytest_k8sdistro.distros.profile import ContainerStart, Role
from pytest_k8sdistro.model.cluster import LOAD_BALANCER_PORTS
from pytest_k8sdistro.provisioners.docker import supervisor
from pytest_k8sdistro.provisioners.docker.privileges import Privileges

#: Published besides the API so that ingress suites can reach the node's 80/443, and
#: LoadBalancer suites the hostPorts ServiceLB binds. Docker cannot publish a port on a
#: running container, so the set is fixed up front.
NODE_PORTS = ("80/tcp", "443/tcp", *(f"{port}/tcp" for port in LOAD_BALANCER_PORTS))
#: Published ports listen on the loopback only: a test cluster must not be reachable
#: from the network the machine is on.
PUBLISH_HOST_IP = "127.0.0.1"

#: The engine disables IPv6 on every interface but the one it attaches (so the CNI
#: bridge could not get an IPv6 address) and leaves IPv6 forwarding off; kind starts
#: its IPv6 nodes with the same two settings. Writing "all" sets the default too.
DUAL_STACK_SYSCTLS = (
    ("net.ipv6.conf.all.disable_ipv6", "0"),
    ("net.ipv6.conf.all.forwarding", "1"),
)


def api_port(start: ContainerStart) -> str:
    """The engine's name of the API's port in the node: ``6443/tcp``."""
    return f"{start.api_port}/tcp"


def container_name(key: str, role: Role, index: int) -> str:
    return f"k8sdistro-{key}-{role}-{index}"


def volume_name(container: str, path: str) -> str:
    slug = re.sub(r"[^a-zA-Z0-9]+", "-", path).strip("-") or "root"
    return f"{container}-{slug}"


def _fill(templates: Iterable[str], **values: str | int) -> list[str]:
    return [template.format(**values) for template in templates]


def server_args(start: ContainerStart, name: str, *, dual_stack: bool = False) -> list[str]:
    args = [*start.server_args, *_fill(start.server_node_args, name=name, api_port=start.api_port)]
    if dual_stack:
        args += start.dual_stack_args
    return args


def dual_stack_env(start: ContainerStart, role: Role) -> dict[str, str]:
    """Environment of a dual-stack node: the server's settings, and the node-IP flag
    that the supervisor completes with the container's addresses."""
    env = dict(start.dual_stack_env) if role == "server" else {}
    if start.node_ip_flag is not None:
        env[supervisor.ENV_NODE_IP_FLAG] = start.node_ip_flag
    return env


def agent_args(start: ContainerStart, name: str, token: str) -> list[str]:
    filled = _fill(start.agent_node_args, name=name, token=token, api_port=start.api_port)
    return [*start.agent_args, *filled]


def agent_env(start: ContainerStart, server_name: str, token: str) -> dict[str, str]:
    values = {"server": server_name, "token": token, "api_port": str(start.api_port)}
    return {key: value.format(**values) for key, value in start.agent_env.items()}


@dataclass(frozen=True)
class HostFacts:
    """What node containers depend on about the engine's host."""

    cgroup_v2: bool
    privileges: Privileges


@dataclass
class NodeSpec:
    """Everything ``containers.create`` needs for one node."""

    start: ContainerStart
    role: Role
    name: str
    image: str
    args: list[str]
    labels: dict[str, str]
    #: Named volume -> path in the container.
    volumes: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    network: str | None = None
    publish: bool = False
    memory: int | None = None
    cpus: float | None = None
    dual_stack: bool = False

    def create_options(self, host: HostFacts) -> dict[str, Any]:
        env = {**self.start.env, **self.env}
        if host.cgroup_v2 and not self.start.prepare_nests_cgroups:
            env[supervisor.ENV_CGROUP_NESTING] = "1"
        if not host.privileges.privileged:
            env[supervisor.ENV_REMOUNT_RW] = "1"
        # Shell run once by the supervisor before the first start of the distribution.
        prepare = self.start.prepare.get(self.role, "")
        if prepare:
            env[supervisor.ENV_PREPARE] = prepare

        privileges = host.privileges.create_options()
        mounts: dict[str, dict[str, str]] = privileges.pop("volumes", {})
        mounts.update({name: {"bind": path, "mode": "rw"} for name, path in self.volumes.items()})
        options: dict[str, Any] = {
            "image": self.image,
            "name": self.name,
            "hostname": self.name,
            "entrypoint": supervisor.entrypoint(self.start.init),
            "command": supervisor.command(self.start.binary, self.args),
            "environment": env,
            "labels": dict(self.labels),
            "tmpfs": {path: "" for path in self.start.tmpfs},
            "volumes": mounts,
            # Private on cgroup v2 (what kind does, and Docker's default since 20.10 on
            # v2); on v1 the node needs the host's hierarchy to manage pods' cgroups.
            "cgroupns": "private" if host.cgroup_v2 else "host",
            "detach": True,
            **privileges,
        }
        if self.network is not None:
            options["network"] = self.network
        if self.dual_stack:
            options["sysctls"] = dict(DUAL_STACK_SYSCTLS)
        if self.publish:
            options["ports"] = {
                port: (PUBLISH_HOST_IP, None) for port in (api_port(self.start), *NODE_PORTS)
            }
        if self.memory is not None:
            options["mem_limit"] = self.memory
            # No swap beyond the limit, so the threshold means what it says.
            options["memswap_limit"] = self.memory
        if self.cpus is not None:
            options["nano_cpus"] = int(self.cpus * 1e9)
        return options


def network_options(labels: dict[str, str], ipv6_subnet: str | None = None) -> dict[str, Any]:
    """Options of a cluster's own network: for several nodes, or for dual-stack.

    With ``ipv6_subnet`` the network is dual-stack: the engine picks the IPv4 subnet
    from its pools as usual, and IPv6 addresses come from the given ULA subnet.
    """
    options: dict[str, Any] = {"driver": "bridge", "labels": dict(labels), "check_duplicate": True}
    if ipv6_subnet is not None:
        options["enable_ipv6"] = True
        options["ipam"] = docker.types.IPAMConfig(
            pool_configs=[docker.types.IPAMPool(subnet=ipv6_subnet)]
        )
    return options


def ula_subnet(seed: str, attempt: int = 0) -> str:
    """A /64 from the unique local range (RFC 4193), its global ID derived from ``seed``
    so concurrent clusters get different subnets; ``attempt`` picks another."""
    digest = hashlib.sha256(f"{seed}|{attempt}".encode()).hexdigest()
    global_id = digest[:10]  # 40 bits
    return f"fd{global_id[:2]}:{global_id[2:6]}:{global_id[6:10]}:1::/64"
