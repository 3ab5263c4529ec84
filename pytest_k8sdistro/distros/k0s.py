"""k0s: Mirantis' zero-friction distribution.

Facts from k0sproject/k0s (Dockerfile, docs/k0s-in-docker.md, docs/upgrade.md,
pkg/apis/k0s/v1beta1/network.go).
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

#: The example configuration of k0s's docs/dual-stack.md: kube-router with the
#: default IPv4 CIDRs and a ULA pair for IPv6.
DUAL_STACK_CONFIG = """\
apiVersion: k0s.k0sproject.io/v1beta1
kind: ClusterConfig
metadata:
  name: k0s
spec:
  network:
    provider: kube-router
    podCIDR: 10.244.0.0/16
    serviceCIDR: 10.96.0.0/12
    dualStack:
      enabled: true
      IPv6podCIDR: fd00::/108
      IPv6serviceCIDR: fd01::/108
"""

PROFILE = DistroProfile(
    name="k0s",
    # A release on the v1.33 line (github.com/k0sproject/k0s/releases).
    default_version="v1.33.13+k0s.0",
    version_pattern=re.compile(r"v(\d+\.\d+)\.\d+(?:-rc\.?\d+)?\+k0s\.\d+"),
    version_example="v1.33.13+k0s.0",
    image_repository="k0sproject/k0s",
    provisioners=("docker",),
    container=ContainerStart(
        binary="/usr/local/bin/k0s",
        server_args=("controller", "--enable-worker", "--no-taints"),
        agent_args=("worker",),
        join="token",
        env={"KUBECONFIG": "/var/lib/k0s/pki/admin.conf"},
        volumes=("/var/lib/k0s", "/var/log/pods"),
        tmpfs=("/run",),
        # k0s takes dual-stack from its configuration (spec.network.dualStack), not
        # flags. The image's entrypoint writes K0S_CONFIG to /etc/k0s/config.yaml
        # (k0sproject/k0s:docker-entrypoint.sh); --config makes k0s read it. Node
        # addresses of both families are detected by k0s (docs/dual-stack.md).
        dual_stack_args=("--config=/etc/k0s/config.yaml",),
        dual_stack_env={"K0S_CONFIG": DUAL_STACK_CONFIG},
        init=("/sbin/tini", "--"),
    ),
    kubeconfig=KubeconfigSource(command=("k0s", "kubeconfig", "admin")),
    # k0s logs no single "ready" line worth trusting; readiness is decided by the
    # API, the node and CoreDNS.
    readiness=Readiness(log_line=None),
    upgrade=Upgrade(
        method="replace-binary",
        summary="stop k0s, replace /usr/local/bin/k0s, start k0s (docs/upgrade.md)",
    ),
    expectations=Expectations(
        dns="coredns",
        # The blog lists calico too; kube-router is the default, calico opt-in.
        cni="kube-router",
        network_policy=True,
        runtime="containerd",
        runtime_version_family=None,
        storage_class=None,
        storage_provisioner=None,
        volume_binding_mode=None,
        ingress_classes=(),
        default_ingress_class=None,
        load_balancer=None,
        # The blog's table lists etcd first: it is the default for controllers.
        datastore="etcd",
        # The blog required Calico; current docs support dual-stack on kube-router.
        ipv6="dual-stack",
        metrics_server=True,
        hitless_upgrade=True,
        multi_node=True,
        memory_min_mib=1024,
        memory_idle_max_mib=1024,
        # Blog: about 300 MB under /var/lib/k0s.
        disk_max_mb=500,
    ),
    sources=(
        "k0sproject/k0s:Dockerfile",
        "k0sproject/k0s:docs/k0s-in-docker.md",
        "k0sproject/k0s:docs/upgrade.md",
        "k0sproject/k0s:pkg/apis/k0s/v1beta1/network.go",
        "k0sproject/k0s:docker-entrypoint.sh",
        "k0sproject/k0s:docs/dual-stack.md",
        "github.com/k0sproject/k0s/releases/tag/v1.33.13+k0s.0",
    ),
)
