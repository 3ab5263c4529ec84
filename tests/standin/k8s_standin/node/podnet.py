"""Pod networking: one network namespace per pod on a bridge, or host networking.

netns mode follows the bridge + host-local CNI layout flannel and kube-router
produce: bridge `cni0` holding the first address of the node's pod CIDR(s), a veth
per pod with `eth0` inside namespace `cni-<pod uid>`, addresses from the node's
range recorded under /var/lib/cni/networks/cbr0, and /etc/netns/<ns>/resolv.conf
pointing at cluster DNS (`ip netns exec` bind-mounts it over /etc/resolv.conf).
host mode (tests on a developer machine) gives every pod the node's addresses.
"""

from __future__ import annotations

import contextlib
import ipaddress
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ..config import NodeConfig
from . import env
from .util import Obj, log

BRIDGE = "cni0"


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=20)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc


def resolv_conf(ns: str) -> Path:
    """Where `ip netns exec` looks for a namespace's resolv.conf (under STANDIN_ROOT in tests)."""
    return env.under_root("/etc/netns") / ns / "resolv.conf"


@dataclass
class PodNet:
    ips: list[str]
    netns: str | None = None  # namespace name; None in host mode
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def netns_path(self) -> str | None:
        return f"/var/run/netns/{self.netns}" if self.netns else None


