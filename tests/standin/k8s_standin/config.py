"""Configuration shared by the API server and the node side (kubelet + controllers).

`NodeConfig` is the whole interface between the two halves: the CLI builds one and
calls `k8s_standin.node.start(config)` once the API serves. The node side must talk
to the API over HTTPS only, with the credentials in `kubeconfig_path`, like real
kubelets and controllers do.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .faults import Faults

Flavor = Literal["k3s", "k0s", "microk8s"]


def log_root() -> Path:
    """Root of the kubelet log tree; pod logs live under `<log_root>/pods/`.

    STANDIN_LOG_ROOT is that root (/var/log by default), so host tests can point it
    at a temporary directory.
    """
    return Path(os.environ.get("STANDIN_LOG_ROOT") or "/var/log")


def pod_log_dir() -> Path:
    """Directory holding `<namespace>_<pod>_<uid>/<container>/<restartCount>.log`."""
    return log_root() / "pods"


@dataclass(frozen=True)
class NodeConfig:
    """Everything the node side needs to join and run one node."""

    flavor: Flavor
    version: str  # e.g. "v1.36.5+k3s1"; the kubelet reports it as kubeletVersion
    data_dir: Path  # the distro's data dir (/var/lib/rancher/k3s, /var/lib/k0s)
    api_url: str  # e.g. "https://127.0.0.1:6443"
    kubeconfig_path: Path  # credentials + CA for the node side's HTTP client
    node_name: str
    node_ip: str  # IPv4 internal address
    node_ipv6: str | None = None  # set only for dual-stack nodes
    cluster_cidrs: tuple[str, ...] = ("10.42.0.0/16",)  # pod CIDRs, IPv4 first
    service_cidrs: tuple[str, ...] = ("10.43.0.0/16",)
    cluster_dns: tuple[str, ...] = ("10.43.0.10",)  # DNS service IPs, IPv4 first
    cluster_domain: str = "cluster.local"
    disabled: frozenset[str] = frozenset()  # k3s --disable: traefik, servicelb, ...
    is_server: bool = True  # False for k3s agents and k0s workers
    enable_worker: bool = True  # k0s controller without --enable-worker: False
    no_taints: bool = False  # k0s --no-taints
    faults: Faults = field(default_factory=Faults)
    pod_log_dir: Path = field(default_factory=pod_log_dir)
    token: str = ""  # the cluster join token as the distro prints it
    #: What the running containerd reports ("containerd://2.3.3-k3s1"); set by
    #: node.start from the containerd it starts.
    runtime_version: str = ""

    @property
    def dual_stack(self) -> bool:
        return len(self.cluster_cidrs) > 1

    @property
    def node_ips(self) -> tuple[str, ...]:
        return (self.node_ip, self.node_ipv6) if self.node_ipv6 else (self.node_ip,)
