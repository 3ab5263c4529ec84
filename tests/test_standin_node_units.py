"""Unit tests of the stand-in node side's pure pieces (no server, no processes)."""

from __future__ import annotations

from typing import Any

import pytest
from k8s_standin.config import NodeConfig
from k8s_standin.faults import Faults
from k8s_standin.node import commands, ipam, proxy, scheduler
from k8s_standin.node.ingress import Routes
from k8s_standin.node.util import matches, stable_hash


def test_default_commands_and_unknown_images() -> None:
    assert commands.container_argv({"image": "busybox:1.36", "args": ["-c", "true"]})[-2:] == [
        "-c", "true"]
    assert commands.container_argv({"image": "registry.k8s.io/pause:3.9"})[-1] == "infinity"
    with pytest.raises(commands.NoCommand):
        commands.container_argv({"image": "example.com/app:1"})


def test_label_selectors() -> None:
    sel = {"matchLabels": {"app": "a"},
           "matchExpressions": [{"key": "tier", "operator": "In", "values": ["web"]}]}
    assert matches(sel, {"app": "a", "tier": "web"})
    assert not matches(sel, {"app": "a", "tier": "db"})
    assert not matches({}, {"app": "a"}), "an empty selector selects nothing here"
    assert stable_hash({"a": 1}) == stable_hash({"a": 1}) != stable_hash({"a": 2})


def test_node_ipam_subnets() -> None:
    assert ipam._subnet("10.42.0.0/16", 3) == "10.42.3.0/24"
    assert ipam._subnet("2001:cafe:42::/56", 1) == "2001:cafe:42:1::/64"


def test_scheduler_taints_and_affinity() -> None:
    node = {"metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1"}},
            "spec": {"taints": [{"key": "dedicated", "effect": "NoSchedule"}]}}
    assert not scheduler.tolerates({"spec": {}}, node)
    assert scheduler.tolerates({"spec": {"tolerations": [{"operator": "Exists"}]}}, node)
    affinity = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
        {"key": "kubernetes.io/hostname", "operator": "In", "values": ["n2"]}]}]}}
    assert not scheduler.node_affinity_ok(affinity, node)


def _config(**kw: Any) -> NodeConfig:
    from pathlib import Path

    return NodeConfig(flavor="k3s", version="v1.33.6+k3s1", data_dir=Path("/tmp/x"),
                      api_url="https://127.0.0.1:6443", kubeconfig_path=Path("/tmp/kc"),
                      node_name="n1", node_ip="10.0.0.5", **kw)


def test_proxy_rules_dnat_to_ready_endpoints() -> None:
    p = proxy.Proxy.__new__(proxy.Proxy)
    p.config = _config(faults=Faults())
    svc = {"metadata": {"namespace": "default", "name": "web"},
           "spec": {"clusterIP": "10.43.0.20", "clusterIPs": ["10.43.0.20"],
                    "selector": {"app": "web"},
                    "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080}]}}

    def pod(ip: str, ready: bool) -> dict[str, Any]:
        return {"metadata": {"namespace": "default", "name": ip, "labels": {"app": "web"}},
                "spec": {"nodeName": "n1", "containers": []},
                "status": {"podIP": ip, "conditions": [
                    {"type": "Ready", "status": "True" if ready else "False"}]}}

    lines, chains = p._rules(False, [svc], [pod("10.42.0.7", True), pod("10.42.0.8", False)])
    text = "\n".join(lines)
    assert "-d 10.43.0.20/32 -p tcp" in text and "--dport 80" in text
    assert "DNAT --to-destination 10.42.0.7:8080" in text
    assert "10.42.0.8" not in text, "not-ready pods get no traffic"
    assert "-A KUBE-NODEPORTS -p tcp" in text and "--dport 30080" in text
    assert len([c for c in chains if c.startswith("KUBE-SEP-")]) == 1


def test_ingress_matching_prefers_host_and_longest_path() -> None:
    routes = Routes.__new__(Routes)
    backend = {"service": {"name": "s", "port": {"number": 80}}}
    routes.rules = [("", "Prefix", "/", {"n": "default"}, "ns"),
                    ("a.example", "Prefix", "/api", {"n": "api"}, "ns"),
                    ("a.example", "Exact", "/api/v1", {"n": "exact"}, "ns"),
                    ("*.wild.example", "Prefix", "/", backend, "ns")]
    assert routes.match("a.example", "/api/x") == ({"n": "api"}, "ns")
    assert routes.match("a.example:8080", "/api/v1") == ({"n": "exact"}, "ns")
    assert routes.match("a.example", "/apix") == ({"n": "default"}, "ns")
    assert routes.match("b.wild.example", "/z") == (backend, "ns")
    assert routes.match("c.b.wild.example", "/z") == ({"n": "default"}, "ns")
