"""--distro-upgrade-to and its companions: versions, usage errors before anything starts,
the plan."""

from __future__ import annotations

import pytest

from pytest_k8sdistro.distros.spec import parse_distro
from pytest_k8sdistro.measure.upgrade.plan import UpgradePlan, plan
from pytest_k8sdistro.model.versions import version_key
from pytest_k8sdistro.provisioners.base import Provisioner
from pytest_k8sdistro.provisioners.docker.provisioner import DockerProvisioner
from pytest_k8sdistro.provisioners.machine.host import HostProvisioner

TEST_FILE = """
def test_nothing():
    pass
"""


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        ("v1.36.5+k3s1", "v1.36.9+k3s1"),  # numeric, not lexical
        ("v1.36.5+k3s1", "v1.36.5+k3s2"),
        ("v1.37.0-rc1+k3s1", "v1.37.0+k3s1"),  # a release after its candidates
        ("v1.36.3+k0s.2", "v1.37.2+k0s.0"),
        ("v1.37.2-rc.1+k0s.0", "v1.37.2+k0s.0"),
        ("1.33/stable", "1.34/stable"),
    ],
)
def test_versions_order_numerically(older: str, newer: str) -> None:
    assert version_key(older) < version_key(newer)


def make_plan(
    to: str | None,
    distro: str,
    provisioner: type[Provisioner] = HostProvisioner,
    image: str | None = None,
) -> UpgradePlan | None:
    return plan(
        to, image=image, specs=(parse_distro(distro),), provisioner=provisioner, reuse=False
    )


def test_patch_and_minor_upgrades_are_told_apart() -> None:
    # host provisioner: no image to look up, so no engine is needed here.
    patch = make_plan("v1.36.6+k3s1", "k3s:v1.36.5+k3s1")
    minor = make_plan("v1.37.2-k3s1", "k3s:v1.36.5+k3s1")
    assert patch is not None and patch.kind == "patch" and patch.image is None
    assert minor is not None and minor.kind == "minor" and minor.target == "v1.37.2+k3s1"
    snap = make_plan("1.34/stable", "microk8s:1.33/stable")
    assert snap is not None and snap.kind == "minor"
    assert make_plan(None, "k3s") is None


def test_a_provisioner_that_runs_images_takes_the_official_image_or_the_override(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    checked: list[str] = []

    def check(ref: str, *, flag: str, instead: str) -> None:
        checked.append(ref)

    monkeypatch.setattr(DockerProvisioner, "check_image_available", check)
    official = make_plan("v1.37.2+k3s1", "k3s:v1.36.5+k3s1", DockerProvisioner)
    vendor = make_plan("v1.37.2+k3s1", "k3s:v1.36.5+k3s1", DockerProvisioner, "vendor/k3s:x")
    assert official is not None and official.image == "rancher/k3s:v1.37.2-k3s1"
    assert vendor is not None and vendor.image == "vendor/k3s:x"
    assert checked == ["rancher/k3s:v1.37.2-k3s1", "vendor/k3s:x"]


def run_usage_error(pytester: pytest.Pytester, *args: str) -> str:
    pytester.makepyfile(TEST_FILE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR, output
    assert "Traceback" not in output
    return output


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (
            ["--distro=k3s:v1.36.5+k3s1", "--distro-upgrade-to=1.34"],
            ["not a k3s version", "v1.36.5+k3s1"],
        ),
        (
            ["--distro=k3s:v1.36.5+k3s1", "--distro-upgrade-to=v1.36.3+k3s1"],
            ["is a downgrade from k3s:v1.36.5+k3s1"],
        ),
        (["--distro=k0s", "--distro-upgrade-to=v1.36.3+k0s.2"], ["the version it starts at"]),
        (
            ["--distro=k3s:v1.36.5+k3s1", "--distro-upgrade-to=v1.38.0+k3s1"],
            ["skips minor releases"],
        ),
        (
            ["--distro=k3s", "--distro=k0s", "--distro-upgrade-to=v1.37.2+k3s1"],
            ["needs exactly one --distro"],
        ),
        (["--distro=k3s", "--distro-upgrade-image=x/y:z"], ["add --distro-upgrade-to=VERSION"]),
        (
            ["--distro=k3s", "--distro-upgrade-to=v1.37.2+k3s1", "--distro-probe-interval=0"],
            ["--distro-probe-interval"],
        ),
        (
            ["--distro=k3s", "--distro-upgrade-to=v1.37.2+k3s1", "--distro-max-downtime=-1"],
            ["--distro-max-downtime"],
        ),
    ],
)
def test_usage_errors(pytester: pytest.Pytester, args: list[str], words: list[str]) -> None:
    output = run_usage_error(pytester, *args)
    for word in words:
        assert word in output


def test_an_existing_cluster_is_not_upgraded(pytester: pytest.Pytester) -> None:
    kubeconfig = pytester.path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: k, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
        "users: [{name: u, user: {token: abc}}]\n"
    )
    output = run_usage_error(
        pytester,
        "--distro=k3s",
        f"--distro-kubeconfig={kubeconfig}",
        "--distro-upgrade-to=v1.37.2+k3s1",
    )
    assert "is not this run's to change" in output


@pytest.mark.docker
def test_a_target_image_that_cannot_be_had_is_a_usage_error(pytester: pytest.Pytester) -> None:
    ref = "pytest-k8sdistro-test/no-such-image:v1.37.2-k3s1"
    output = run_usage_error(
        pytester,
        "--distro=k3s",
        "--distro-upgrade-to=v1.37.2+k3s1",
        f"--distro-upgrade-image={ref}",
    )
    assert f"the image {ref} is not on this Docker engine" in output
    assert "docker save" in output and "--distro-upgrade-image=REF" in output


def test_without_upgrade_to_the_suite_skips(pytester: pytest.Pytester) -> None:
    from pathlib import Path

    suite = Path(__file__).resolve().parent.parent / "suites" / "test_upgrade.py"
    result = pytester.runpytest_subprocess(
        str(suite), "-p", "no:cacheprovider", "--distro=k3s", "-rs"
    )
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*pass --distro-upgrade-to=VERSION*"])
