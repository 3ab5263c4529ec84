"""Install plans: the exact commands each distribution's install runs, against upstream docs.

Sources, per distribution (each profile's install_plan, pytest_k8sdistro/distros/):
k3s docs.k3s.io/installation, /installation/airgap, /installation/uninstall;
k0s docs.k0sproject.io/stable/install/, /airgap-install/, /reset/;
microk8s canonical/microk8s (README, scripts/wrappers/status.py for --timeout,
docs/build.md for --dangerous) and canonical/microk8s#4508 (snap ack + install offline).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_k8sdistro.distros import k0s, microk8s
from pytest_k8sdistro.distros.install import (
    Artifact,
    InstallPlan,
    Join,
    NodeNetwork,
    PlanInput,
    Step,
    artifact_kind,
)
from pytest_k8sdistro.distros.registry import get_profile
from pytest_k8sdistro.errors import ConfigError
from pytest_k8sdistro.provisioners.machine.base import reachable_kubeconfig

STAGING = "/tmp/k8sdistro-x"


def plan(spec: PlanInput) -> InstallPlan:
    """The plan the distribution's profile makes for a machine."""
    machine = get_profile(spec.distro).machine
    assert machine is not None
    return machine.plan(spec)


def argvs(steps: tuple[Step, ...]) -> list[tuple[str, ...]]:
    return [step.argv for step in steps]


def test_k3s_online_runs_the_pinned_install_script() -> None:
    made = plan(PlanInput("k3s", "v1.36.5+k3s1", STAGING))
    assert argvs(made.install) == [
        ("curl", "-sfL", "-o", f"{STAGING}/install.sh", "https://get.k3s.io"),
        ("sh", f"{STAGING}/install.sh", "server"),
    ]
    assert made.install[-1].env == (("INSTALL_K3S_VERSION", "v1.36.5+k3s1"),)
    assert made.kubeconfig.argv == ("cat", "/etc/rancher/k3s/k3s.yaml")
    assert argvs(made.uninstall) == [("/usr/local/bin/k3s-uninstall.sh",)]
    assert made.api_port == 6443
    assert made.downloads


def test_k3s_air_gapped_places_binary_and_images_and_skips_the_download() -> None:
    artifacts = (
        Artifact("binary", Path("/a/k3s")),
        Artifact("script", Path("/a/install.sh")),
        Artifact("images", Path("/a/k3s-airgap-images-amd64.tar.zst")),
    )
    made = plan(PlanInput("k3s", "v1.36.5+k3s1", STAGING, artifacts=artifacts))
    assert [u.name for u in made.uploads] == [
        "k3s",
        "install.sh",
        "k3s-airgap-images-amd64.tar.zst",
    ]
    assert argvs(made.install) == [
        ("mkdir", "-p", "/var/lib/rancher/k3s/agent/images"),
        (
            "install", "-m", "0644", f"{STAGING}/k3s-airgap-images-amd64.tar.zst",
            "/var/lib/rancher/k3s/agent/images/k3s-airgap-images-amd64.tar.zst",
        ),
        ("install", "-m", "0755", f"{STAGING}/k3s", "/usr/local/bin/k3s"),
        ("sh", f"{STAGING}/install.sh", "server"),
    ]  # fmt: skip
    assert dict(made.install[-1].env) == {
        "INSTALL_K3S_VERSION": "v1.36.5+k3s1",
        "INSTALL_K3S_SKIP_DOWNLOAD": "true",
    }
    assert not made.downloads


def test_k0s_downloads_its_release_binary_installs_a_controller_on_etcd_and_resets() -> None:
    made = plan(PlanInput("k0s", "v1.36.3+k0s.2", STAGING, machine="aarch64"))
    url = "https://github.com/k0sproject/k0s/releases/download/v1.36.3%2Bk0s.2/k0s-v1.36.3%2Bk0s.2-arm64"
    assert argvs(made.install) == [
        ("curl", "-sSfL", "-o", "/usr/local/bin/k0s", url),
        ("chmod", "0755", "/usr/local/bin/k0s"),
        # Not --single, which switches to kine/SQLite and refuses joins
        # (k0sproject/k0s pkg/config/cfgvars.go): the profile expects etcd.
        ("/usr/local/bin/k0s", "install", "controller", "--enable-worker", "--no-taints"),
        ("/usr/local/bin/k0s", "start"),
    ]
    assert made.kubeconfig.argv == ("/usr/local/bin/k0s", "kubeconfig", "admin")
    assert argvs(made.uninstall)[:2] == [
        ("/usr/local/bin/k0s", "stop"),
        ("/usr/local/bin/k0s", "reset"),
    ]
    assert all(not step.check for step in made.uninstall)


