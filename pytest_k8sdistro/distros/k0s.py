"""k0s: Mirantis' zero-friction distribution: every fact the plugin uses about it.

Facts from k0sproject/k0s (Dockerfile, docker-entrypoint.sh, docs/k0s-in-docker.md,
docs/install.md, docs/upgrade.md, pkg/apis/k0s/v1beta1/network.go,
pkg/config/cfgvars.go, pkg/install/); each is cited beside it.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from pytest_k8sdistro.distros.install import (
    ARCHES,
    ArtifactKind,
    InstallPlan,
    PlanInput,
    Step,
    any_exists,
    check_artifacts,
    journal_or_file,
    only,
    staged,
    uploads,
)
from pytest_k8sdistro.distros.profile import (
    ContainerStart,
    DistroProfile,
    Expectations,
    KubeconfigSource,
    MachineInstall,
    NodeText,
    Readiness,
    Upgrade,
    VersionRange,
)

RELEASES_URL = "https://github.com/k0sproject/k0s/releases/download"
BINARY = "/usr/local/bin/k0s"
DATA_DIR = "/var/lib/k0s"
API_PORT = 6443

#: The example configuration of k0s's docs/dual-stack.md: kube-router with the
#: default IPv4 CIDRs and a ULA pair for IPv6. The provider's name is "kuberouter":
#: network.go's validation accepts only kuberouter, calico or custom
#: (k0sproject/k0s pkg/apis/k0s/v1beta1/network.go, v1.31.14 to v1.36.3).
DUAL_STACK_CONFIG = """\
apiVersion: k0s.k0sproject.io/v1beta1
kind: ClusterConfig
metadata:
  name: k0s
spec:
  network:
    provider: kuberouter
    podCIDR: 10.244.0.0/16
    serviceCIDR: 10.96.0.0/12
    dualStack:
      enabled: true
      IPv6podCIDR: fd00::/108
      IPv6serviceCIDR: fd01::/108
