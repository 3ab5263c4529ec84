"""k3s: Rancher's single-binary distribution: every fact the plugin uses about it.

Facts from k3s-io/k3s (package/Dockerfile, scripts/package-cli, manifests/,
pkg/cli/server/server.go, pkg/cli/cmds/server.go, pkg/cloudprovider/servicelb.go,
install.sh, channel.yaml) and docs.k3s.io; each is cited beside it.
"""

from __future__ import annotations

import re

from pytest_k8sdistro.distros.install import (
    ArtifactKind,
    InstallPlan,
    JoinPlan,
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
    ExternalDatastores,
    KubeconfigSource,
    MachineInstall,
    NodeText,
    Readiness,
    Upgrade,
)

#: The install script (docs.k3s.io/installation).
INSTALL_URL = "https://get.k3s.io"
#: The script's default BIN_DIR (install.sh), where the binary and the uninstall script go.
BIN_DIR = "/usr/local/bin"
DATA_DIR = "/var/lib/rancher/k3s"
#: Airgap images are imported from here at start (docs.k3s.io/installation/airgap).
IMAGES_DIR = f"{DATA_DIR}/agent/images"
KUBECONFIG = "/etc/rancher/k3s/k3s.yaml"
API_PORT = 6443

ARTIFACTS: dict[ArtifactKind, str] = {
    "binary": "the k3s binary",
    "images": "an airgap images tarball (k3s-airgap-images-*.tar*)",
    "script": "the install script (install.sh from https://get.k3s.io)",
}


def _staged_install(spec: PlanInput) -> tuple[list[Step], list[tuple[str, str]], str]:
    """The steps before the install script runs, its environment, and its path."""
    check_artifacts(spec, ARTIFACTS)
    steps: list[Step] = []
    script = only(spec, "script")
    binary = only(spec, "binary")
    script_path = staged(spec, script) if script else f"{spec.staging}/install.sh"
    if script is None:
        steps.append(Step(("curl", "-sfL", "-o", script_path, INSTALL_URL)))
    images = [a for a in spec.artifacts if a.kind == "images"]
    if images:
        steps.append(Step(("mkdir", "-p", IMAGES_DIR)))
        steps += [
            Step(("install", "-m", "0644", staged(spec, image), f"{IMAGES_DIR}/{image.path.name}"))
            for image in images
        ]
    env = [("INSTALL_K3S_VERSION", spec.version)]
    if binary is not None:
        steps.append(Step(("install", "-m", "0755", staged(spec, binary), f"{BIN_DIR}/k3s")))
        env.append(("INSTALL_K3S_SKIP_DOWNLOAD", "true"))
    return steps, env, script_path


def _node_args(spec: PlanInput) -> tuple[str, ...]:
    """On a machine with several networks, the address to advertise and the interface
    flannel carries pod traffic over (``--node-ip``, ``--flannel-iface``: the
    "(agent/networking)" flags of pkg/cli/cmds/agent.go, which a server takes too);
    without them k3s advertises the address of the default route's interface, and
    flannel uses that interface (its --iface default)."""
    if spec.node is None:
        return ()
    return (f"--node-ip={spec.node.address}", f"--flannel-iface={spec.node.interface}")


def install_plan(spec: PlanInput) -> InstallPlan:
    """The install script, pinned with INSTALL_K3S_VERSION; air-gapped with the binary
    in BIN_DIR, images in IMAGES_DIR and INSTALL_K3S_SKIP_DOWNLOAD=true
    (docs.k3s.io/installation/airgap)."""
    steps, env, script_path = _staged_install(spec)
    downloads = only(spec, "script") is None or only(spec, "binary") is None
    # The arguments after the script become the service's command line: a server
    # with its defaults, which the expectations describe.
    steps.append(Step(("sh", script_path, "server", *_node_args(spec)), env=tuple(env)))
    return InstallPlan(
        distro=spec.distro,
        version=spec.version,
        uploads=uploads(spec),
        install=tuple(steps),
        kubeconfig=Step(("cat", KUBECONFIG), timeout_s=30),
        # install.sh writes ${BIN_DIR}/k3s-uninstall.sh for a server.
        uninstall=(Step((f"{BIN_DIR}/k3s-uninstall.sh",), check=False),),
        # The binary, or the uninstall script install.sh leaves for a server or an agent.
        present=any_exists(
            f"{BIN_DIR}/k3s", f"{BIN_DIR}/k3s-uninstall.sh", f"{BIN_DIR}/k3s-agent-uninstall.sh"
        ),
        # systemd: the k3s unit's journal; OpenRC: LOG_FILE=/var/log/k3s.log (install.sh).
        logs_script=journal_or_file("k3s", "/var/log/k3s.log"),
        api_port=API_PORT,
        downloads=downloads,
    )


