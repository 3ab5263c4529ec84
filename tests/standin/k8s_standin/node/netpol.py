"""NetworkPolicy enforcement (networking.k8s.io/v1), as kube-router's controller does it.

k3s runs kube-router's network policy controller next to flannel; k0s runs
kube-router. Both enforce policies with iptables in the filter table on the node
where the selected pod runs. This controller does the same in netns pod-network
mode, for IPv4 (iptables) and IPv6 (ip6tables):

- FORWARD jumps to KUBE-ROUTER-FORWARD. Pod-to-pod traffic on one node is bridged
  on cni0 and reaches FORWARD only through br_netfilter
  (`net.bridge.bridge-nf-call-iptables`, per network namespace on current kernels
  and on by default there; podnet.py sets it). Routed traffic (other nodes,
  Service traffic after kube-proxy's DNAT) reaches FORWARD anyway, after DNAT, so
  policies see the endpoint pod's address and port, as with kube-router.
- Replies of allowed connections pass (conntrack RELATED,ESTABLISHED).
- A local pod selected by a policy whose policyTypes include Ingress gets a
  KUBE-POD-IN-* chain (`-d <pod IP>`): one RETURN per allowed (source, port)
  pair, then REJECT. Egress likewise with KUBE-POD-OUT-* (`-s <pod IP>`).
  Sources and destinations: podSelector in the policy's namespace,
  namespaceSelector, both combined, ipBlock with `except` (expanded to the CIDRs
  that remain); ports: protocol, number or name (resolved on the selected pod
  for ingress, on the peer pods for egress), endPort.
- Traffic between a pod and its own node never passes FORWARD (INPUT/OUTPUT), so
  it stays allowed, as upstream documents ("traffic to and from the node where a
  Pod is running is always allowed"). hostNetwork pods are neither selected nor
  matched by pod selectors.

Where br_netfilter is neither built in nor loaded (no /proc/sys/net/bridge; real
k3s modprobes it, the stand-in cannot), frames between pods on one node never reach
iptables: a warning says so and only routed traffic is filtered. kube-proxy
(proxy.py) SNATs Service traffic only from outside the cluster CIDR, so policies see
the client pod's address across nodes too (every Service connection is SNATed only
where br_netfilter is inactive).

Not modelled: the NFLOG/logging kube-router adds, policies on hostNetwork pods,
and anything in host pod-network mode (pods share the node's stack there, so
nothing can tell them apart; a warning says so once).
"""

from __future__ import annotations

import hashlib
import ipaddress
import subprocess
from pathlib import Path
from typing import Any

from ..config import NodeConfig
from ..selectors import match_labels
from .client import Client
from .endpoints import pod_ips
from .podnet import PodNetwork
from .proxy import find_iptables, restore
from .util import Obj, log

TOP = "KUBE-ROUTER-FORWARD"
JUMP = ["-m", "comment", "--comment", "kube-router netpol", "-j", TOP]
Net = Any  # ipaddress.IPv4Network | ipaddress.IPv6Network


def selects(selector: Obj | None, labels: dict[str, str] | None) -> bool:
    """LabelSelector semantics where an empty selector ({}) selects everything."""
    if selector is None:
        return False
    if not (selector.get("matchLabels") or selector.get("matchExpressions")):
        return True
    return match_labels(selector, labels or {})


def policy_types(policy: Obj) -> list[str]:
    spec = policy.get("spec") or {}
    types = spec.get("policyTypes")
    if types:
        return list(types)
    # The API server defaults this; kept here for objects stored before defaulting.
    return ["Ingress", *(["Egress"] if spec.get("egress") else [])]


def _chain(prefix: str, *parts: str) -> str:
    """A chain name within iptables' 28 characters."""
    digest = hashlib.sha256("/".join(parts).encode()).hexdigest().upper()
    return f"{prefix}-{digest[: 28 - len(prefix) - 1]}"


def _ip(pod: Obj, v6: bool) -> str | None:
    return next((ip for ip in pod_ips(pod) if (":" in ip) == v6), None)


def _live(pod: Obj) -> bool:
    return not pod["spec"].get("hostNetwork") and (pod.get("status") or {}).get("phase") not in (
        "Succeeded",
        "Failed",
    )


