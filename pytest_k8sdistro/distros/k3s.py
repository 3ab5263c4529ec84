"""k3s: Rancher's single-binary distribution.

Facts from k3s-io/k3s (package/Dockerfile, manifests/, pkg/cli/server/server.go,
pkg/cloudprovider/servicelb.go, channel.yaml) and docs.k3s.io.
"""

from __future__ import annotations

import re

from pytest_k8sdistro.distros.profile import (
    ContainerStart,
    DistroProfile,
    Expectations,
    KubeconfigSource,
    Readiness,
    Upgrade,
)

PROFILE = DistroProfile(
    name="k3s",
    # The release k3s's stable channel pointed at (k3s-io/k3s:channel.yaml).
    default_version="v1.33.6+k3s1",
    version_pattern=re.compile(r"v(\d+\.\d+)\.\d+(?:-rc\d+)?\+k3s\d+"),
    version_example="v1.33.6+k3s1",
    image_repository="rancher/k3s",
    provisioners=("docker",),
    container=ContainerStart(
        binary="/bin/k3s",
        server_args=("server",),
        agent_args=("agent",),
        join="env",
        volumes=("/var/lib/kubelet", "/var/lib/rancher/k3s", "/var/lib/cni", "/var/log"),
        dual_stack_args=(
            "--cluster-cidr=10.42.0.0/16,2001:cafe:42::/56",
            "--service-cidr=10.43.0.0/16,2001:cafe:43::/112",
            "--flannel-ipv6-masq",
        ),
        # "cluster-cidr and node-ip must share the same IP version": a dual-stack
        # cluster CIDR needs both addresses on every node (k3s-io/k3s#11735).
        node_ip_flag="--node-ip",
    ),
    kubeconfig=KubeconfigSource(path="/etc/rancher/k3s/k3s.yaml"),
    # "k3s is up and running" is logged before the default ServiceAccount exists
    # (testcontainers/testcontainers-go#1547), so it is only the first stage.
    readiness=Readiness(log_line="k3s is up and running"),
    upgrade=Upgrade(
        method="replace-binary",
        summary="replace /bin/k3s in the running node and restart the server process",
    ),
    expectations=Expectations(
        dns="coredns",
        cni="flannel",
        # k3s ships kube-router's network policy controller beside flannel.
        network_policy=True,
        runtime="containerd",
        runtime_version_family=None,
        storage_class="local-path",
        storage_provisioner="rancher.io/local-path",
        volume_binding_mode="WaitForFirstConsumer",
        ingress_classes=("traefik",),
        default_ingress_class="traefik",
        load_balancer="servicelb",
        # The blog lists etcd; a single server without --cluster-init keeps its
        # state in SQLite through kine.
        datastore="sqlite",
        # The blog said "no": dual-stack has been supported since v1.21.
        ipv6="dual-stack",
        metrics_server=True,
        hitless_upgrade=True,
        multi_node=True,
        # The blog found the documented 512 MiB infeasible and needed 1 GiB; the
        # documented figure stays the threshold so the suite can show which holds.
        memory_min_mib=512,
        # Idle usage reported around 500 MB (k3s-io/k3s#3536, #2278).
        memory_idle_max_mib=1024,
        # Blog: about 200 MB on disk; the binary alone is capped near 61 MB.
        disk_max_mb=400,
    ),
    sources=(
        "k3s-io/k3s:package/Dockerfile",
        "k3s-io/k3s:manifests/local-storage.yaml",
        "k3s-io/k3s:manifests/traefik.yaml",
        "k3s-io/k3s:pkg/cloudprovider/servicelb.go",
        "k3s-io/k3s:pkg/cli/server/server.go",
        "k3s-io/k3s:channel.yaml",
        "k3s-io/k3s#11735 (dual-stack node-ip)",
        "docs.k3s.io/upgrades/killall",
    ),
)