"""

ARTIFACTS: dict[ArtifactKind, str] = {
    "binary": "the k0s binary (k0s-<version>-<arch>)",
    "images": "an airgap image bundle (k0s-airgap-bundle-*)",
}


def binary_url(version: str, machine: str) -> str:
    """The release asset ``k0s-<version>-<arch>`` (k0sproject/k0s .github/workflows/release.yml)."""
    arch = ARCHES.get(machine)
    if arch is None:
        raise ValueError(
            f"no k0s release for machine architecture {machine!r}; "
            f"known: {', '.join(sorted(ARCHES))}"
        )
    # "+" in a URL path is literal for GitHub, but encode it as the k3s docs do.
    tag = quote(version, safe="")
    return f"{RELEASES_URL}/{tag}/k0s-{tag}-{arch}"


def install_plan(spec: PlanInput) -> InstallPlan:
    """The binary, a controller that runs workloads too, and its service
    (docs/install.md; image bundles from <data-dir>/images, docs/airgap-install.md)."""
    check_artifacts(spec, ARTIFACTS)
    steps: list[Step] = []
    binary = only(spec, "binary")
    if binary is None:
        steps.append(Step(("curl", "-sSfL", "-o", BINARY, binary_url(spec.version, spec.machine))))
        steps.append(Step(("chmod", "0755", BINARY)))
    else:
        steps.append(Step(("install", "-m", "0755", staged(spec, binary), BINARY)))
    images = [a for a in spec.artifacts if a.kind == "images"]
    if images:
        steps.append(Step(("mkdir", "-p", f"{DATA_DIR}/images")))
        steps += [
            Step(
                (
                    "install",
                    "-m",
                    "0644",
                    staged(spec, image),
                    f"{DATA_DIR}/images/{image.path.name}",
                )
            )
            for image in images
        ]
    steps += [
        # Not --single: that switches the datastore to kine/SQLite and turns off the
        # join API (pkg/config/cfgvars.go, cmd/controller/controller.go), while the
        # expectations say etcd and multi-node. --enable-worker --no-taints keeps
        # etcd and runs workloads on the controller (docs/install.md).
        Step((BINARY, "install", "controller", "--enable-worker", "--no-taints")),
        Step((BINARY, "start")),
    ]
    return InstallPlan(
        distro=spec.distro,
        version=spec.version,
        uploads=uploads(spec),
        install=tuple(steps),
        kubeconfig=Step((BINARY, "kubeconfig", "admin"), timeout_s=30),
        uninstall=(
            Step((BINARY, "stop"), check=False),
            Step((BINARY, "reset"), check=False),
            Step(("rm", "-f", BINARY), check=False),
        ),
        # The binary, or a service 'k0s install' made (systemd unit or OpenRC script,
        # named k0s + role: pkg/install/service.go).
        present=any_exists(
            BINARY,
            "/etc/systemd/system/k0scontroller.service",
            "/etc/systemd/system/k0sworker.service",
            "/etc/init.d/k0scontroller",
            "/etc/init.d/k0sworker",
        ),
        # The unit is "k0s" + role (pkg/install/service.go); OpenRC's script names its
        # log after the binary, /var/log/k0s.log (pkg/install/openrc_linux.go).
        logs_script=journal_or_file("k0scontroller", "/var/log/k0s.log"),
        api_port=API_PORT,
        downloads=binary is None,
        notes=("k0s reset asks for a reboot afterwards to clear network state",),
    )


PROFILE = DistroProfile(
    name="k0s",
    # The stable release: gh-pages stable.txt names v1.36.3+k0s.2 (k0sproject/k0s, 2026-08-12).
    default_version="v1.36.3+k0s.2",
    # Releases, candidates (v1.36.3-rc.0+k0s.1) and pre-releases (v1.37.0-alpha.1+k0s.0,
    # v1.34.0-beta.0-rc.0+k0s.0), as k0sproject/k0s tags them.
    version_pattern=re.compile(r"v(\d+\.\d+)\.\d+(?:-(?:alpha|beta|rc)\.?\d+)*\+k0s\.\d+"),
    version_example="v1.36.3+k0s.2",
    image_repository="k0sproject/k0s",
    container=ContainerStart(
        binary=BINARY,
        server_args=("controller", "--enable-worker", "--no-taints"),
        agent_args=("worker",),
        # A worker joins with a token the controller makes (docs/k0s-multi-node.md).
        join_token=NodeText(command=(BINARY, "token", "create", "--role=worker")),
        # k0s's API certificate lists 127.0.0.1 and localhost already, and the node
        # is named after the container's hostname: nothing to add for a server.
        agent_node_args=("{token}",),
        env={"KUBECONFIG": f"{DATA_DIR}/pki/admin.conf"},
        volumes=(DATA_DIR, "/var/log/pods"),
        tmpfs=("/run",),
        # k0s takes dual-stack from its configuration (spec.network.dualStack), not
        # flags. The image's entrypoint writes K0S_CONFIG to /etc/k0s/config.yaml
        # (k0sproject/k0s:docker-entrypoint.sh); --config makes k0s read it. Node
        # addresses of both families are detected by k0s (pkg/component/worker/kubelet.go).
        dual_stack_args=("--config=/etc/k0s/config.yaml",),
        dual_stack_env={"K0S_CONFIG": DUAL_STACK_CONFIG},
        init=("/sbin/tini", "--"),
        # The image's /entrypoint.sh prepares the container (cgroup v2 remount and
        # nesting, Docker DNS fix-up, K0S_CONFIG) and then execs its arguments; it
        # decides what to do from the role, which it normally reads from k0s's own
        # arguments (docker-entrypoint.sh, from v1.32.1).
        prepare={
            "server": "[ ! -x /entrypoint.sh ] || "
            "K0S_ENTRYPOINT_ROLE=controller+worker /entrypoint.sh true",
            "agent": "[ ! -x /entrypoint.sh ] || K0S_ENTRYPOINT_ROLE=worker /entrypoint.sh true",
        },
        prepare_nests_cgroups=True,
        api_port=API_PORT,
    ),
    kubeconfig=KubeconfigSource(command=("k0s", "kubeconfig", "admin")),
    # k0s logs no single "ready" line worth trusting; readiness is decided by the
    # API, the node and CoreDNS.
    readiness=Readiness(log_line=None, pitfalls=("low inotify limits (k0sproject/k0s#8113)",)),
    upgrade=Upgrade(
        method="replace-binary",
        summary="stop k0s, replace /usr/local/bin/k0s, start k0s (docs/upgrade.md)",
        source="k0sproject/k0s:docs/upgrade.md",
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
        rbac=True,
        memory_min_mib=1024,
        memory_idle_max_mib=1024,
        # docs/system-requirements.md (v1.35.7, v1.36.3): a controller+worker uses about
        # 1.7 GB and needs about 2.0 GB. The 2021 comparison measured about 300 MB.
        disk_max_mb=2000,
    ),
    sources=(
        "k0sproject/k0s:Dockerfile",
        "k0sproject/k0s:docs/k0s-in-docker.md",
        "k0sproject/k0s:docs/upgrade.md",
        "k0sproject/k0s:pkg/apis/k0s/v1beta1/network.go",
        "k0sproject/k0s:docker-entrypoint.sh",
        "k0sproject/k0s:docs/dual-stack.md",
        "github.com/k0sproject/k0s/releases/tag/v1.36.3+k0s.2",
    ),
    by_version=(
        VersionRange(
            until="1.36",
            changes={"runtime_version_family": "1.7"},
            source="k0sproject/k0s@v1.35.7+k0s.0:embedded-bins/Makefile.variables "
            "(containerd_version = 1.7.34)",
        ),
        VersionRange(
            since="1.36",
            changes={"runtime_version_family": "2.3"},
            source="k0sproject/k0s@v1.36.3+k0s.2:embedded-bins/Makefile.variables "
            "(containerd_version_and_rev = 2.3.3)",
        ),
    ),
    machine=MachineInstall(plan=install_plan, artifacts=ARTIFACTS, binaries=(BINARY,)),
    # Binaries unpack to bin/, images to containerd/.
    data_dirs=(DATA_DIR,),
    # etcd by default; kine over SQLite at <data-dir>/db/state.db with storage type
    # kine (pkg/config/cfgvars.go, pkg/apis/k0s/v1beta1/storage.go).
    datastore_files={
        "etcd": ((f"{DATA_DIR}/etcd", "dir"),),
        "sqlite": ((f"{DATA_DIR}/db/state.db", "file"),),
    },
    expectation_sources={
        "dns": "k0sproject/k0s@v1.36.3+k0s.2:cmd/controller/controller.go (CoreDNS unless "
        "disabled)",
        "cni": "k0sproject/k0s@v1.36.3+k0s.2:pkg/apis/k0s/v1beta1/network.go "
        "(DefaultNetwork: kuberouter)",
        "network_policy": "k0sproject/k0s@v1.36.3+k0s.2:pkg/component/controller/"
        "kuberouter.go (run-firewall: true)",
        "runtime": "k0sproject/k0s@v1.36.3+k0s.2:embedded-bins/Makefile.variables",
        "storage_class": "k0sproject/k0s@v1.36.3+k0s.2:docs/storage.md (none built in)",
        "storage_provisioner": "k0sproject/k0s@v1.36.3+k0s.2:docs/storage.md (none built in)",
        "volume_binding_mode": "k0sproject/k0s@v1.36.3+k0s.2:docs/storage.md (none built in)",
        "ingress_classes": "k0sproject/k0s@v1.36.3+k0s.2:pkg/apis/k0s/v1beta1/extensions.go "
        "(no ingress controller built in)",
        "default_ingress_class": "k0sproject/k0s@v1.36.3+k0s.2:pkg/apis/k0s/v1beta1/"
        "extensions.go (no ingress controller built in)",
        "load_balancer": "k0sproject/k0s@v1.36.3+k0s.2:cmd/controller/controller.go (no "
        "load balancer among the components)",
        "datastore": "k0sproject/k0s@v1.36.3+k0s.2:pkg/apis/k0s/v1beta1/storage.go "
        "(DefaultStorageSpec: etcd; kine with --single, pkg/config/cfgvars.go)",
        "ipv6": "k0sproject/k0s@v1.36.3+k0s.2:docs/dual-stack.md (kube-router dual-stack)",
        "metrics_server": "k0sproject/k0s@v1.36.3+k0s.2 (a949c71b):cmd/controller/controller.go "
        "(NewMetricServer unless --disable-components=metrics-server; the same at "
        "v1.35.7+k0s.0) and pkg/component/controller/metricserver.go (APIService "
        "v1beta1.metrics.k8s.io, --metric-resolution=15s)",
        "hitless_upgrade": "unconfirmed: docs/upgrade.md advises draining; "
        "pkg/supervisor stops only k0s's own children, so the shims survive",
        "multi_node": "k0sproject/k0s@v1.36.3+k0s.2:docs/k0s-multi-node.md",
        "rbac": "k0sproject/k0s@v1.36.3+k0s.2:pkg/component/controller/apiserver.go "
        '("authorization-mode": "Node,RBAC", anonymous-auth false; the same at v1.35.7+k0s.0)',
        "memory_min_mib": "k0sproject/k0s@v1.36.3+k0s.2:docs/system-requirements.md "
        "(controller+worker: 1 GB)",
        "memory_idle_max_mib": "unconfirmed: docs/system-requirements.md measured 510 MB "
        "for a controller alone (v1.22.4)",
        "disk_max_mb": "k0sproject/k0s@v1.36.3+k0s.2:docs/system-requirements.md "
        "(controller+worker: ~1.7 GB used, ~2.0 GB minimum)",
    },
    unconfirmed=(
        "hitless_upgrade=True: k0s's docs/upgrade.md advises draining; that pods survive a "
        "k0s restart is seen in the code, not documented",
        "memory_idle_max_mib=1024: the only published figure is 510 MB for a controller",
    ),
)