def test_k0s_air_gapped_bundle_goes_to_the_images_directory() -> None:
    artifacts = (
        Artifact("binary", Path("/a/k0s")),
        Artifact("images", Path("/a/k0s-airgap-bundle-v1.36.3+k0s.2-amd64")),
    )
    made = plan(PlanInput("k0s", "v1.36.3+k0s.2", STAGING, artifacts=artifacts))
    assert argvs(made.install)[:3] == [
        ("install", "-m", "0755", f"{STAGING}/k0s", "/usr/local/bin/k0s"),
        ("mkdir", "-p", "/var/lib/k0s/images"),
        (
            "install", "-m", "0644", f"{STAGING}/k0s-airgap-bundle-v1.36.3+k0s.2-amd64",
            "/var/lib/k0s/images/k0s-airgap-bundle-v1.36.3+k0s.2-amd64",
        ),
    ]  # fmt: skip
    assert not made.downloads


def test_microk8s_snap_channel_wait_addons_config_and_purge() -> None:
    made = plan(PlanInput("microk8s", "1.33/stable", STAGING, addons=("dns", "hostpath-storage")))
    wait = ("microk8s", "status", "--wait-ready", "--timeout", "300")
    assert argvs(made.install) == [
        ("snap", "install", "microk8s", "--classic", "--channel=1.33/stable"),
        wait,
        ("microk8s", "enable", "dns"),
        ("microk8s", "enable", "hostpath-storage"),
        wait,
    ]
    assert made.kubeconfig.argv == ("microk8s", "config")
    assert argvs(made.uninstall) == [("snap", "remove", "--purge", "microk8s")]
    assert made.api_port == 16443


@pytest.mark.parametrize(
    ("artifacts", "expected"),
    [
        (
            (
                Artifact("snap", Path("/a/microk8s_8000.snap")),
                Artifact("assert", Path("/a/m.assert")),
            ),
            [("snap", "ack", f"{STAGING}/m.assert"),
             ("snap", "install", f"{STAGING}/microk8s_8000.snap", "--classic")],
        ),
        (
            (Artifact("snap", Path("/a/microk8s_8000.snap")),),
            [("snap", "install", f"{STAGING}/microk8s_8000.snap", "--classic", "--dangerous")],
        ),
    ],
)  # fmt: skip
def test_microk8s_offline_snap(
    artifacts: tuple[Artifact, ...], expected: list[tuple[str, ...]]
) -> None:
    made = plan(PlanInput("microk8s", "1.33/stable", STAGING, artifacts=artifacts))
    assert argvs(made.install)[: len(expected)] == expected
    assert not made.downloads


def test_sudo_wraps_env_after_sudo() -> None:
    step = Step(("sh", "install.sh"), env=(("A", "1"),))
    assert step.command(sudo=True) == ["sudo", "-n", "--", "env", "A=1", "sh", "install.sh"]
    assert step.command(sudo=False) == ["env", "A=1", "sh", "install.sh"]


@pytest.mark.parametrize(
    ("distro", "artifact", "message"),
    [
        ("k3s", Artifact("snap", Path("/a/x.snap")), "k3s accepts: binary, images, script"),
        ("k0s", Artifact("script", Path("/a/install.sh")), "k0s accepts: binary, images"),
        ("microk8s", Artifact("assert", Path("/a/x.assert")), "needs its snap file"),
    ],
)
def test_artifacts_that_do_not_apply_are_refused(
    distro: str, artifact: Artifact, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        plan(PlanInput(distro, "x", STAGING, artifacts=(artifact,)))


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("k3s", "binary"),
        ("k0s-v1.36.3+k0s.2-amd64", "binary"),
        ("install.sh", "script"),
        ("k3s-airgap-images-amd64.tar.zst", "images"),
        ("k0s-airgap-bundle-v1.36.3+k0s.2-amd64", "images"),
        ("microk8s_8000.snap", "snap"),
        ("microk8s_8000.assert", "assert"),
    ],
)
def test_artifact_kind_from_the_file_name(name: str, kind: str) -> None:
    assert artifact_kind(Path(name)) == kind