class Model:
    """Cluster state one rendering pass needs: pods, namespaces' labels, the family."""

    def __init__(self, pods: list[Obj], namespaces: list[Obj], v6: bool) -> None:
        self.v6 = v6
        self.pods = [p for p in pods if _live(p) and _ip(p, v6)]
        self.ns_labels = {
            n["metadata"]["name"]: n["metadata"].get("labels") or {} for n in namespaces
        }

    def host(self, ip: str) -> Net:
        return ipaddress.ip_network(ip)

    def peers(self, policy: Obj, peers: list[Obj] | None) -> list[Net] | None:
        """The networks a rule's from/to names; None means any address."""
        if not peers:
            return None
        nets: list[Net] = []
        own_ns = policy["metadata"]["namespace"]
        for peer in peers:
            block = peer.get("ipBlock")
            if block:
                cidr = ipaddress.ip_network(block["cidr"], strict=False)
                if (cidr.version == 6) != self.v6:
                    continue
                remaining = [cidr]
                for text in block.get("except") or []:
                    cut = ipaddress.ip_network(text, strict=False)
                    remaining = [
                        part
                        for net in remaining
                        for part in (
                            net.address_exclude(cut)
                            if cut.version == net.version and cut.subnet_of(net)
                            else [net]
                        )
                    ]
                nets.extend(remaining)
                continue
            ns_selector = peer.get("namespaceSelector")
            pod_selector = peer.get("podSelector")
            for pod in self.pods:
                ns = pod["metadata"]["namespace"]
                if ns_selector is not None:
                    if not selects(ns_selector, self.ns_labels.get(ns)):
                        continue
                elif ns != own_ns:
                    continue
                if pod_selector is not None and not selects(
                    pod_selector, pod["metadata"].get("labels")
                ):
                    continue
                nets.append(self.host(_ip(pod, self.v6) or ""))
        return sorted(set(nets))

    def named_port(self, pod: Obj, name: str, protocol: str) -> int | None:
        for container in pod["spec"].get("containers") or []:
            for port in container.get("ports") or []:
                if port.get("name") == name and port.get("protocol", "TCP") == protocol:
                    return int(port["containerPort"])
        return None

    def matches(
        self, policy: Obj, rule: Obj, peer_key: str, target: Obj | None
    ) -> list[tuple[Net | None, str]]:
        """(network or None, port match) pairs one ingress/egress rule allows.

        `target` is the selected pod for ingress (named ports resolve on it); None
        for egress, where named ports resolve on each destination pod.
        """
        nets = self.peers(policy, rule.get(peer_key))
        if nets is not None and not nets:
            return []  # the rule names peers, and none exist: it allows nothing
        where: list[Net | None] = [None] if nets is None else list(nets)
        out: list[tuple[Net | None, str]] = []
        for port in rule.get("ports") or [None]:
            if port is None:
                out.extend((net, "") for net in where)
                continue
            proto = port.get("protocol", "TCP").lower()
            number = port.get("port")
            base = f"-p {proto} -m {proto}"
            if number is None:
                out.extend((net, f"-p {proto}") for net in where)
            elif isinstance(number, int) or str(number).isdigit():
                end = port.get("endPort")
                span = f"{number}:{end}" if end else f"{number}"
                out.extend((net, f"{base} --dport {span}") for net in where)
            elif target is not None:
                resolved = self.named_port(target, str(number), proto.upper())
                if resolved:
                    out.extend((net, f"{base} --dport {resolved}") for net in where)
            else:
                for pod in self.pods:
                    ip = self.host(_ip(pod, self.v6) or "")
                    if nets is not None and not any(ip.subnet_of(n) for n in nets):
                        continue
                    resolved = self.named_port(pod, str(number), proto.upper())
                    if resolved:
                        out.append((ip, f"{base} --dport {resolved}"))
        return out