def join_plan(spec: PlanInput) -> JoinPlan:
    """An agent: the same install script with K3S_URL and K3S_TOKEN, which makes its
    service ``k3s agent`` and its uninstall script k3s-agent-uninstall.sh (install.sh
    @0136cf25, setup_env: SYSTEM_NAME=k3s-${CMD_K3S} for anything but a server)."""
    if spec.join is None:
        raise ValueError("an agent's plan needs the server to join")
    steps, env, script_path = _staged_install(spec)
    host = f"[{spec.join.server}]" if ":" in spec.join.server else spec.join.server
    env += [("K3S_URL", f"https://{host}:{spec.join.api_port}"), ("K3S_TOKEN", spec.join.token)]
    steps.append(
        Step(("sh", script_path, "agent", *_node_args(spec)), env=tuple(env), secret=("K3S_TOKEN",))
    )
    return JoinPlan(
        distro=spec.distro,
        version=spec.version,
        uploads=uploads(spec),
        install=tuple(steps),
        uninstall=(Step((f"{BIN_DIR}/k3s-agent-uninstall.sh",), check=False),),
        present=any_exists(
            f"{BIN_DIR}/k3s", f"{BIN_DIR}/k3s-uninstall.sh", f"{BIN_DIR}/k3s-agent-uninstall.sh"
        ),
        # The agent's unit is k3s-agent; OpenRC logs to /var/log/k3s-agent.log (install.sh).
        logs_script=journal_or_file("k3s-agent", "/var/log/k3s-agent.log"),
        downloads=only(spec, "script") is None or only(spec, "binary") is None,
    )


