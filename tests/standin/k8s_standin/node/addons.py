"""The add-ons each distribution deploys into kube-system, applied like manifests.

k3s (unless `--disable`d): CoreDNS, local-path provisioner with its default
StorageClass, Traefik with IngressClass `traefik`, metrics-server, and the
ServiceLB controller. k0s: CoreDNS, kube-proxy and kube-router DaemonSets,
metrics-server; no StorageClass, ingress or load balancer. Objects are re-created
if deleted, as k3s's deploy controller and k0s's manifest applier do.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..config import NodeConfig
from . import env
from .client import Client
from .servicelb import ServiceLB
from .volumectl import ProtectionController, VolumeBinder

Obj = dict[str, Any]
KS = "kube-system"
REAPPLY_SECONDS = 10.0
# Container images as the distributions pin them; images are never pulled.
IMAGES = {
    "coredns": "rancher/mirrored-coredns-coredns:1.12.0",
    "local-path": "rancher/local-path-provisioner:v0.0.30",
    "traefik": "rancher/mirrored-library-traefik:3.3.2",
    "metrics-server": "rancher/mirrored-metrics-server:v0.7.2",
    "kube-proxy": "quay.io/k0sproject/kube-proxy:v1.33.6",
    "kube-router": "quay.io/k0sproject/kube-router:v2.4.1-iptables1.8.9-0",
    "calico-node": "docker.io/calico/node:v3.28.1",
    "calico-kube-controllers": "docker.io/calico/kube-controllers:v3.28.1",
}


COREFILE = """.:53 {
    errors
    health
    ready
    kubernetes DOMAIN in-addr.arpa ip6.arpa {
      pods insecure
      fallthrough in-addr.arpa ip6.arpa
    }
    forward . /etc/resolv.conf
    cache 30
    loop
    reload
    loadbalance
}
"""


def _deployment(
    name: str,
    labels: dict[str, str],
    container: Obj,
    *,
    volumes: list[Obj] | None = None,
    replicas: int = 1,
) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": KS, "labels": dict(labels)},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(labels)},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "containers": [container],
                    "volumes": volumes or [],
                    "priorityClassName": "system-cluster-critical",
                    "tolerations": [{"operator": "Exists", "effect": "NoSchedule"}],
                },
            },
        },
    }


def _daemonset(name: str, labels: dict[str, str], container: Obj) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": KS, "labels": dict(labels)},
        "spec": {
            "selector": {"matchLabels": dict(labels)},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "hostNetwork": True,
                    "containers": [container],
                    "priorityClassName": "system-node-critical",
                    "tolerations": [{"operator": "Exists"}],
                },
            },
        },
    }


def _module(name: str, *args: str) -> list[str]:
    return ["python3", "-m", f"k8s_standin.node.{name}", *args]


def _placeholder(component: str) -> list[str]:
    # The node agent itself programs these components' effects (routes, service
    # rules); the pod exists so kube-system looks as it does on a real node.
    return [
        "sh",
        "-c",
        f'echo "{component}: handled by the stand-in node agent"; exec sleep 2147483647',
    ]


def coredns(config: NodeConfig) -> list[tuple[str, Obj]]:
    labels = {"k8s-app": "kube-dns"}
    port = env.port("DNS", 53)
    corefile = COREFILE.replace("DOMAIN", config.cluster_domain)
    container = {
        "name": "coredns",
        "image": IMAGES["coredns"],
        "command": _module("dns", "--port", str(port), "--domain", config.cluster_domain),
        "ports": [
            {"name": "dns", "containerPort": 53, "protocol": "UDP"},
            {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
            {"name": "metrics", "containerPort": 9153, "protocol": "TCP"},
        ],
        "readinessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 2},
    }
    dual = len(config.cluster_dns) > 1 and not config.faults.no_ipv6
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "kube-dns",
            "namespace": KS,
            "labels": {
                "k8s-app": "kube-dns",
                "kubernetes.io/name": "CoreDNS",
                "kubernetes.io/cluster-service": "true",
            },
            "annotations": {"prometheus.io/port": "9153", "prometheus.io/scrape": "true"},
        },
        "spec": {
            "selector": labels,
            "clusterIP": config.cluster_dns[0],
            "clusterIPs": list(config.cluster_dns if dual else config.cluster_dns[:1]),
            "ipFamilyPolicy": "PreferDualStack" if dual else "SingleStack",
            "ports": [
                {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": port},
                {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": port},
                {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153},
            ],
        },
    }
    return [
        (
            "configmaps",
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "coredns", "namespace": KS},
                "data": {"Corefile": corefile},
            },
        ),
        ("deployments", _deployment("coredns", labels, container)),
        ("services", service),
    ]


def local_path(config: NodeConfig) -> list[tuple[str, Obj]]:
    labels = {"app": "local-path-provisioner"}
    storage = str(config.data_dir / "storage")
    container = {
        "name": "local-path-provisioner",
        "image": IMAGES["local-path"],
        "command": _module("localpath", "--storage", storage),
    }
    sc = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": "local-path",
            "annotations": {
                "storageclass.kubernetes.io/is-default-class": "true",
                "defaultVolumeType": "local",
            },
        },
        "provisioner": "rancher.io/local-path",
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
        "allowVolumeExpansion": False,
    }
    return [
        ("storageclasses", sc),
        ("deployments", _deployment("local-path-provisioner", labels, container)),
    ]


def traefik(config: NodeConfig) -> list[tuple[str, Obj]]:
    labels = {
        "app.kubernetes.io/name": "traefik",
        "app.kubernetes.io/instance": "traefik-kube-system",
    }
    web, websecure = env.port("INGRESS_HTTP", 8000), env.port("INGRESS_HTTPS", 8443)
    container = {
        "name": "traefik",
        "image": IMAGES["traefik"],
        "command": _module("ingress", "--port", str(web), "--tls-port", str(websecure)),
        "ports": [
            {"name": "web", "containerPort": web, "protocol": "TCP"},
            {"name": "websecure", "containerPort": websecure, "protocol": "TCP"},
        ],
        "readinessProbe": {"tcpSocket": {"port": web}, "periodSeconds": 2},
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "traefik", "namespace": KS, "labels": dict(labels)},
        "spec": {
            "type": "LoadBalancer",
            "selector": labels,
            "ports": [
                {"name": "web", "port": 80, "targetPort": "web", "protocol": "TCP"},
                {"name": "websecure", "port": 443, "targetPort": "websecure", "protocol": "TCP"},
            ],
        },
    }
    objs: list[tuple[str, Obj]] = [
        ("deployments", _deployment("traefik", labels, container)),
        ("services", service),
    ]
    if not config.faults.missing_ingressclass:
        objs.insert(
            0,
            (
                "ingressclasses",
                {
                    "apiVersion": "networking.k8s.io/v1",
                    "kind": "IngressClass",
                    "metadata": {
                        "name": "traefik",
                        "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"},
                    },
                    "spec": {"controller": "traefik.io/ingress-controller"},
                },
            ),
        )
    return objs


def metrics_server(config: NodeConfig) -> list[tuple[str, Obj]]:
    """metrics-server's Deployment, its Service (443 -> the container's "https" port) and
    the APIService v1beta1.metrics.k8s.io that registers it with the aggregator, as
    k3s's manifests/metrics-server/, k0s's metricserver.go and microk8s's addon have them
    (the stand-in's API server answers for it: metrics.py)."""
    labels = {"k8s-app": "metrics-server"}
    port = 4443 if config.flavor == "microk8s" else 10250
    container = {
        "name": "metrics-server",
        "image": IMAGES["metrics-server"],
        "command": _placeholder("metrics-server"),
        "args": [
            "--cert-dir=/tmp",
            f"--secure-port={port}",
            "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
            "--kubelet-use-node-status-port",
            "--metric-resolution=15s",
        ],
        "ports": [{"name": "https", "containerPort": port, "protocol": "TCP"}],
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "metrics-server", "namespace": KS, "labels": dict(labels)},
        "spec": {
            "selector": labels,
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": "https"}],
        },
    }
    apiservice = {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": "v1beta1.metrics.k8s.io", "labels": dict(labels)},
        "spec": {
            "group": "metrics.k8s.io",
            "version": "v1beta1",
            "groupPriorityMinimum": 100,
            "versionPriority": 100,
            "insecureSkipTLSVerify": True,
            "service": {"name": "metrics-server", "namespace": KS},
        },
    }
    return [
        ("deployments", _deployment("metrics-server", labels, container)),
        ("services", service),
        ("apiservices", apiservice),
    ]


