"""microk8s: Canonical's snap-packaged distribution: every fact the plugin uses about it.

It cannot run in a Docker container (canonical/microk8s#233), so it has no
container start; it needs a machine provisioner. Facts from canonical/microk8s and
canonical/microk8s-core-addons at the branches named beside them.
"""

from __future__ import annotations

import re

from pytest_k8sdistro.distros.install import (
    ArtifactKind,
    InstallPlan,
    PlanInput,
    Step,
    check_artifacts,
    journal_or_file,
    only,
    staged,
    uploads,
)
from pytest_k8sdistro.distros.profile import (
    Addons,
    DistroProfile,
    Expectations,
    KubeconfigSource,
    MachineInstall,
    Readiness,
    Upgrade,
    VersionRange,
)

API_PORT = 16443

ARTIFACTS: dict[ArtifactKind, str] = {
    "snap": "a snap file from 'snap download microk8s' (microk8s_*.snap)",
    "assert": "its assertion file (microk8s_*.assert); without it the snap installs --dangerous",
}

#: Addons of canonical/microk8s-core-addons (addons.yaml, branches 1.33 to 1.35) that
#: --distro-addons accepts.
ADDONS = Addons(
    known=(
        "dns",
        "hostpath-storage",
        "ingress",
        "metallb",
        "metrics-server",
        "rbac",
        "registry",
        "dashboard",
        "cert-manager",
        "host-access",
        "observability",
        "helm",
        "helm3",
    ),
    # What each addon adds to a fresh install: the expectation fields it is
    # responsible for. Only dns is deployed by a fresh install
    # (microk8s-resources/microk8s.default.yaml, branches 1.33 to 1.35).
    provides={
        "hostpath-storage": ("storage_class", "storage_provisioner", "volume_binding_mode"),
        "ingress": ("ingress_classes", "default_ingress_class"),
        "metallb": ("load_balancer",),
        "metrics-server": ("metrics_server",),
        # The default args run the API server with --authorization-mode=AlwaysAllow;
        # `microk8s enable rbac` makes it RBAC,Node.
        "rbac": ("rbac",),
    },
    when_enabled={"metrics-server": {"metrics_server": True}},
    # 'microk8s enable metallb' asks for the range interactively and would hang.
    need_argument={"metallb": "metallb:10.64.140.43-10.64.140.49"},
    # Deleted from core-addons' main in PR#399 (2026-05-20), which the v1.36 snap's
    # repositories.sh points at (tag v1.36).
    removed={"dashboard": ("1.36", "canonical/microk8s-core-addons#399")},
)


def install_plan(spec: PlanInput) -> InstallPlan:
    """The snap from its channel, or offline from a local .snap (+ .assert) pair
    (canonical/microk8s#4508: ``snap ack`` then ``snap install ./microk8s.snap
    --classic``; ``--dangerous`` for an unsigned snap, docs/build.md)."""
    check_artifacts(spec, ARTIFACTS)
    steps: list[Step] = []
    snap = only(spec, "snap")
    assertion = only(spec, "assert")
    if assertion is not None and snap is None:
        raise ValueError("a microk8s assertion file needs its snap file too")
    if snap is None:
        steps.append(
            Step(("snap", "install", "microk8s", "--classic", f"--channel={spec.version}"))
        )
    elif assertion is not None:
        steps.append(Step(("snap", "ack", staged(spec, assertion))))
        steps.append(Step(("snap", "install", staged(spec, snap), "--classic")))
    else:
        steps.append(Step(("snap", "install", staged(spec, snap), "--classic", "--dangerous")))
    wait = _wait_ready(spec.ready_timeout_s)
    steps.append(wait)
    if spec.addons:
        # One addon a call: since 1.27 several in one call print a warning that the
        # form will be deprecated (canonical/microk8s PR#3791, scripts/wrappers/enable.py).
        steps += [Step(("microk8s", "enable", addon)) for addon in spec.addons]
        steps.append(wait)
    return InstallPlan(
        distro=spec.distro,
        version=spec.version,
        uploads=uploads(spec),
        install=tuple(steps),
        kubeconfig=Step(("microk8s", "config"), timeout_s=60),
        uninstall=(Step(("snap", "remove", "--purge", "microk8s"), check=False),),
        # snapd exits 1 with "no matching snaps installed" when it is not there.
        present=Step(("snap", "list", "microk8s"), check=False, timeout_s=60),
        logs_script=journal_or_file("snap.microk8s.daemon-kubelite", "/dev/null"),
        api_port=API_PORT,
        downloads=snap is None,
        notes=(
            ()
            if snap is None
            else ("an offline snap still needs its base snap (core20/core22) on the machine",)
        ),
    )