PROFILE = DistroProfile(
    name="k3s",
    # The release k3s's stable channel pointed at (k3s-io/k3s:channel.yaml).
    default_version="v1.36.5+k3s1",
    version_pattern=re.compile(r"v(\d+\.\d+)\.\d+(?:-rc\d+)?\+k3s\d+"),
    version_example="v1.36.5+k3s1",
    image_repository="rancher/k3s",
    container=ContainerStart(
        binary="/bin/k3s",
        server_args=("server",),
        agent_args=("agent",),
        # The server's token file (pkg/cli/server/server.go: <data-dir>/server/token).
        join_token=NodeText(path=f"{DATA_DIR}/server/token"),
        # The API is reached through a port published on 127.0.0.1, so the serving
        # certificate must list it; k3s's docker tests and k3d do the same.
        server_node_args=(
            "--tls-san=127.0.0.1",
            "--https-listen-port={api_port}",
            "--node-name={name}",
        ),
        # K3S_URL and K3S_TOKEN join an agent (docs.k3s.io/quick-start).
        agent_node_args=("--node-name={name}",),
        agent_env={"K3S_URL": "https://{server}:{api_port}", "K3S_TOKEN": "{token}"},
        # The image's VOLUMEs (package/Dockerfile).
        volumes=("/var/lib/kubelet", DATA_DIR, "/var/lib/cni", "/var/log"),
        dual_stack_args=(
            "--cluster-cidr=10.42.0.0/16,2001:cafe:42::/56",
            "--service-cidr=10.43.0.0/16,2001:cafe:43::/112",
            "--flannel-ipv6-masq",
        ),
        # "cluster-cidr and node-ip must share the same IP version": a dual-stack
        # cluster CIDR needs both addresses on every node (k3s-io/k3s#11735).
        node_ip_flag="--node-ip",
        api_port=API_PORT,
        # k3s writes containerd's log to a file (pkg/agent/config/config.go); the
        # kubelet logs to k3s's own output, which is the container log.
        log_files=(f"{DATA_DIR}/agent/containerd/containerd.log",),
        # The image is built FROM scratch and its /bin is the k3s release: the
        # multicall k3s and its links, containerd and its runc shim (separate files
        # from the v1.33 build, scripts/build-containerd.sh), runc, the multicall cni
        # and its links, and k3s-root's userspace with /bin/aux (package/Dockerfile,
        # scripts/build-k3s.sh, scripts/package-cli). An upgrade replaces all of it.
        shipped=("/bin",),
    ),
    kubeconfig=KubeconfigSource(path=KUBECONFIG),
    # "k3s is up and running" is logged before the default ServiceAccount exists
    # (testcontainers/testcontainers-go#1547), so it is only the first stage.
    readiness=Readiness(
        log_line="k3s is up and running",
        pitfalls=(
            "a cgroup v2 host without a private cgroup namespace (k3s-io/k3s#4085)",
            "an iptables legacy/nft mismatch (k3s-io/k3s#7206)",
        ),
    ),
    upgrade=Upgrade(
        method="replace-binary",
        summary=(
            "replace the image's /bin (k3s, containerd, its runc shim, runc, the CNI "
            "plugins, k3s-root) in the running node and restart k3s"
        ),
        source="docs.k3s.io/upgrades/manual; k3s-io/k3s:package/Dockerfile",
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
        rbac=True,
        # docs.k3s.io/installation/requirements: a server needs 2 GB (512 MB is an
        # agent's minimum). The 2021 comparison used the older 512 MB figure.
        memory_min_mib=2048,
        # The project's ceiling for an idle single server; docs.k3s.io's resource
        # profiling measured about 1.6 GB for a server running a workload (v1.26.5).
        memory_idle_max_mib=1024,
        # Blog: about 200 MB on disk; the release binary is capped at 75 MiB
        # (scripts/binary_size_check.sh, MAX_BINARY_MB).
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
    machine=MachineInstall(
        plan=install_plan,
        artifacts=ARTIFACTS,
        binaries=(f"{BIN_DIR}/k3s",),
        # The server's token (pkg/cli/server/server.go: <data-dir>/server/token).
        join_token=Step(("cat", f"{DATA_DIR}/server/token"), timeout_s=30),
        join=join_plan,
    ),
    # --datastore-endpoint, also read from K3S_DATASTORE_ENDPOINT (pkg/cli/cmds/server.go);
    # PostgreSQL and MySQL through kine (docs.k3s.io/datastore).
    datastores=ExternalDatastores(
        kinds=("postgres", "mysql"), endpoint_env="K3S_DATASTORE_ENDPOINT"
    ),
    # Binaries of a machine install unpack to data/<hash>/bin, images to agent/containerd.
    data_dirs=(DATA_DIR,),
    # kine over SQLite on a single server; embedded etcd with --cluster-init
    # (docs.k3s.io/datastore; pkg/cli/server/server.go: <data-dir>/server/db).
    datastore_files={
        "sqlite": ((f"{DATA_DIR}/server/db/state.db", "file"),),
        "etcd": ((f"{DATA_DIR}/server/db/etcd", "dir"),),
    },
    # k3s-io/k3s is read at the commits named (its snapshot is too large to fetch whole,
    # so single files were read); docs.k3s.io pages as published in 2026.
    expectation_sources={
        "dns": "k3s-io/k3s@005499a9:pkg/cli/cmds/server.go (--cluster-dns: the 10th "
        "service IP; CoreDNS unless --disable coredns)",
        "cni": "k3s-io/k3s@005499a9:pkg/cli/cmds/server.go (--flannel-backend, default vxlan)",
        "network_policy": "k3s-io/k3s@005499a9:pkg/cli/cmds/server.go "
        "(--disable-network-policy turns off k3s's network policy controller)",
        "runtime": "k3s-io/k3s@a2b936df:scripts/build-containerd.sh",
        "runtime_version_family": "not pinned: containerd's minor changes within a k3s "
        "line (2.1 to 2.3 over v1.35; k3s-io/docs docs/release-notes/v1.35.X.md)",
        "storage_class": "k3s-io/k3s@d804db30:manifests/local-storage.yaml",
        "storage_provisioner": "k3s-io/k3s@d804db30:manifests/local-storage.yaml",
        "volume_binding_mode": "k3s-io/k3s@d804db30:manifests/local-storage.yaml",
        "ingress_classes": "unconfirmed: k3s-io/k3s@68de3872:manifests/traefik.yaml leaves "
        "the class to the Traefik chart's defaults",
        "default_ingress_class": "unconfirmed: k3s-io/k3s@68de3872:manifests/traefik.yaml "
        "leaves it to the Traefik chart's defaults",
        "load_balancer": "k3s-io/k3s@005499a9:pkg/cloudprovider/servicelb.go",
        "datastore": "k3s-io/k3s@005499a9:pkg/cli/cmds/server.go (SQLite unless "
        "--cluster-init or --datastore-endpoint); docs.k3s.io/datastore",
        "ipv6": "docs.k3s.io/networking/basic-network-options (dual-stack since v1.21)",
        "metrics_server": "k3s-io/k3s@4de6d2db:manifests/metrics-server/metrics-apiservice.yaml "
        "(APIService v1beta1.metrics.k8s.io -> kube-system/metrics-server), deployed by "
        "default; @005499a9:pkg/cli/cmds/server.go (--disable lists metrics-server); "
        "not read at v1.36.5+k3s1",
        "hitless_upgrade": "docs.k3s.io/upgrades/killall (stopping k3s leaves its "
        "containers running, for upgrades)",
        "multi_node": "docs.k3s.io/quick-start (agents join with K3S_URL and K3S_TOKEN)",
        "rbac": "k3s-io/k3s@c8331835:pkg/daemons/control/server.go (apiServer: "
        "--authorization-mode=Node,RBAC and --anonymous-auth=false; the same in the later "
        "revisions stored; not read at v1.36.5+k3s1)",
        "memory_min_mib": "docs.k3s.io/installation/requirements (server: 2 cores, 2 GB)",
        "memory_idle_max_mib": "unconfirmed: the project's ceiling",
        "disk_max_mb": "unconfirmed: the 2021 comparison's 200 MB, with room",
    },
    unconfirmed=(
        "the IngressClass 'traefik' and its default flag: k3s's manifests/traefik.yaml sets "
        "no ingressClass, so both come from the Traefik chart's defaults",
        "disk_max_mb=400: no upstream figure; the 2021 comparison measured about 200 MB",
        "memory_idle_max_mib=1024: the project's ceiling; docs.k3s.io publishes no idle "
        "figure for current releases",
    ),
)
