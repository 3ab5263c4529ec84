"""Unit tests of the stand-in node side's pure pieces (no server, no processes)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
from k8s_standin.config import NodeConfig
from k8s_standin.faults import Faults
from k8s_standin.node import commands, images, ipam, netpol, proxy, scheduler
from k8s_standin.node.ingress import Routes
from k8s_standin.node.util import matches, stable_hash


def test_command_and_args_follow_the_cri_rules(tmp_path: Path) -> None:
    """command replaces ENTRYPOINT (and drops CMD), args replace CMD (containerd's CRI
    WithProcessArgs)."""
    bb = tmp_path / "bin"
    argv = commands.container_argv
    # busybox: no ENTRYPOINT, CMD ["sh"]
    assert argv({"image": "busybox:1.36"}, {}, bb) == [f"{bb}/sh"]
    assert argv({"image": "busybox", "args": ["sh", "-c", "echo hi"]}, {}, bb) == [
        f"{bb}/sh",
        "-c",
        "echo hi",
    ]
    # args without command run with the ENTRYPOINT, which busybox has none of.
    assert argv({"image": "busybox", "args": ["-c", "true"]}, {}, bb) == ["-c", "true"]
    assert argv({"image": "busybox", "command": ["/bin/sh"], "args": ["-c", "x"]}, {}, bb)[0] == (
        f"{bb}/sh"
    )
    # nginx: ENTRYPOINT /docker-entrypoint.sh, CMD nginx -g "daemon off;"
    entry = argv({"image": "nginx:1.27", "args": ["echo", "hi"]}, {}, bb)
    assert entry[:2] == ["sh", "-c"] and entry[3:] == ["/docker-entrypoint.sh", "echo", "hi"]
    assert argv({"image": "nginx"}, {}, bb)[-3:] == ["nginx", "-g", "daemon off;"]
    assert argv({"image": "nginx", "command": ["sleep", "1"]}, {}, bb) == ["sleep", "1"]
    assert argv({"image": "registry.k8s.io/pause:3.9"})[-1] == "infinity"
    for container in ({"image": "example.com/app:1"}, {"image": "example.com/app", "args": ["a"]}):
        with pytest.raises(commands.NoCommand):
            argv(container)
    assert argv({"image": "example.com/app", "command": ["/app"], "args": ["-v"]}) == ["/app", "-v"]


@pytest.mark.parametrize(
    ("text", "expanded"),
    [
        ("$(VAR)", "value"),
        ("x$(VAR)y$(VAR)", "xvalueyvalue"),
        ("$$(VAR)", "$(VAR)"),
        ("$$$(VAR)", "$value"),
        ("$(UNSET)", "$(UNSET)"),
        ("$(VAR", "$(VAR"),
        ("$VAR", "$VAR"),
        ("$$", "$"),
        ("a$", "a$"),
        ("$()", "$()"),
        ("$(EMPTY)!", "!"),
    ],
)
def test_command_expansion_is_upstreams(text: str, expanded: str) -> None:
    """third_party/forked/golang/expansion: $(VAR), $$ escapes, unknown references kept."""
    env = {"VAR": "value", "EMPTY": ""}
    assert commands.expand(text, env) == expanded
    container = {"image": "busybox", "command": ["echo", text]}
    assert commands.container_argv(container, env)[-1] == expanded


@pytest.mark.skipif(shutil.which("busybox") is None, reason="needs busybox")
def test_busybox_images_have_the_applets_and_a_wget_with_timeouts(tmp_path: Path) -> None:
    bb = images.busybox_bin(tmp_path / "bin")
    assert bb is not None
    for applet in ("sh", "httpd", "nc", "nslookup", "wget", "busybox"):
        assert os.access(bb / applet, os.X_OK), applet
    assert commands.image_path("busybox:1.36", bb).split(":")[0] == str(bb)
    assert str(bb) not in commands.image_path("debian", bb)
    # Debian's busybox segfaults on wget -T; through the wrapper it is a timeout.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # accepts, never answers
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
        for wget in ([str(bb / "wget")], [str(bb / "busybox"), "wget"]):
            done = subprocess.run([*wget, "-q", "-T", "1", "-O-", url], capture_output=True)
            assert done.returncode == 1, done
            assert b"timed out" in done.stderr


def test_label_selectors() -> None:
    sel = {
        "matchLabels": {"app": "a"},
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["web"]}],
    }
    assert matches(sel, {"app": "a", "tier": "web"})
    assert not matches(sel, {"app": "a", "tier": "db"})
    assert not matches({}, {"app": "a"}), "an empty selector selects nothing here"
    assert stable_hash({"a": 1}) == stable_hash({"a": 1}) != stable_hash({"a": 2})


def test_node_ipam_subnets() -> None:
    assert ipam._subnet("10.42.0.0/16", 3) == "10.42.3.0/24"
    assert ipam._subnet("2001:cafe:42::/56", 1) == "2001:cafe:42:1::/64"
    # k0s's /117 per node inside its fd00::/108 example range.
    assert ipam._subnet("fd00::/108", 1, ipam.IPV6_NODE_MASK["k0s"]) == "fd00::800/117"


def test_scheduler_taints_and_affinity() -> None:
    node = {
        "metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1"}},
        "spec": {"taints": [{"key": "dedicated", "effect": "NoSchedule"}]},
    }
    assert not scheduler.tolerates({"spec": {}}, node)
    assert scheduler.tolerates({"spec": {"tolerations": [{"operator": "Exists"}]}}, node)
    affinity = {
        "required": {
            "nodeSelectorTerms": [
                {
                    "matchExpressions": [
                        {"key": "kubernetes.io/hostname", "operator": "In", "values": ["n2"]}
                    ]
                }
            ]
        }
    }
    assert not scheduler.node_affinity_ok(affinity, node)


def _config(**kw: Any) -> NodeConfig:
    from pathlib import Path

    return NodeConfig(
        flavor="k3s",
        version="v1.36.5+k3s1",
        data_dir=Path("/tmp/x"),
        api_url="https://127.0.0.1:6443",
        kubeconfig_path=Path("/tmp/kc"),
        node_name="n1",
        node_ip="10.0.0.5",
        **kw,
    )


def test_proxy_rules_dnat_to_ready_endpoints() -> None:
    p = proxy.Proxy.__new__(proxy.Proxy)
    p.config = _config(faults=Faults())
    svc = {
        "metadata": {"namespace": "default", "name": "web"},
        "spec": {
            "clusterIP": "10.43.0.20",
            "clusterIPs": ["10.43.0.20"],
            "selector": {"app": "web"},
            "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080}],
        },
    }

    def pod(ip: str, ready: bool) -> dict[str, Any]:
        return {
            "metadata": {"namespace": "default", "name": ip, "labels": {"app": "web"}},
            "spec": {"nodeName": "n1", "containers": []},
            "status": {
                "podIP": ip,
                "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            },
        }

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
    routes.rules = [
        ("", "Prefix", "/", {"n": "default"}, "ns"),
        ("a.example", "Prefix", "/api", {"n": "api"}, "ns"),
        ("a.example", "Exact", "/api/v1", {"n": "exact"}, "ns"),
        ("*.wild.example", "Prefix", "/", backend, "ns"),
    ]
    assert routes.match("a.example", "/api/x") == ({"n": "api"}, "ns")
    assert routes.match("a.example:8080", "/api/v1") == ({"n": "exact"}, "ns")
    assert routes.match("a.example", "/apix") == ({"n": "default"}, "ns")
    assert routes.match("b.wild.example", "/z") == (backend, "ns")
    assert routes.match("c.b.wild.example", "/z") == ({"n": "default"}, "ns")


def _pod(name: str, ns: str, ip: str, labels: dict[str, str], node: str = "n1") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": ns, "uid": name, "labels": labels},
        "spec": {
            "nodeName": node,
            "containers": [{"name": "c", "ports": [{"name": "http", "containerPort": 8080}]}],
        },
        "status": {"phase": "Running", "podIP": ip},
    }


def test_network_policy_rules() -> None:
    pods = [
        _pod("web", "a", "10.42.0.5", {"app": "web"}),
        _pod("fe", "a", "10.42.0.6", {"role": "fe"}),
        _pod("far", "b", "10.42.1.7", {"role": "fe"}, node="n2"),
        _pod("host", "a", "10.0.0.1", {"role": "fe"}) | {"spec": {"hostNetwork": True}},
    ]
    namespaces = [
        {"metadata": {"name": "a", "labels": {"kubernetes.io/metadata.name": "a"}}},
        {"metadata": {"name": "b", "labels": {"team": "x"}}},
    ]
    policy = {
        "metadata": {"name": "p", "namespace": "a"},
        "spec": {
            "podSelector": {"matchLabels": {"app": "web"}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {
                    "from": [
                        {"podSelector": {"matchLabels": {"role": "fe"}}},
                        {"namespaceSelector": {"matchLabels": {"team": "x"}}},
                        {"ipBlock": {"cidr": "192.168.0.0/16", "except": ["192.168.1.0/24"]}},
                    ],
                    "ports": [
                        {"port": "http", "protocol": "TCP"},
                        {"port": 9000, "endPort": 9010, "protocol": "UDP"},
                    ],
                }
            ],
            "egress": [{"to": [{"podSelector": {}}], "ports": [{"port": "http"}]}],
        },
    }
    lines, chains = netpol.render([policy], pods, namespaces, "n1", v6=False)
    text = "\n".join(lines)
    assert len(chains) == 2  # web's ingress and egress chains; other pods are not selected
    assert all(len(c) <= 28 for c in chains)
    inbound = next(c for c in chains if c.startswith("KUBE-POD-IN"))
    assert "-A KUBE-ROUTER-FORWARD -d 10.42.0.5/32" in text
    assert f"-A {inbound} -s 10.42.0.6/32 -p tcp -m tcp --dport 8080 -j RETURN" in text
    assert f"-A {inbound} -s 10.42.1.7/32 -p udp -m udp --dport 9000:9010 -j RETURN" in text
    assert "10.0.0.1" not in text  # hostNetwork pods are neither selected nor peers
    assert "192.168.1.0/24" not in text and "192.168.0.0/24" in text and "192.168.128.0/17" in text
    assert lines[-1].endswith("-j REJECT")
    # Egress with a named port resolves on each destination pod in the namespace.
    outbound = next(c for c in chains if c.startswith("KUBE-POD-OUT"))
    assert f"-A {outbound} -d 10.42.0.6/32 -p tcp -m tcp --dport 8080 -j RETURN" in text
    assert "-d 10.42.1.7/32" not in text  # another namespace
    # A rule whose peers match nothing allows nothing; no policies, no chains.
    policy["spec"]["ingress"][0]["from"] = [{"podSelector": {"matchLabels": {"x": "y"}}}]
    lines, _ = netpol.render([policy], pods, namespaces, "n1", v6=False)
    assert not [line for line in lines if line.startswith(f"-A {inbound} -s")]
    assert netpol.render([], pods, namespaces, "n1", v6=False)[1] == set()


def test_pod_ips_are_handed_out_after_the_last_reserved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """host-local IPAM: a freed address is not the next one given out, and teardown removes
    the pod's namespace (its veth and addresses) before the lease is released."""
    from k8s_standin.node import podnet

    monkeypatch.setenv("STANDIN_ROOT", str(tmp_path))
    monkeypatch.setenv("STANDIN_POD_NETWORK", "netns")
    net = podnet.PodNetwork(_config())
    a = net._allocate("10.42.0.0/24", "a")
    b = net._allocate("10.42.0.0/24", "b")
    assert (a, b) == ("10.42.0.2", "10.42.0.3")
    assert net._allocate("10.42.0.0/24", "a") == a  # idempotent per pod
    leases = tmp_path / "var/lib/cni/networks/cbr0"
    calls: list[tuple[tuple[str, ...], bool]] = []
    monkeypatch.setattr(net, "_netns_exists", lambda ns: True)
    monkeypatch.setattr(
        podnet, "sh", lambda *argv, check=True: calls.append((argv, (leases / a).exists()))
    )
    net.teardown("a")
    assert calls == [(("ip", "netns", "del", "cni-a"), True)]  # lease still held then
    assert not (leases / a).exists()
    assert net._allocate("10.42.0.0/24", "c") == "10.42.0.4"  # not a's address again
    # The search wraps around the range and skips leases still held.
    (leases / "last_reserved_ip.0").write_text("10.42.0.254")
    assert net._allocate("10.42.0.0/24", "d") == "10.42.0.2"
    assert net._allocate("fd42::/64", "e", 1) == "fd42::2"