class PodNetwork:
    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self.mode = env.pod_network()
        self.ipam_dir = env.under_root("/var/lib/cni/networks/cbr0")
        self._bridge_cidrs: tuple[str, ...] = ()

    def host_ips(self) -> list[str]:
        ips = [self.config.node_ip]
        if self.config.node_ipv6 and not self.config.faults.no_ipv6:
            ips.append(self.config.node_ipv6)
        return ips

    def setup(self, pod: Obj, node: Obj) -> PodNet:
        if self.mode == "host" or pod["spec"].get("hostNetwork"):
            return PodNet(self.host_ips())
        cidrs = node.get("spec", {}).get("podCIDRs") or (
            [node["spec"]["podCIDR"]] if node.get("spec", {}).get("podCIDR") else []
        )
        if not cidrs:
            raise RuntimeError("node has no pod CIDR yet")
        self._ensure_bridge(tuple(cidrs))
        uid = pod["metadata"]["uid"]
        ns = f"cni-{uid}"
        ips = [self._allocate(c, uid, index) for index, c in enumerate(cidrs)]
        if not self._netns_exists(ns):
            sh("ip", "netns", "add", ns)
        host_if = "veth" + uid.replace("-", "")[:8]
        if sh("ip", "link", "show", host_if, check=False).returncode != 0:
            sh("ip", "link", "add", host_if, "type", "veth", "peer", "name", "eth0", "netns", ns)
            sh("ip", "link", "set", host_if, "master", BRIDGE, "up")
        inside = ("ip", "netns", "exec", ns)
        sh(*inside, "ip", "link", "set", "lo", "up")
        sh(*inside, "ip", "link", "set", "eth0", "up")
        for ip, cidr in zip(ips, cidrs, strict=False):
            net = ipaddress.ip_network(cidr, strict=False)
            gateway = str(net.network_address + 1)
            if net.version == 4:
                sh(*inside, "ip", "addr", "replace", f"{ip}/{net.prefixlen}", "dev", "eth0")
                sh(*inside, "ip", "route", "replace", "default", "via", gateway)
            else:
                sh(
                    *inside,
                    "ip",
                    "-6",
                    "addr",
                    "replace",
                    f"{ip}/{net.prefixlen}",
                    "dev",
                    "eth0",
                    "nodad",
                )
                sh(*inside, "ip", "-6", "route", "replace", "default", "via", gateway)
        self._resolv(pod, ns)
        return PodNet(ips, ns)

    def _resolv(self, pod: Obj, ns: str) -> None:
        if pod["spec"].get("dnsPolicy") == "Default":
            return
        domain = self.config.cluster_domain
        namespace = pod["metadata"]["namespace"]
        path = resolv_conf(ns)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f"search {namespace}.svc.{domain} svc.{domain} {domain}\n"
            + "".join(f"nameserver {ip}\n" for ip in self.config.cluster_dns[:1])
            + "options ndots:5\n"
        )

    def _ensure_bridge(self, cidrs: tuple[str, ...]) -> None:
        if self._bridge_cidrs == cidrs:
            return
        if sh("ip", "link", "show", BRIDGE, check=False).returncode != 0:
            sh("ip", "link", "add", BRIDGE, "type", "bridge")
        for cidr in cidrs:
            net = ipaddress.ip_network(cidr, strict=False)
            gateway = f"{net.network_address + 1}/{net.prefixlen}"
            sh("ip", "addr", "replace", gateway, "dev", BRIDGE)
        sh("ip", "link", "set", BRIDGE, "up")
        for knob in (
            "net/ipv4/ip_forward",
            "net/ipv6/conf/all/forwarding",
            # Bridged pod-to-pod frames reach iptables (NetworkPolicy, see netpol.py)
            # only with these; they are per network namespace on current kernels.
            "net/bridge/bridge-nf-call-iptables",
            "net/bridge/bridge-nf-call-ip6tables",
            "net/ipv4/conf/all/route_localnet",
        ):
            # Absent on some kernels; pods on one node still talk over the bridge.
            with contextlib.suppress(OSError):
                Path("/proc/sys", knob).write_text("1")
        self._bridge_cidrs = cidrs

    def _allocate(self, cidr: str, uid: str, index: int = 0) -> str:
        """host-local IPAM: one file per address holding the owner's id, and the search
        starting after `last_reserved_ip.<range index>`, so a freed address is the last
        to be handed out again (no immediate reuse while stale neighbour entries, conntrack
        state or Endpoints may still point at the previous owner)."""
        net = ipaddress.ip_network(cidr, strict=False)
        self.ipam_dir.mkdir(parents=True, exist_ok=True)
        for entry in self.ipam_dir.iterdir():
            try:
                if entry.read_text().strip() == uid and ipaddress.ip_address(entry.name) in net:
                    return entry.name
            except (OSError, ValueError):
                continue
        first = 2  # .0 is the network, .1 the gateway on cni0
        size = min(net.num_addresses - 1, 65534) - first
        if size <= 0:
            raise RuntimeError(f"no free address in {cidr}")
        last_file = self.ipam_dir / f"last_reserved_ip.{index}"
        start = 0
        with contextlib.suppress(OSError, ValueError):
            last = ipaddress.ip_address(last_file.read_text().strip())
            if last in net:
                start = (int(last) - int(net.network_address) - first + 1) % size
        for step in range(size):
            ip = str(net.network_address + first + (start + step) % size)
            path = self.ipam_dir / ip
            try:
                with open(path, "x") as fh:  # exclusive create: the file is the lease
                    fh.write(uid)
            except FileExistsError:
                continue
            last_file.write_text(ip)
            return ip
        raise RuntimeError(f"no free address in {cidr}")

    def _release(self, uid: str) -> None:
        if not self.ipam_dir.is_dir():
            return
        for entry in self.ipam_dir.iterdir():
            if entry.name.startswith("last_reserved_ip."):
                continue
            try:
                if entry.read_text().strip() == uid:
                    entry.unlink()
            except OSError:
                continue

    def _netns_exists(self, ns: str) -> bool:
        return Path(f"/var/run/netns/{ns}").exists()

    def teardown(self, uid: str) -> None:
        # CNI DEL order: the interface holding the addresses goes first, the leases
        # last, so a new pod can never get an address that is still up on a veth.
        if self.mode == "netns":
            ns = f"cni-{uid}"
            if self._netns_exists(ns):
                sh("ip", "netns", "del", ns, check=False)
            resolv = resolv_conf(ns).parent
            if resolv.is_dir():
                for item in resolv.iterdir():
                    item.unlink(missing_ok=True)
                resolv.rmdir()
        self._release(uid)

    def sync_routes(self, nodes: list[Obj]) -> None:
        """Route other nodes' pod CIDRs via their InternalIP (host-gw style overlay)."""
        if self.mode != "netns":
            return
        for node in nodes:
            if node["metadata"]["name"] == self.config.node_name:
                continue
            addresses = [
                a["address"]
                for a in node.get("status", {}).get("addresses") or []
                if a.get("type") == "InternalIP"
            ]
            for cidr in node.get("spec", {}).get("podCIDRs") or []:
                v6 = ":" in cidr
                via = next((a for a in addresses if (":" in a) == v6), None)
                if via:
                    proc = sh(
                        "ip",
                        *(["-6"] if v6 else []),
                        "route",
                        "replace",
                        cidr,
                        "via",
                        via,
                        check=False,
                    )
                    if proc.returncode:
                        log.debug("route %s via %s: %s", cidr, via, proc.stderr)
