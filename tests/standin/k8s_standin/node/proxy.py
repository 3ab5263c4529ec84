"""kube-proxy (iptables mode) and the CNI portmap plugin, for netns pod networking.

Programs the nat table the way kube-proxy does: KUBE-SERVICES (from PREROUTING
and OUTPUT) sends each ClusterIP:port and NodePort to a KUBE-SVC-* chain that
picks a KUBE-SEP-* endpoint at random (statistic match) and DNATs to it;
KUBE-POSTROUTING masquerades marked traffic. As kube-proxy does with
--cluster-cidr set (k3s passes it), only ClusterIP traffic from outside the cluster
CIDR is marked (`! -s <cidr>`), plus hairpin traffic (a pod reaching itself,
KUBE-SEP `-s <pod IP>`) and all NodePort traffic (KUBE-EXT-*), so the endpoint
sees the client pod's own address (NetworkPolicy depends on that). Replies
between pods on one bridge then need br_netfilter to be un-DNATed; where it is
inactive (netpol.py warns) every Service connection is masqueraded instead, as
kube-proxy's --masquerade-all would. hostPorts (ServiceLB pods) get CNI-HOSTPORT-DNAT rules,
with portmap's masquerading of hairpin and localhost clients.
IPv6 services and endpoints go to ip6tables. Debian's `iptables` is the nft
backend; when it cannot use the nat table we fall back to `iptables-legacy`
(k3s-io/k3s#7206 describes mixing the two), and without either to the userspace
proxy (userspace.py); STANDIN_PROXY_MODE=userspace forces it. In host mode nothing
is programmed: pods share the node's stack, and ClusterIPs are not reachable.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

from ..config import NodeConfig
from .client import Client
from .endpoints import pod_ips, target_port
from .podnet import PodNetwork
from .userspace import UserspaceProxy
from .util import Obj, log, pod_ready, service_matches

JUMPS = [
    (
        "PREROUTING",
        ["-m", "comment", "--comment", "kubernetes service portals", "-j", "KUBE-SERVICES"],
    ),
    ("OUTPUT", ["-m", "comment", "--comment", "kubernetes service portals", "-j", "KUBE-SERVICES"]),
    (
        "POSTROUTING",
        ["-m", "comment", "--comment", "kubernetes postrouting rules", "-j", "KUBE-POSTROUTING"],
    ),
    ("PREROUTING", ["-m", "addrtype", "--dst-type", "LOCAL", "-j", "CNI-HOSTPORT-DNAT"]),
    ("OUTPUT", ["-m", "addrtype", "--dst-type", "LOCAL", "-j", "CNI-HOSTPORT-DNAT"]),
]
BASE_CHAINS = (
    "KUBE-SERVICES",
    "KUBE-NODEPORTS",
    "KUBE-POSTROUTING",
    "KUBE-MARK-MASQ",
    "CNI-HOSTPORT-DNAT",
)


def _chain(prefix: str, *parts: str) -> str:
    digest = hashlib.sha256("/".join(parts).encode()).hexdigest()[:16].upper()
    return f"{prefix}-{digest}"


def _bridged_traffic_filtered() -> bool:
    """Whether frames bridged on cni0 go through iptables (br_netfilter, per netns)."""
    try:
        return Path("/proc/sys/net/bridge/bridge-nf-call-iptables").read_text().strip() == "1"
    except OSError:
        return False


def find_iptables(v6: bool) -> str | None:
    names = ["ip6tables", "ip6tables-legacy"] if v6 else ["iptables", "iptables-legacy"]
    forced = os.environ.get("STANDIN_IPTABLES")
    if forced:
        names = [forced.replace("iptables", "ip6tables") if v6 else forced]
    for name in names:
        try:
            ok = (
                subprocess.run(
                    [name, "-w", "-t", "nat", "-S", "POSTROUTING"], capture_output=True, timeout=10
                ).returncode
                == 0
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if ok:
            return name
    return None


class Proxy:
    # Mark every Service connection for SNAT (--masquerade-all); step() turns it on
    # when bridged frames bypass iptables (no br_netfilter).
    masquerade_all = False

    def __init__(self, client: Client, config: NodeConfig, network: PodNetwork) -> None:
        self.client, self.config, self.network = client, config, network
        self.enabled = network.mode == "netns"
        self.tools: dict[bool, str | None] = {}
        self._last: dict[bool, str] = {}
        self._chains: dict[bool, set[str]] = {False: set(), True: set()}
        self.userspace: UserspaceProxy | None = None
        if os.environ.get("STANDIN_PROXY_MODE") == "userspace":
            self.tools = {False: None, True: None}

    def step(self) -> None:
        if not self.enabled:
            return  # host mode: pods share the node's stack, nothing to program
        self.network.sync_routes(self.client.list("nodes"))
        self.masquerade_all = not _bridged_traffic_filtered()
        services = self.client.list("services")
        pods = [
            p
            for p in self.client.list("pods")
            if not p["metadata"].get("deletionTimestamp") and pod_ips(p)
        ]
        families = [False] + (
            [True] if self.config.node_ipv6 and not self.config.faults.no_ipv6 else []
        )
        fallback = []
        for v6 in families:
            if v6 not in self.tools:
                self.tools[v6] = find_iptables(v6)
                if self.tools[v6] is None:
                    log.warning(
                        "kube-proxy: no working %s; services unreachable",
                        "ip6tables" if v6 else "iptables",
                    )
                else:
                    self._ensure_jumps(v6)
            if self.tools[v6]:
                self._apply(v6, self._rules(v6, services, pods))
            else:
                fallback.append(v6)
        if fallback:
            self._userspace(fallback, services, pods)

    def _userspace(self, families: list[bool], services: list[Obj], pods: list[Obj]) -> None:
        if self.userspace is None:
            log.warning("kube-proxy: iptables unusable, using the userspace proxy")
            self.userspace = UserspaceProxy()
        wanted: dict[tuple[str, int, str], list[tuple[str, int]]] = {}
        cluster_ips: set[str] = set()
        for svc in services:
            spec = svc["spec"]
            ips = [
                ip
                for ip in spec.get("clusterIPs") or [spec.get("clusterIP")]
                if ip and ip != "None" and (":" in ip) in families
            ]
            members = [
                p
                for p in pods
                if p["metadata"]["namespace"] == svc["metadata"]["namespace"]
                and pod_ready(p)
                and service_matches(spec.get("selector"), p["metadata"].get("labels"))
            ]
            for port in spec.get("ports") or []:
                proto = port.get("protocol", "TCP").lower()
                for ip in ips:
                    backends = [
                        (pip, number)
                        for pod in members
                        if (number := target_port(port, pod))
                        for pip in pod_ips(pod)
                        if (":" in pip) == (":" in ip)
                    ]
                    cluster_ips.add(ip)
                    wanted[(ip, int(port["port"]), proto)] = backends
                    if port.get("nodePort"):
                        wanted[("::" if ":" in ip else "0.0.0.0", int(port["nodePort"]), proto)] = (
                            backends
                        )
        self.userspace.sync(wanted, cluster_ips)

    def _ensure_jumps(self, v6: bool) -> None:
        tool = self.tools[v6]
        assert tool
        for chain in BASE_CHAINS:
            subprocess.run([tool, "-w", "-t", "nat", "-N", chain], capture_output=True)
        for chain, rule in JUMPS:
            if subprocess.run(
                [tool, "-w", "-t", "nat", "-C", chain, *rule], capture_output=True
            ).returncode:
                subprocess.run(
                    [tool, "-w", "-t", "nat", "-I", chain, "1", *rule],
                    capture_output=True,
                    check=True,
                )

    def _rules(self, v6: bool, services: list[Obj], pods: list[Obj]) -> tuple[list[str], set[str]]:
        lines = [
            "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000",
            "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN",
            "-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000",
            '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring '
            'SNAT" -j MASQUERADE',
        ]
        chains: set[str] = set()
        cidrs = [c for c in self.config.cluster_cidrs if (":" in c) == v6]
        for svc in services:
            spec = svc["spec"]
            ips = [
                ip
                for ip in spec.get("clusterIPs") or [spec.get("clusterIP")]
                if ip and ip != "None" and (":" in ip) == v6
            ]
            if not ips:
                continue
            ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
            members = [
                p
                for p in pods
                if p["metadata"]["namespace"] == ns
                and pod_ready(p)
                and service_matches(spec.get("selector"), p["metadata"].get("labels"))
            ]
            for port in spec.get("ports") or []:
                proto = port.get("protocol", "TCP").lower()
                svc_chain = _chain("KUBE-SVC", ns, name, str(port["port"]), proto, str(v6))
                chains.add(svc_chain)
                comment = f'-m comment --comment "{ns}/{name}:{port.get("name", "")}"'
                for ip in ips:
                    host = f"{ip}/128" if v6 else f"{ip}/32"
                    lines.append(
                        f"-A KUBE-SERVICES -d {host} -p {proto} {comment} "
                        f"--dport {port['port']} -j {svc_chain}"
                    )
                    if self.masquerade_all:
                        lines.append(f"-A {svc_chain} -j KUBE-MARK-MASQ")
                    else:
                        # Only clients outside the cluster CIDR (the node itself, the
                        # outside world) are SNATed; pods keep their source address.
                        lines += [
                            f"-A {svc_chain} -d {host} -p {proto} {comment} "
                            f"--dport {port['port']} ! -s {cidr} -j KUBE-MARK-MASQ"
                            for cidr in cidrs
                        ]
                # The load balancer's addresses lead to the Service as its node ports do
                # (kube-proxy's iptables proxier, for ipMode VIP, the default), so that
                # the node itself and what it routes reach an announced address.
                balanced = [
                    entry["ip"]
                    for entry in (svc.get("status") or {}).get("loadBalancer", {}).get("ingress")
                    or []
                    if entry.get("ip")
                    and (":" in entry["ip"]) == v6
                    and entry.get("ipMode", "VIP") == "VIP"
                ]
                if port.get("nodePort") or balanced:
                    ext_chain = _chain("KUBE-EXT", ns, name, str(port["port"]), proto, str(v6))
                    chains.add(ext_chain)
                    if port.get("nodePort"):
                        lines.append(
                            f"-A KUBE-NODEPORTS -p {proto} {comment} "
                            f"--dport {port['nodePort']} -j {ext_chain}"
                        )
                    lines += [
                        f"-A KUBE-SERVICES -d {ip}/{128 if v6 else 32} -p {proto} {comment} "
                        f"--dport {port['port']} -j {ext_chain}"
                        for ip in balanced
                    ]
                    # externalTrafficPolicy Cluster: external traffic is always SNATed.
                    lines.append(f"-A {ext_chain} -j KUBE-MARK-MASQ")
                    lines.append(f"-A {ext_chain} -j {svc_chain}")
                endpoints = []
                for pod in members:
                    number = target_port(port, pod)
                    for ip in pod_ips(pod):
                        if (":" in ip) == v6 and number:
                            endpoints.append((ip, number))
                # No endpoints: no DNAT (kube-proxy REJECTs in the filter table instead).
                for index, (ip, number) in enumerate(endpoints):
                    sep = _chain("KUBE-SEP", ns, name, str(port["port"]), proto, ip, str(number))
                    chains.add(sep)
                    remaining = len(endpoints) - index
                    pick = (
                        ""
                        if remaining == 1
                        else f"-m statistic --mode random --probability {1 / remaining:.5f} "
                    )
                    lines.append(f"-A {svc_chain} {pick}-j {sep}")
                    target = f"[{ip}]:{number}" if v6 else f"{ip}:{number}"
                    # Hairpin: a pod reaching itself through the Service is SNATed.
                    lines.append(f"-A {sep} -s {ip}/{128 if v6 else 32} -j KUBE-MARK-MASQ")
                    lines.append(f"-A {sep} -p {proto} -j DNAT --to-destination {target}")
        lines.append("-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS")
        for pod in pods:
            if pod["spec"].get("nodeName") != self.config.node_name or pod["spec"].get(
                "hostNetwork"
            ):
                continue
            ip = next((i for i in pod_ips(pod) if (":" in i) == v6), None)
            if ip is None:
                continue
            for container in pod["spec"].get("containers") or []:
                for cport in container.get("ports") or []:
                    if not cport.get("hostPort"):
                        continue
                    proto = cport.get("protocol", "TCP").lower()
                    target = (
                        f"[{ip}]:{cport['containerPort']}"
                        if v6
                        else f"{ip}:{cport['containerPort']}"
                    )
                    match = f"-A CNI-HOSTPORT-DNAT -p {proto} --dport {cport['hostPort']}"
                    # portmap's SNAT rules (its default snat: true): hairpin traffic and,
                    # over IPv4 only, traffic from localhost are masqueraded, so that a
                    # client on the node itself reaches the hostPort at 127.0.0.1.
                    sources = [ip] if v6 else [ip, "127.0.0.1"]
                    lines += [f"{match} -s {source} -j KUBE-MARK-MASQ" for source in sources]
                    lines.append(f"{match} -j DNAT --to-destination {target}")
        return lines, chains

    def _apply(self, v6: bool, rules: tuple[list[str], set[str]]) -> None:
        tool = self.tools[v6]
        assert tool
        self._chains[v6] = restore(
            tool, "nat", BASE_CHAINS, rules, self._chains[v6], self._last, v6
        )


def restore(
    tool: str,
    table: str,
    base: tuple[str, ...],
    rules: tuple[list[str], set[str]],
    previous: set[str],
    last: dict[bool, str],
    v6: bool,
) -> set[str]:
    """Replace our chains in `table` in one iptables-restore --noflush transaction.

    Declaring a chain flushes it; chains we made before and no longer need are
    deleted. `last` remembers the payload per family, so an unchanged rule set costs
    nothing. Returns the chains now programmed.
    """
    lines, chains = rules
    stale = previous - chains
    payload = "\n".join(
        [
            f"*{table}",
            *(f":{c} - [0:0]" for c in (*base, *sorted(chains | stale))),
            *lines,
            *(f"-X {c}" for c in sorted(stale)),
            "COMMIT",
            "",
        ]
    )
    if payload == last.get(v6):
        return chains
    command = f"{tool}-restore"  # iptables-legacy -> iptables-legacy-restore
    proc = subprocess.run(
        [command, "-w", "--noflush"], input=payload, text=True, capture_output=True, timeout=30
    )
    if proc.returncode:
        raise RuntimeError(f"{command}: {proc.stderr.strip()}")
    last[v6] = payload
    return chains