def _wait_ready(timeout_s: float) -> Step:
    return Step(
        ("microk8s", "status", "--wait-ready", "--timeout", str(int(timeout_s))),
        timeout_s=timeout_s + 30,
    )


def upgrade_steps(target_version: str, ready_timeout_s: float) -> tuple[Step, ...]:
    """Refresh the snap to the target channel and wait until it is ready again
    (canonical/microk8s: ``snap refresh microk8s --channel=...``)."""
    return (
        Step(("snap", "refresh", "microk8s", f"--channel={target_version}"), timeout_s=1800.0),
        _wait_ready(ready_timeout_s),
    )


PROFILE = DistroProfile(
    name="microk8s",
    # Snap channels name a track and a risk level.
    default_version="1.36/stable",
    version_pattern=re.compile(r"(\d+\.\d+)(?:/(?:stable|candidate|beta|edge))?"),
    version_example="1.36/stable",
    image_repository=None,
    container=None,
    no_container_reason="it is a snap and cannot run in a container (canonical/microk8s#233)",
    kubeconfig=KubeconfigSource(command=("microk8s", "config")),
    readiness=Readiness(log_line=None),
    upgrade=Upgrade(
        method="snap-refresh",
        summary="snap refresh microk8s --channel=<target>",
        source="canonical/microk8s:docs (snap refresh)",
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
        # The ingress addon of 1.33 and 1.34 is ingress-nginx; its ingress.yaml makes
        # two IngressClasses, "public" (is-default-class) and "nginx"
        # (canonical/microk8s-core-addons, branches 1.33 and 1.34, addons/ingress/).
        ingress_classes=("public", "nginx"),
        default_ingress_class="public",
        load_balancer="metallb",
        # The blog's table says etcd; microk8s has used dqlite since 1.19.
        datastore="dqlite",
        ipv6="dual-stack",
        metrics_server=False,
        # The blog measured 4m20s of downtime on 1.20 -> 1.21. From 1.22 a refresh is
        # meant to leave workloads running (containerd's stop-mode: sigterm in
        # snapcraft.yaml; maintainer on canonical/microk8s#474), except pods that
        # hostPath-mount $SNAP_DATA, which are deleted (PR#4205). Left at the
        # measured value until a run measures it.
        hitless_upgrade=False,
        multi_node=True,
        # With the rbac addon only (ADDONS.provides).
        rbac=True,
        # The blog's own measurement. microk8s.io/docs says it runs in 540 MB and
        # recommends 4 GB for workloads.
        memory_min_mib=2048,
        memory_idle_max_mib=2048,
        # Blog: about 1 GB of snaps.
        disk_max_mb=1500,
    ),
    by_version=(
        VersionRange(
            since="1.35",
            # From 1.35 the ingress addon is Traefik: the chart's own "traefik" class
            # (not default) and, from the addon's extraObjects, "public" (default) and
            # "nginx" (canonical/microk8s-core-addons, branch 1.35,
            # addons/ingress/values.yaml; commit ce8e8d1, #375).
            changes={"ingress_classes": ("public", "nginx", "traefik")},
            source="canonical/microk8s-core-addons@1.35 and @main (1.36): "
            "addons/ingress/values.yaml",
        ),
    ),
    sources=(
        "canonical/microk8s#233 (no Docker)",
        "canonical/microk8s-core-addons@1.33:addons/ingress/ingress.yaml",
        "canonical/microk8s-core-addons@1.35:addons/ingress/values.yaml",
        "canonical/microk8s-core-addons (hostpath-storage, metallb)",
        "canonical/microk8s PR#4205 (which pods a refresh deletes)",
    ),
    machine=MachineInstall(
        plan=install_plan,
        artifacts=ARTIFACTS,
        upgrade=upgrade_steps,
    ),
    addons=ADDONS,
    # The snap (a squashfs mount) and its writable data.
    # $SNAP, $SNAP_DATA and $SNAP_COMMON; the last holds containerd's root (every
    # image), the kubelet's root-dir and hostpath-storage's volumes
    # (microk8s@1.35 microk8s-resources/default-args/containerd and kubelet:
    # --root ${SNAP_COMMON}/var/lib/containerd, --root-dir=${SNAP_COMMON}/var/lib/kubelet).
    data_dirs=(
        "/snap/microk8s/current",
        "/var/snap/microk8s/current",
        "/var/snap/microk8s/common",
    ),
    # dqlite's files (canonical/microk8s: the snap's var/kubernetes/backend).
    datastore_files={"dqlite": (("/var/snap/microk8s/current/var/kubernetes/backend", "dir"),)},
    # canonical/microk8s at branch 1.35 and tag v1.36; canonical/microk8s-core-addons at
    # branches 1.33 to 1.35 and main (which the 1.36 snap takes its addons from).
    expectation_sources={
        "dns": "canonical/microk8s@1.35:microk8s-resources/microk8s.default.yaml (only "
        "the dns addon is on after install)",
        "cni": "canonical/microk8s@1.35:microk8s-resources/default-args/cni-env (CNI=calico)",
        "network_policy": "canonical/microk8s@1.35:microk8s-resources/default-args/cni-env "
        "(Calico enforces NetworkPolicy)",
        "runtime": "canonical/microk8s@1.35:snap/snapcraft.yaml (daemon-containerd)",
        "runtime_version_family": "not pinned: containerd is built from the snap's "
        "build-scripts, per track",
        "storage_class": "canonical/microk8s-core-addons@1.35:addons/hostpath-storage/storage.yaml",
        "storage_provisioner": "canonical/microk8s-core-addons@1.35:addons/hostpath-storage/"
        "storage.yaml",
        "volume_binding_mode": "canonical/microk8s-core-addons@1.35:addons/hostpath-storage/"
        "storage.yaml",
        "ingress_classes": "canonical/microk8s-core-addons@1.33:addons/ingress/ingress.yaml",
        "default_ingress_class": "canonical/microk8s-core-addons@1.33:addons/ingress/"
        "ingress.yaml; @1.35 and main: addons/ingress/values.yaml",
        "load_balancer": "canonical/microk8s-core-addons@1.35:addons/metallb/enable",
        "datastore": "canonical/microk8s@1.35:microk8s-resources/default-args/k8s-dqlite",
        "ipv6": "canonical/microk8s@1.35:microk8s-resources/default-args/cni-env "
        "(IPv6_SUPPORT, off until configured before the first start)",
        "metrics_server": "canonical/microk8s@1.35 (8c5f9b02) and @v1.36 (e254fda9):"
        "microk8s-resources/microk8s.default.yaml (only dns after install); "
        "canonical/microk8s-core-addons@1.35 (ec06cfb) and @main (f689811):addons.yaml and "
        "addons/metrics-server/metrics-server.yaml (the addon: APIService "
        "v1beta1.metrics.k8s.io, --metric-resolution=15s)",
        "hitless_upgrade": "unconfirmed: the 2021 comparison's 1.20 -> 1.21 measurement",
        "multi_node": "canonical/microk8s@1.35:scripts/wrappers/add_token.py (microk8s add-node)",
        "rbac": "canonical/microk8s@1.35 (8c5f9b02) and @v1.36 (e254fda9):microk8s-resources/"
        "default-args/kube-apiserver (--authorization-mode=AlwaysAllow); "
        "canonical/microk8s-core-addons@1.35 and @main:addons/rbac/enable (RBAC,Node); "
        "canonical/microk8s#5400 (RBAC off by default, 2026)",
        "memory_min_mib": "unconfirmed: the 2021 comparison; microk8s.io/docs says 540 MB "
        "runs it and recommends 4 GB",
        "memory_idle_max_mib": "unconfirmed: the project's ceiling",
        "disk_max_mb": "unconfirmed: the 2021 comparison's 1 GB of snaps; the docs recommend 20 GB",
    },
    unconfirmed=(
        "memory_min_mib=2048: the 2021 comparison's measurement; the docs say microk8s runs "
        "in 540 MB and recommend 4 GB",
        "hitless_upgrade=False: the 2021 comparison measured 4m20s of downtime on 1.20 -> "
        "1.21; since 1.22 a refresh is meant to keep workloads running, which no upstream "
        "test checks",
    ),
)
