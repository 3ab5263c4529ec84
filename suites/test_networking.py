"""Networking: the CNI the profile names runs, pods reach pods and Services, and
NetworkPolicy is enforced where the profile claims it (and not where it does not)."""

from __future__ import annotations

import json
from typing import Any

from pytest_k8sdistro.suite import WGET, Distro, Kube, Workloads, expect, fail

#: How each CNI shows itself: kube-system DaemonSet names, node annotation prefixes,
#: and words in the CNI configuration the kubelet reads.
SIGNS: dict[str, dict[str, tuple[str, ...]]] = {
    "flannel": {
        "daemonsets": ("kube-flannel", "kube-flannel-ds"),
        "annotations": ("flannel.alpha.coreos.com/",),
        "config": ('"type": "flannel"', '"type":"flannel"'),
    },
    "kube-router": {
        "daemonsets": ("kube-router",),
        "annotations": ("kube-router.io/",),
        "config": ("kube-bridge", "kuberouter"),
    },
    "calico": {
        "daemonsets": ("calico-node",),
        "annotations": ("projectcalico.org/",),
        "config": ('"type": "calico"', '"type":"calico"'),
    },
    "cilium": {
        "daemonsets": ("cilium",),
        "annotations": ("io.cilium.",),
        "config": ('"type": "cilium-cni"', '"type":"cilium-cni"'),
    },
}

#: Where the kubelet's CNI configuration lives: the standard directory, k3s's own
#: (its embedded flannel writes under the agent dir), and microk8s's snap.
CNI_CONFIG_DIRS = (
    "/etc/cni/net.d",
    "/var/lib/rancher/k3s/agent/etc/cni/net.d",
    "/var/snap/microk8s/current/args/cni-network",
)


def _cni_configs(node: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    for directory in CNI_CONFIG_DIRS:
        listing = node.run(f"ls {directory} 2>/dev/null")
        for name in listing.stdout.split():
            if name.endswith((".conf", ".conflist", ".json")):
                path = f"{directory}/{name}"
                found[path] = node.run(f"cat {path}").stdout
    return found


def test_cni_matches_profile(distro: Distro, kube: Kube, node: Any) -> None:
    expected = distro.expectations.cni
    daemonsets = [
        d.metadata.name for d in kube.apps.list_namespaced_daemon_set("kube-system").items
    ]
    annotations = sorted(
        {key for n in kube.core.list_node().items for key in (n.metadata.annotations or {})}
    )
    configs = _cni_configs(node)
    seen: dict[str, list[str]] = {}
    for cni, signs in SIGNS.items():
        where = [f"DaemonSet kube-system/{d}" for d in daemonsets if d in signs["daemonsets"]]
        where += [f"node annotation {a}" for a in annotations if a.startswith(signs["annotations"])]
        where += [
            f"CNI config {path}"
            for path, text in configs.items()
            if any(word in text or word in path for word in signs["config"])
        ]
        if where:
            seen[cni] = where
    # The CNI configuration is what the kubelet uses; when it is readable, no other
    # CNI may own it (DaemonSets and annotations alone can be leftovers).
    configured = {c for c, where in seen.items() if any(w.startswith("CNI config") for w in where)}
    evidence = "\n".join(
        [f"kube-system DaemonSets: {daemonsets or 'none'}", f"node annotations: {annotations}"]
        + [f"{path}: {json.dumps(text.strip()[:300])}" for path, text in configs.items()]
        + [f"no CNI config found in {', '.join(CNI_CONFIG_DIRS)}" if not configs else ""]
    )
    expect(
        expected in seen and configured <= {expected},
        f"the running CNI is not {expected}",
        expected=f"{expected} (by its DaemonSet, node annotations or CNI configuration), "
        "and no other CNI configured",
        found="; ".join(f"{c}: {', '.join(w)}" for c, w in seen.items()) or "no known CNI",
        evidence=evidence,
    )


def test_pod_to_pod(work: Workloads) -> None:
    server = work.web("server")
    ip = server.status.pod_ip
    work.fetch(
        "client",
        f"http://{ip}:8080/",
        expected="web:server",
        what=f"a pod cannot reach another pod at its IP {ip}",
    )


def test_pod_to_service(work: Workloads) -> None:
    work.web("backend")
    service = work.service("backend")
    work.fetch(
        "client",
        f"http://{service.spec.cluster_ip}:80/",
        expected="web:backend",
        what=f"a pod cannot reach a Service at its ClusterIP {service.spec.cluster_ip}",
    )


def _blocked_script(url: str, attempts: int) -> str:
    # Reached at any attempt means the policy let it through; BLOCKED only when no
    # attempt got an answer.
    return (
        f"i=0; while [ $i -lt {attempts} ]; do "
        f"if {WGET} {url}; then echo REACHED; exit 0; fi; "
        "i=$((i+1)); sleep 1; done; echo BLOCKED"
    )


def test_network_policy(distro: Distro, work: Workloads) -> None:
    claimed = distro.expectations.network_policy
    work.web("guarded")
    url = f"http://{work.service('guarded').spec.cluster_ip}:80/"
    # Traffic flows before any policy: otherwise a "blocked" result would mean nothing.
    work.fetch(
        "before", url, expected="web:guarded", what="the Service is unreachable before any policy"
    )
    work.apply("network-policy.yaml", name="only-granted", target="guarded")
    work.fetch(
        "granted",
        url,
        expected="web:guarded",
        labels={"access": "granted"},
        what="a pod the NetworkPolicy admits cannot reach the Service",
    )
    # A short, bounded watch: enforcement takes effect within seconds on every CNI.
    attempts = max(3, int(work.timeouts.hold))
    phase, logs = work.probe("denied", _blocked_script(url, attempts))
    if phase != "Succeeded" or not ("BLOCKED" in logs or "REACHED" in logs):
        fail(
            "the NetworkPolicy check could not run",
            expected="the probe pod to finish with BLOCKED or REACHED",
            found=f"probe pod {phase}: {logs.strip()[-300:]}",
            evidence=work.evidence,
        )
    if claimed:
        expect(
            "BLOCKED" in logs,
            f"{distro.name} claims NetworkPolicy, but it is not enforced",
            expected="a pod without access=granted gets no answer from pods the policy guards",
            found=f"it was answered: {logs.strip()[-200:]}",
            evidence=work.evidence,
        )
    else:
        expect(
            "REACHED" in logs,
            f"{distro.name} claims no NetworkPolicy, but traffic was blocked by one",
            expected="the policy has no effect (no policy controller)",
            found=f"{attempts} attempts got no answer",
            evidence=work.evidence,
        )