def test_unknown_architecture_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="known: aarch64"):
        k0s.binary_url("v1.36.3+k0s.2", "mips")


def test_addons() -> None:
    parse = microk8s.ADDONS.parse
    assert parse("dns, hostpath-storage,metallb:10.0.0.1-10.0.0.9") == (
        "dns",
        "hostpath-storage",
        "metallb:10.0.0.1-10.0.0.9",
    )
    with pytest.raises(ConfigError, match=r"metallb needs its argument, e\.g\. metallb:10"):
        parse("metallb")
    with pytest.raises(ConfigError, match="'storage' is not an addon"):
        parse("storage")


KUBECONFIG = {
    "apiVersion": "v1",
    "kind": "Config",
    "current-context": "c",
    "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
    "clusters": [{"name": "k", "cluster": {"server": "https://10.0.0.5:16443"}}],
    "users": [{"name": "u", "user": {}}],
}


def test_kubeconfig_keeps_verifying_the_original_address() -> None:
    moved = reachable_kubeconfig(KUBECONFIG, "vm.example", 30443)
    cluster = moved["clusters"][0]["cluster"]
    assert cluster == {"server": "https://vm.example:30443", "tls-server-name": "10.0.0.5"}
    same = reachable_kubeconfig(KUBECONFIG, "10.0.0.5", 16443)
    assert "tls-server-name" not in same["clusters"][0]["cluster"]
    assert KUBECONFIG["clusters"][0]["cluster"] == {"server": "https://10.0.0.5:16443"}
    ipv6 = reachable_kubeconfig(KUBECONFIG, "fd00::5", 6443)
    assert ipv6["clusters"][0]["cluster"]["server"] == "https://[fd00::5]:6443"


NODES = NodeNetwork("10.77.0.10", "enp0s3")


def test_k3s_on_a_machine_with_several_networks_advertises_the_nodes_one() -> None:
    made = plan(PlanInput("k3s", "v1.36.5+k3s1", STAGING, node=NODES))
    assert made.install[-1].argv == (
        "sh", f"{STAGING}/install.sh", "server", "--node-ip=10.77.0.10", "--flannel-iface=enp0s3",
    )  # fmt: skip


def test_a_k3s_agent_joins_with_k3s_url_and_a_token_that_is_never_shown() -> None:
    machine = get_profile("k3s").machine
    assert machine is not None and machine.join is not None and machine.join_token is not None
    assert machine.join_token.argv == ("cat", "/var/lib/rancher/k3s/server/token")
    artifacts = (Artifact("binary", Path("/a/k3s")), Artifact("script", Path("/a/install.sh")))
    made = machine.join(
        PlanInput(
            "k3s", "v1.36.5+k3s1", STAGING, artifacts=artifacts,
            node=NodeNetwork("10.77.0.11", "enp0s3"),
            join=Join(server="10.77.0.10", api_port=6443, token="K10abc::server:s3cret"),
        )
    )  # fmt: skip
    step = made.install[-1]
    assert step.argv == (
        "sh", f"{STAGING}/install.sh", "agent", "--node-ip=10.77.0.11", "--flannel-iface=enp0s3",
    )  # fmt: skip
    env = dict(step.env)
    assert env["K3S_URL"] == "https://10.77.0.10:6443"
    assert env["K3S_TOKEN"] == "K10abc::server:s3cret"
    assert env["INSTALL_K3S_SKIP_DOWNLOAD"] == "true" and not made.downloads
    assert "s3cret" not in step.shell(sudo=True) and "K3S_TOKEN=***" in step.shell(sudo=True)
    assert "K3S_TOKEN=K10abc::server:s3cret" in step.command(sudo=True)
    # install.sh names an agent's service and uninstall script k3s-agent.
    assert argvs(made.uninstall) == [("/usr/local/bin/k3s-agent-uninstall.sh",)]
    with pytest.raises(ValueError, match="needs the server"):
        machine.join(PlanInput("k3s", "v1.36.5+k3s1", STAGING))


def test_an_ipv6_server_is_bracketed_in_k3s_url() -> None:
    machine = get_profile("k3s").machine
    assert machine is not None and machine.join is not None
    made = machine.join(PlanInput("k3s", "v1.36.5+k3s1", STAGING, join=Join("fd00::10", 6443, "t")))
    assert dict(made.install[-1].env)["K3S_URL"] == "https://[fd00::10]:6443"