def test_network_policy_rules_ipv6() -> None:
    web = _pod("web", "a", "10.42.0.5", {"app": "web"})
    web["status"]["podIPs"] = [{"ip": "10.42.0.5"}, {"ip": "fd42::5"}]
    fe = _pod("fe", "a", "10.42.0.6", {"role": "fe"})
    fe["status"]["podIPs"] = [{"ip": "10.42.0.6"}, {"ip": "fd42::6"}]
    policy = {
        "metadata": {"name": "p", "namespace": "a"},
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [
                        {"podSelector": {"matchLabels": {"role": "fe"}}},
                        {"ipBlock": {"cidr": "10.0.0.0/8"}},
                        {"ipBlock": {"cidr": "fd00::/8", "except": ["fd42::/64"]}},
                    ]
                }
            ],
        },
    }
    lines, chains = netpol.render([policy], [web, fe], [], "n1", v6=True)
    text = "\n".join(lines)
    assert len(chains) == 2  # an empty podSelector selects every pod in the namespace
    assert "-d fd42::5/128" in text and "-s fd42::6/128" in text
    assert "10.0.0.0/8" not in text and "fd42::/64 " not in text and "fd80::/9" in text


def test_svclb_forwarder_targets_cluster_ips_and_keeps_endpoints_when_api_is_down() -> None:
    from k8s_standin.node.forward import Backends, ClusterIPs

    # klipper-lb: DEST_IPS:DEST_PORT of the connection's family, fixed at start.
    dest = ClusterIPs(["10.43.0.10", "fd43::10"], 8443)
    assert dest.pick() == ("10.43.0.10", 8443)
    assert dest.pick(v6=True) == ("fd43::10", 8443)

    class Flaky:
        up = True

    backends = Backends(Flaky(), "default", "web", 80)  # type: ignore[arg-type]
    backends._lookup = lambda: [("10.42.0.5", 8080)] if Flaky.up else 1 / 0  # type: ignore
    backends.refresh()
    Flaky.up = False
    backends.refresh()  # an API outage must not empty the list (informer cache semantics)
    assert backends.pick() == ("10.42.0.5", 8080)