def render(
    policies: list[Obj], pods: list[Obj], namespaces: list[Obj], node: str, v6: bool
) -> tuple[list[str], set[str]]:
    """The filter-table lines (iptables-restore syntax) and per-pod chains for one family."""
    model = Model(pods, namespaces, v6)
    lines = [f"-A {TOP} -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN"]
    chains: set[str] = set()
    for pod in model.pods:
        if pod["spec"].get("nodeName") != node:
            continue
        ip, meta = _ip(pod, v6) or "", pod["metadata"]
        host = f"{ip}/128" if v6 else f"{ip}/32"
        selecting = [
            p
            for p in policies
            if p["metadata"]["namespace"] == meta["namespace"]
            and selects((p.get("spec") or {}).get("podSelector") or {}, meta.get("labels"))
        ]
        for kind, prefix, match, peer_key, flag in (
            ("Ingress", "KUBE-POD-IN", "-d", "from", "-s"),
            ("Egress", "KUBE-POD-OUT", "-s", "to", "-d"),
        ):
            applied = [p for p in selecting if kind in policy_types(p)]
            if not applied:
                continue
            chain = _chain(prefix, meta["namespace"], meta["name"], meta.get("uid", ""), str(v6))
            chains.add(chain)
            comment = f'-m comment --comment "{kind.lower()} of {meta["namespace"]}/{meta["name"]}"'
            lines.append(f"-A {TOP} {match} {host} {comment} -j {chain}")
            seen: set[str] = set()
            for policy in applied:
                for rule in (policy.get("spec") or {}).get(kind.lower()) or []:
                    target = pod if kind == "Ingress" else None
                    for net, ports in model.matches(policy, rule or {}, peer_key, target):
                        line = " ".join(
                            part
                            for part in (f"-A {chain}", f"{flag} {net}" if net else "", ports)
                            if part
                        )
                        if line not in seen:
                            seen.add(line)
                            lines.append(f"{line} -j RETURN")
            lines.append(f"-A {chain} -j REJECT")
    return lines, chains


def _bridged_traffic_filtered() -> bool:
    """Whether frames bridged on cni0 go through iptables (br_netfilter, per netns)."""
    try:
        return Path("/proc/sys/net/bridge/bridge-nf-call-iptables").read_text().strip() == "1"
    except OSError:
        return False  # br_netfilter not built in and not loaded: nothing to switch on


class NetworkPolicyController:
    def __init__(self, client: Client, config: NodeConfig, network: PodNetwork) -> None:
        self.client, self.config, self.network = client, config, network
        self.tools: dict[bool, str | None] = {}
        self._last: dict[bool, str] = {}
        self._chains: dict[bool, set[str]] = {False: set(), True: set()}
        self._warned = False

    def step(self) -> None:
        if self.network.mode != "netns":
            if not self._warned and self.client.list("networkpolicies"):
                log.warning("NetworkPolicies are not enforced in host pod-network mode")
                self._warned = True
            return
        policies = self.client.list("networkpolicies")
        if policies and not self._warned and not _bridged_traffic_filtered():
            log.warning(
                "br_netfilter is not active in this network namespace: NetworkPolicies "
                "apply to routed traffic only, not between pods on this node"
            )
            self._warned = True
        pods = self.client.list("pods")
        namespaces = self.client.list("namespaces")
        families = [False] + (
            [True] if self.config.node_ipv6 and not self.config.faults.no_ipv6 else []
        )
        for v6 in families:
            if v6 not in self.tools:
                self.tools[v6] = find_iptables(v6)
                if self.tools[v6] is None:
                    log.warning("network policy: no working %s", "ip6tables" if v6 else "iptables")
                else:
                    self._ensure_jump(v6)
            if self.tools[v6]:
                self._apply(v6, render(policies, pods, namespaces, self.config.node_name, v6))

    def _ensure_jump(self, v6: bool) -> None:
        tool = self.tools[v6]
        assert tool
        subprocess.run([tool, "-w", "-t", "filter", "-N", TOP], capture_output=True)
        if subprocess.run(
            [tool, "-w", "-t", "filter", "-C", "FORWARD", *JUMP], capture_output=True
        ).returncode:
            subprocess.run(
                [tool, "-w", "-t", "filter", "-I", "FORWARD", "1", *JUMP],
                capture_output=True,
                check=True,
            )

    def _apply(self, v6: bool, rules: tuple[list[str], set[str]]) -> None:
        tool = self.tools[v6]
        assert tool
        self._chains[v6] = restore(tool, "filter", (TOP,), rules, self._chains[v6], self._last, v6)
