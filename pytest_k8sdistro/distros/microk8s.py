"""microk8s: Canonical's snap-packaged distribution.

It cannot run in a Docker container (canonical/microk8s#233), so it has no
container start; it needs a host or VM provisioner. Facts from canonical/microk8s
and canonical/microk8s-core-addons.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from pytest_k8sdistro.distros.profile import (
    DistroProfile,
    Expectations,
    KubeconfigSource,
    Readiness,
    Upgrade,
)

PROFILE = DistroProfile(
    name="microk8s",
    # Snap channels name a track and a risk level.
    default_version="1.33/stable",
    version_pattern=re.compile(r"(\d+\.\d+)(?:/(?:stable|candidate|beta|edge))?"),
    version_example="1.33/stable",
    image_repository=None,
    provisioners=("host", "ssh", "multipass"),
    container=None,
    kubeconfig=KubeconfigSource(command=("microk8s", "config")),
    readiness=Readiness(log_line=None),
    upgrade=Upgrade(
        method="snap-refresh",
        summary="snap refresh microk8s --channel=<target>",
    ),
    expectations=Expectations(
        # Only the dns addon is on after a fresh install.
        dns="coredns",
        cni="calico",
        network_policy=True,
        runtime="containerd",
        runtime_version_family=None,
        # With the hostpath-storage addon (enabled on request).
        storage_class="microk8s-hostpath",
        storage_provisioner="microk8s.io/hostpath",
        volume_binding_mode="WaitForFirstConsumer",
        # The ingress addon: "public" is the default class; the blog noted it.
        ingress_classes=("public",),
        default_ingress_class="public",
        load_balancer="metallb",
        # The blog's table says etcd; microk8s has used dqlite since 1.19.
        datastore="dqlite",
        ipv6="dual-stack",
        metrics_server=False,
        # Since 1.22 workloads should stay up on refresh, except CNI pods that
        # mount snap data (canonical/microk8s PR#4205); the blog measured 4m20s
        # of downtime on 1.20 -> 1.21.
        hitless_upgrade=False,
        multi_node=True,
        # The blog's own measurement; the docs give no minimum.
        memory_min_mib=2048,
        memory_idle_max_mib=2048,
        # Blog: about 1 GB of snaps.
        disk_max_mb=1500,
    ),
    sources=(
        "canonical/microk8s#233 (no Docker)",
        "canonical/microk8s-core-addons (hostpath-storage, ingress, metallb)",
        "canonical/microk8s PR#4205 (refresh keeps workloads)",
    ),
)


#: What each addon adds to a fresh install (canonical/microk8s-core-addons): the
#: expectations' fields it is responsible for, with the values the profile states.
ADDON_FIELDS: dict[str, tuple[str, ...]] = {
    "hostpath-storage": ("storage_class", "storage_provisioner", "volume_binding_mode"),
    "ingress": ("ingress_classes", "default_ingress_class"),
    "metallb": ("load_balancer",),
    "metrics-server": ("metrics_server",),
}

_ABSENT: dict[str, Any] = {
    "storage_class": None,
    "storage_provisioner": None,
    "volume_binding_mode": None,
    "ingress_classes": (),
    "default_ingress_class": None,
    "load_balancer": None,
    "metrics_server": False,
}


def with_addons(expectations: Expectations, addons: tuple[str, ...]) -> Expectations:
    """``expectations`` as they hold with only ``addons`` enabled (``metallb:RANGE`` counts).

    dns is on after a fresh install; every other component the profile claims comes
    from an addon, so without it the suites check that it is absent.
    """
    enabled = {addon.partition(":")[0] for addon in addons}
    absent = {
        name: _ABSENT[name]
        for addon, names in ADDON_FIELDS.items()
        if addon not in enabled
        for name in names
    }
    if "metrics-server" in enabled:
        absent["metrics_server"] = True
    return replace(expectations, **absent)
