"""Netns pod networking, exercised on this host inside a throwaway network namespace.

`k8s_standin.node.selfcheck` runs under `unshare --net --mount`, so the bridge,
pod namespaces and iptables rules exist only in the sandbox and vanish with it.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

STANDIN = Path(__file__).parent / "standin"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(t) for t in ("unshare", "ip", "iptables")),
    reason="needs root, unshare, ip and iptables to build a network namespace sandbox",
)


@pytest.mark.parametrize(
    ("proxy_mode", "dual"),
    [("iptables", False), ("userspace", False), ("iptables", True), ("userspace", True)],
)
def test_pods_get_namespaces_dns_and_cluster_ips(
    tmp_path: Path, proxy_mode: str, dual: bool
) -> None:
    env = {**os.environ, "PYTHONPATH": str(STANDIN)}
    proc = subprocess.run(
        [
            "unshare",
            "--net",
            "--mount",
            "--propagation",
            "private",
            sys.executable,
            "-m",
            "k8s_standin.node.selfcheck",
            str(tmp_path / "sandbox"),
            proxy_mode,
            *(["dual"] if dual else []),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["inPodCIDR"], result
    assert ipaddress.ip_address(result["webIP"]) in ipaddress.ip_network("10.42.0.0/16")
    assert result["webIP"] != result["clientIP"]
    # The client pod resolved the Service through kube-dns's ClusterIP and reached it.
    assert result["fromPod"] and result["fromPod"].startswith(
        f"RESULT {result['clusterIP']} web:web-"
    ), result
    assert result["fromNode"] and result["fromNode"].startswith("web:web-"), result
    if dual:
        assert [ip for ip in result["webIPs"] if ":" in ip], result
        assert result.get("fromPod6", "").startswith("RESULT6 fd43::"), result
    # iptables mode programs kube-proxy's chains; the userspace fallback must not need them.
    assert result["kubeChains"] == (proxy_mode == "iptables")


def test_network_policies_are_enforced(tmp_path: Path) -> None:
    """kube-router's semantics in the node's netns: ingress by pod and namespace selector
    with a named port, egress by ipBlock with `except`, and all open again once deleted."""
    env = {**os.environ, "PYTHONPATH": str(STANDIN)}
    proc = subprocess.run(
        [
            "unshare",
            "--net",
            "--mount",
            "--propagation",
            "private",
            sys.executable,
            "-m",
            "k8s_standin.node.selfcheck",
            str(tmp_path / "sandbox"),
            "netpol",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result.get("baseline"), result
    assert result.get("enforced") == {
        "default/allowed": ["OK", "OK"],
        "default/denied": ["FAIL", "FAIL"],
        "other/peer": ["OK", "OK"],
        "other/stranger": ["FAIL", "FAIL"],
        "default/egress": ["FAIL", "FAIL"],
    }, json.dumps(result, indent=1)[-8000:]
    assert result.get("lifted"), result