def k0s_network(config: NodeConfig) -> list[tuple[str, Obj]]:
    return [
        (
            "daemonsets",
            _daemonset(
                "kube-proxy",
                {"k8s-app": "kube-proxy"},
                {
                    "name": "kube-proxy",
                    "image": IMAGES["kube-proxy"],
                    "command": _placeholder("kube-proxy"),
                },
            ),
        ),
        (
            "daemonsets",
            _daemonset(
                "kube-router",
                {"k8s-app": "kube-router"},
                {
                    "name": "kube-router",
                    "image": IMAGES["kube-router"],
                    "command": _placeholder("kube-router"),
                },
            ),
        ),
    ]


def calico(config: NodeConfig) -> list[tuple[str, Obj]]:
    """microk8s's CNI, applied by the snap at bootstrap (microk8s-resources/cni.yaml)."""
    return [
        (
            "daemonsets",
            _daemonset(
                "calico-node",
                {"k8s-app": "calico-node"},
                {
                    "name": "calico-node",
                    "image": IMAGES["calico-node"],
                    "command": _placeholder("calico-node"),
                },
            ),
        ),
        (
            "deployments",
            _deployment(
                "calico-kube-controllers",
                {"k8s-app": "calico-kube-controllers"},
                {
                    "name": "calico-kube-controllers",
                    "image": IMAGES["calico-kube-controllers"],
                    "command": _placeholder("calico-kube-controllers"),
                },
            ),
        ),
    ]


