"""The host provisioner and the options of machine installs (usage errors, expectations).

The host provisioner is never run for real here: it would install system services
on the development machine. Its install steps are the same plans the ssh
provisioner runs against the sshd container (tests/test_ssh_provisioner.py);
what is host-specific (running locally, sudo detection, ports) is checked below.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pytest_k8sdistro.config.options import install_artifact
from pytest_k8sdistro.distros.install import Artifact
from pytest_k8sdistro.distros.microk8s import ADDONS
from pytest_k8sdistro.distros.registry import get_profile
from pytest_k8sdistro.provisioners.machine.host import HostProvisioner, LocalTarget


def usage_error(pytester: pytest.Pytester, *args: str) -> str:
    with pytest.raises(pytest.UsageError) as raised:
        pytester.parseconfigure(*args)
    return str(raised.value)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["--distro=k3s", "--distro-provisioner=host"],
            "allow that with --distro-allow-host-install",
        ),
        (
            ["--distro=microk8s"],
            "--distro-provisioner=host --distro-allow-host-install installs it",
        ),
        (["--distro=microk8s"], "--distro-provisioner=ssh://user@host[:port]"),
        (
            ["--distro-provisioner=ssh"],
            "needs the machine: --distro-provisioner=ssh://ADDRESS (e.g. ssh://user@host[:port])",
        ),
        (
            ["--distro-provisioner=ftp://h"],
            "is not a known provisioner; known: docker, existing, host, multipass, qemu, ssh://ADDRESS",
        ),
        (["--distro-provisioner=ssh://ci@h:99999"], "port is not a number"),
        (
            ["--distro=k3s", "--distro=k0s", "--distro-provisioner=ssh://ci@h"],
            "holds one cluster at a time, and this run asks for 2 (k3s:v1.36.5+k3s1, k0s:",
        ),
        (["--distro=k3s", "--distro-addons=dns"], "add --distro=microk8s"),
        (
            ["--distro=microk8s:1.36/stable", "--distro-addons=dns,dashboard"],
            "for microk8s:1.36/stable: dashboard is gone from 1.36 on "
            "(canonical/microk8s-core-addons#399); drop it",
        ),
        (
            [
                "--distro=k3s",
                "--distro-provisioner=host",
                "--distro-allow-host-install",
                "--distro-nodes=2",
            ],
            "brings up one node on a machine, so --distro-nodes=2 cannot apply",
        ),
        (
            ["--distro=k3s", "--distro-provisioner=ssh://ci@h", "--distro-node-memory=1GiB"],
            "so --distro-node-memory cannot apply",
        ),
    ],
)
def test_usage_errors(pytester: pytest.Pytester, args: list[str], expected: str) -> None:
    assert expected in usage_error(pytester, *args)


def test_multipass_without_its_cli(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    message = usage_error(pytester, "--distro=microk8s", "--distro-provisioner=multipass")
    assert "needs the multipass CLI" in message


def test_artifacts_must_fit_the_distro_and_provisioner(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    snap = tmp_path / "microk8s_1.snap"
    snap.write_text("x")
    host = ["--distro-provisioner=host", "--distro-allow-host-install"]
    message = usage_error(pytester, "--distro=k3s", *host, f"--distro-install-artifact={snap}")
    assert "k3s installs from binary, images, script files, not snap" in message
    message = usage_error(
        pytester, "--distro=microk8s", "--distro=k3s", *host, f"--distro-install-artifact={snap}"
    )
    assert "needs exactly one --distro" in message
    message = usage_error(pytester, "--distro=k3s", f"--distro-install-artifact=binary={snap}")
    assert (
        "not --distro-provisioner=docker; with images, load them with --distro-image-archive"
        in message
    )


def test_settings_keep_the_url_and_key_the_registry_by_scheme(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    from pytest_k8sdistro.config.settings import settings_key

    url = "ssh://ci@127.0.0.1:2222?api=127.0.0.1:30443"
    config = pytester.parseconfigure(
        "--distro=microk8s", f"--distro-provisioner={url}", "--distro-addons=dns,ingress"
    )
    settings = config.stash[settings_key]
    assert (settings.provisioner, settings.provisioner_target) == ("ssh", url)
    assert settings.distro_addons == ("dns", "ingress")
    expectations = settings.expectations(settings.distros[0])
    # The default (1.36) ingress addon is Traefik's, with three classes
    # (microk8s-core-addons@main addons/ingress/values.yaml).
    assert expectations.ingress_classes == ("public", "nginx", "traefik")
    assert expectations.storage_class is None
    assert expectations.load_balancer is None


def test_option_values(pytester: pytest.Pytester) -> None:
    with pytest.raises(pytest.UsageError, match="accepted: dns, hostpath-storage, ingress"):
        pytester.parseconfigure("--distro=microk8s", "--distro-addons=storage")
    with pytest.raises(pytest.UsageError, match="no --distro of this run has any"):
        pytester.parseconfigure("--distro=k3s", "--distro-addons=dns")
    with pytest.raises(pytest.UsageError, match="'tarball' is not an artifact kind; use one of"):
        install_artifact("tarball=/x")
    with pytest.raises(pytest.UsageError, match="no such file"):
        install_artifact("/no/such/k3s")
    assert install_artifact(__file__) == Artifact("binary", Path(__file__).resolve())


def test_microk8s_expectations_follow_the_addons() -> None:
    full = get_profile("microk8s").expectations
    bare = ADDONS.apply(full, ())
    assert (bare.storage_class, bare.ingress_classes, bare.load_balancer) == (None, (), None)
    assert bare.dns == "coredns" and bare.datastore == "dqlite" and bare.cni == "calico"
    enabled = ADDONS.apply(full, ("hostpath-storage", "ingress", "metallb:10.0.0.1-10.0.0.5"))
    assert enabled.storage_class == "microk8s-hostpath"
    assert enabled.default_ingress_class == "public"
    assert enabled.load_balancer == "metallb"


def test_dashboard_is_accepted_where_it_still_ships() -> None:
    assert ADDONS.missing_at(("dns", "dashboard"), "1.35/stable") == []
    assert ADDONS.missing_at(("dashboard",), "1.36/stable") != []


def test_microk8s_disk_counts_its_common_data_too() -> None:
    # $SNAP_COMMON holds containerd's images and the kubelet's root-dir.
    assert "/var/snap/microk8s/common" in get_profile("microk8s").data_dirs


def test_local_target_runs_here_and_knows_whether_it_is_root(tmp_path: Path) -> None:
    target = LocalTarget()
    target.probe()
    assert target.is_root == (os.geteuid() == 0)
    assert target.node_spec() == ("local://" if target.is_root else "local://?sudo=true")
    assert target.execute(["sh", "-c", "echo hi; exit 3"], timeout=10).rc == 3
    assert target.execute(["no-such-program-here"], timeout=10).rc == 127
    source = tmp_path / "a"
    source.write_text("data")
    target.upload(source, str(tmp_path / "b"))
    assert (tmp_path / "b").read_text() == "data"


def test_host_ports_are_the_machines_own() -> None:
    ports = HostProvisioner.ports(object.__new__(HostProvisioner), 16443)
    assert ports["16443/tcp"] == 16443 and ports["80/tcp"] == 80
