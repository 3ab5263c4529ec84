"""What ``microk8s enable ADDON`` applies, as canonical/microk8s-core-addons does it.

Each addon is a set of objects the command creates through the API (``disable``
deletes them), and the object whose presence ``microk8s status`` takes for "enabled"
(the addon's ``check_status`` in core-addons' addons.yaml). The objects' processes are
the stand-in's own (CoreDNS, the hostpath provisioner, Traefik), as for k3s.

Versions matter where core-addons changed: the ingress addon is ingress-nginx up to
1.34 (IngressClasses ``public``, the default, and ``nginx``) and Traefik from 1.35
(``public``, ``nginx`` and ``traefik``; branch 1.35 addons/ingress/values.yaml); the
dashboard addon is gone from 1.36 (core-addons#399).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import NodeConfig
from .faults import Faults
from .node import addons, env

Obj = dict[str, Any]
KS = "kube-system"
SERVICE_CIDR = "10.152.183.0/24"
CLUSTER_DNS = "10.152.183.10"
#: Addons that ship enabled or are part of the snap itself (their check is a file).
ALWAYS_ENABLED = ("ha-cluster", "helm", "helm3")
#: Addons of core-addons the stand-in does not model.
NOT_MODELLED = ("registry", "cert-manager", "host-access", "observability", "dashboard")


@dataclass(frozen=True)
class Addon:
    name: str
    description: str
    #: (resource, namespace, name) whose presence means "enabled".
    check: tuple[str, str | None, str]


ADDONS = {
    a.name: a
    for a in (
        Addon("dns", "CoreDNS", ("deployments", KS, "coredns")),
        Addon(
            "hostpath-storage",
            "Storage class; allocates storage from host directory",
            ("deployments", KS, "hostpath-provisioner"),
        ),
        Addon(
            "ingress", "Ingress controller for external access", ("ingressclasses", None, "public")
        ),
        Addon(
            "metallb",
            "Loadbalancer for your Kubernetes cluster",
            ("namespaces", None, "metallb-system"),
        ),
        # check_status: clusterrole.rbac.authorization.k8s.io/cluster-admin, which the
        # API server's bootstrap policy creates whatever the authorization mode, so
        # `microk8s status` lists rbac as enabled from the start, as upstream's does.
        Addon(
            "rbac",
            "Role-Based Access Control for authorisation",
            ("clusterroles", None, "cluster-admin"),
        ),
        Addon(
            "metrics-server",
            "K8s Metrics Server for API access to service metrics",
            ("deployments", KS, "metrics-server"),
        ),
    )
}


def minor(version: str) -> tuple[int, int]:
    major, minor_, *_ = version.lstrip("v").split(".")
    return int(major), int(minor_)


def _config(version: str) -> NodeConfig:
    return NodeConfig(
        flavor="microk8s",
        version=version,
        data_dir=Path(os.environ.get("SNAP_DATA", "/var/snap/microk8s/current")),
        api_url="",
        kubeconfig_path=Path("/dev/null"),
        node_name="",
        node_ip="",
        cluster_cidrs=("10.1.0.0/16",),
        service_cidrs=(SERVICE_CIDR,),
        cluster_dns=(CLUSTER_DNS,),
        faults=Faults.from_env(),
    )


def _ingress_class(name: str, controller: str, default: bool) -> tuple[str, Obj]:
    meta: Obj = {"name": name}
    if default:
        meta["annotations"] = {"ingressclass.kubernetes.io/is-default-class": "true"}
    return (
        "ingressclasses",
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "IngressClass",
            "metadata": meta,
            "spec": {"controller": controller},
        },
    )


def ingress(version: str) -> list[tuple[str, Obj]]:
    traefik = minor(version) >= (1, 35)
    controller = "traefik.io/ingress-controller" if traefik else "k8s.io/ingress-nginx"
    faults = Faults.from_env()
    classes = [
        _ingress_class("public", controller, True),
        _ingress_class("nginx", controller, False),
    ]
    if traefik:
        classes.append(_ingress_class("traefik", controller, False))
    if faults.missing_ingressclass:
        classes = classes[1:]  # the default class never appears
    labels = {"name": "traefik" if traefik else "nginx-ingress-microk8s"}
    port = env.port("INGRESS_HTTP", 8000)
    container = {
        "name": labels["name"],
        "image": "traefik:v3.6.13"
        if traefik
        else "registry.k8s.io/ingress-nginx/controller:v1.13.8",
        "command": ["python3", "-m", "k8s_standin.node.ingress", "--port", str(port)],
        "ports": [{"name": "http", "containerPort": port, "hostPort": 80, "protocol": "TCP"}],
        "readinessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 2},
    }
    daemonset = addons._daemonset(labels["name"], labels, container)
    daemonset["metadata"]["namespace"] = "ingress"
    # On the pod network, reached through hostPorts 80 and 443 (the addon's chart).
    del daemonset["spec"]["template"]["spec"]["hostNetwork"]
    return [
        ("namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ingress"}}),
        *classes,
        ("daemonsets", daemonset),
    ]


def hostpath_storage() -> list[tuple[str, Obj]]:
    common = os.environ.get("SNAP_COMMON", "/var/snap/microk8s/common")
    labels = {"k8s-app": "hostpath-provisioner"}
    container = {
        "name": "hostpath-provisioner",
        "image": "cdkbot/hostpath-provisioner:1.5.0",
        "command": [
            "python3",
            "-m",
            "k8s_standin.node.localpath",
            "--provisioner",
            "microk8s.io/hostpath",
            "--storage",
            f"{common}/default-storage",
        ],
    }
    storage_class = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": "microk8s-hostpath",
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": "microk8s.io/hostpath",
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
    }
    return [
        ("deployments", addons._deployment("hostpath-provisioner", labels, container)),
        ("storageclasses", storage_class),
    ]


def metallb(ranges: str) -> list[tuple[str, Obj]]:
    ns = "metallb-system"
    placeholder = addons._placeholder
    controller = addons._deployment(
        "controller",
        {"app": "metallb", "component": "controller"},
        {
            "name": "controller",
            "image": "quay.io/metallb/controller:v0.14",
            "command": placeholder("metallb-controller"),
        },
    )
    controller["metadata"]["namespace"] = ns
    pool = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "standin-addresspool", "namespace": ns},
        "data": {"addresses": ranges},
    }
    return [
        ("namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        ("deployments", controller),
        ("configmaps", pool),
    ]


#: A fault switch: the addon of this name never comes up (its pods exit at once).
ENV_BROKEN_ADDON = "STANDIN_BROKEN_ADDON"


def objects(name: str, argument: str, version: str) -> list[tuple[str, Obj]]:
    """The objects ``microk8s enable name[:argument]`` creates at ``version``."""
    config = _config(version)
    if name == "dns":
        made = addons.coredns(config)
    elif name == "hostpath-storage":
        made = hostpath_storage()
    elif name == "ingress":
        made = ingress(version)
    elif name == "metallb":
        made = metallb(argument)
    elif name == "metrics-server":
        made = addons.metrics_server(config)
    else:
        raise KeyError(name)
    if os.environ.get(ENV_BROKEN_ADDON) == name:
        for resource, obj in made:
            if resource in ("deployments", "daemonsets"):
                for container in obj["spec"]["template"]["spec"]["containers"]:
                    container["command"] = [
                        "sh",
                        "-c",
                        f"echo 'stand-in fault: the {name} addon never comes up' >&2; exit 1",
                    ]
    return made


def namespace_of(obj: Obj) -> str | None:
    ns = obj["metadata"].get("namespace")
    return str(ns) if ns else None