def manifests(config: NodeConfig) -> list[tuple[str, Obj]]:
    disabled = config.disabled
    out: list[tuple[str, Obj]] = []
    if config.flavor == "microk8s":
        # Everything else comes from `microk8s enable` (microk8s_addons.py).
        return calico(config)
    if "coredns" not in disabled:
        out += coredns(config)
    if config.flavor == "k3s":
        if "local-storage" not in disabled:
            out += local_path(config)
        if "traefik" not in disabled:
            out += traefik(config)
    else:
        out += k0s_network(config)
    if "metrics-server" not in disabled:
        out += metrics_server(config)
    return out


class AddonApplier:
    def __init__(self, client: Client, config: NodeConfig) -> None:
        self.client = client
        self.objects = manifests(config)
        self._last = 0.0

    def step(self) -> None:
        if time.monotonic() - self._last < REAPPLY_SECONDS:
            return
        existing: dict[str, set[tuple[str, str]]] = {}
        for resource, obj in self.objects:
            if resource not in existing:
                existing[resource] = {
                    (o["metadata"].get("namespace", ""), o["metadata"]["name"])
                    for o in self.client.list(resource)
                }
            ns = obj["metadata"].get("namespace")
            if (ns or "", obj["metadata"]["name"]) not in existing[resource]:
                self.client.ensure(resource, obj, ns)
        self._last = time.monotonic()


Controller = tuple[str, Callable[[], None], tuple[str, ...]]  # name, step, watched


def controllers(client: Client, config: NodeConfig) -> list[Controller]:
    out: list[Controller] = [
        ("addons", AddonApplier(client, config).step, ()),
        (
            "persistentvolume-binder",
            VolumeBinder(client).step,
            ("persistentvolumeclaims", "persistentvolumes", "storageclasses"),
        ),
        (
            "pvc-protection",
            ProtectionController(client).step,
            ("persistentvolumeclaims", "persistentvolumes", "pods"),
        ),
    ]
    if config.flavor == "microk8s":
        from .metallb import MetalLB

        out.append(("metallb", MetalLB(client).step, ("services", "configmaps")))
    if config.flavor == "k3s" and "servicelb" not in config.disabled:
        out.append(
            (
                "servicelb",
                ServiceLB(client, config).step,
                ("services", "pods", "nodes", "daemonsets"),
            )
        )
    return out