def test_adopted_container_keeps_its_readiness_until_a_probe_decides() -> None:
    from k8s_standin.node.probes import Prober

    prober = Prober()
    probe = {"exec": {"command": ["false"]}, "periodSeconds": 1, "failureThreshold": 1}
    assert prober.check(("u", "c", "readiness"), probe, {}, "127.0.0.1", [], 0.0, initial=True).ok
    assert not prober.check(("v", "c", "readiness"), probe, {}, "127.0.0.1", [], 0.0).ok
    prober.pool.shutdown(wait=True)


def test_proxy_masquerades_only_traffic_from_outside_the_cluster_cidr() -> None:
    """kube-proxy with --cluster-cidr: pods keep their source address through a ClusterIP
    (NetworkPolicy sees it); the node and outside clients, hairpin and NodePort traffic
    are marked for SNAT."""
    p = proxy.Proxy.__new__(proxy.Proxy)
    p.config = _config(faults=Faults())
    svc = {
        "metadata": {"namespace": "default", "name": "web"},
        "spec": {
            "clusterIP": "10.43.0.20",
            "clusterIPs": ["10.43.0.20"],
            "selector": {"app": "web"},
            "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080}],
        },
    }
    pod = {
        "metadata": {"namespace": "default", "name": "w", "labels": {"app": "web"}},
        "spec": {"nodeName": "n1", "containers": []},
        "status": {"podIP": "10.42.0.7", "conditions": [{"type": "Ready", "status": "True"}]},
    }
    lines, chains = p._rules(False, [svc], [pod])
    marks = [line for line in lines if line.endswith("-j KUBE-MARK-MASQ")]
    svc_chain = next(c for c in chains if c.startswith("KUBE-SVC-"))
    ext_chain = next(c for c in chains if c.startswith("KUBE-EXT-"))
    sep_chain = next(c for c in chains if c.startswith("KUBE-SEP-"))
    assert [m for m in marks if m.startswith(f"-A {svc_chain} ")] == [
        f'-A {svc_chain} -d 10.43.0.20/32 -p tcp -m comment --comment "default/web:" '
        "--dport 80 ! -s 10.42.0.0/16 -j KUBE-MARK-MASQ"
    ]
    assert f"-A {sep_chain} -s 10.42.0.7/32 -j KUBE-MARK-MASQ" in marks
    assert f"-A {ext_chain} -j KUBE-MARK-MASQ" in marks
    assert f"-A {ext_chain} -j {svc_chain}" in lines
    assert any(
        line.startswith("-A KUBE-NODEPORTS") and line.endswith(f"-j {ext_chain}") for line in lines
    )
    # Without br_netfilter replies on the bridge would skip conntrack: SNAT everything.
    p.masquerade_all = True
    lines, _ = p._rules(False, [svc], [pod])
    assert f"-A {svc_chain} -j KUBE-MARK-MASQ" in lines
