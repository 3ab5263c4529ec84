"""The ssh provisioner against a real sshd, installing a stand-in k3s from local artifacts.

The machine is a container from the sshd test image (tests/sshd/), reached only on
ports published on 127.0.0.1. What is installed is the project's stand-in k3s
(tests/sshd/artifacts.py), so these tests prove the SSH path, sudo, the air-gapped
artifact path, the kubeconfig and teardown; they say nothing about real k3s.
"""

from __future__ import annotations

from pathlib import Path

import docker
import pytest
from sshd.artifacts import VERSION, write_artifacts
from sshd.fixtures import SshMachine
from sshd.image import PLAIN_USER, SUDO_USER

from pytest_k8sdistro.config.settings import Settings
from pytest_k8sdistro.distros.install import Artifact
from pytest_k8sdistro.distros.spec import parse_distro
from pytest_k8sdistro.errors import ProvisionError
from pytest_k8sdistro.kube import api as kube_clients
from pytest_k8sdistro.kube.client import Kube
from pytest_k8sdistro.model.cluster import RunIdentity
from pytest_k8sdistro.progress import Progress
from pytest_k8sdistro.provisioners.machine.ssh import SshProvisioner

pytestmark = pytest.mark.docker

SUITES = Path(__file__).resolve().parents[1] / "suites"
FILES = (
    "/usr/local/bin/k3s",
    "/usr/local/bin/k3s-uninstall.sh",
    "/etc/rancher/k3s",
    "/var/lib/rancher/k3s",
)


def leftovers(machine: SshMachine) -> list[str]:
    """Files and processes of the stand-in k3s still on the machine."""
    engine = docker.from_env()
    try:
        _, files = machine.exec(engine, f"ls -d {' '.join(FILES)} 2>/dev/null")
        _, processes = machine.exec(engine, "ps -eo args")
    finally:
        engine.close()
    return files.split() + [
        line for line in processes.splitlines() if "k8s_standin" in line or "bin/k3s " in line
    ]


def settings(url: str, artifacts: dict[str, Path]) -> Settings:
    return Settings(
        distros=(parse_distro("k3s"),),
        ready_timeout=120,
        provisioner="ssh",
        provisioner_target=url,
        install_artifacts=tuple(Artifact(kind, path) for kind, path in artifacts.items()),  # type: ignore[arg-type]
    )


def test_root_login_installs_reads_the_kubeconfig_and_uninstalls(
    ssh_machine: SshMachine,
    tmp_path: Path,
) -> None:
    artifacts = write_artifacts(tmp_path / "artifacts")
    url = ssh_machine.url("root", api_host="localhost")
    provisioner = SshProvisioner(
        settings(url, artifacts), RunIdentity.new(), tmp_path / "work", Progress(None)
    )
    spec = parse_distro("k3s")
    cluster = provisioner.create(spec, "k3s-ssh-root")
    engine = docker.from_env()
    try:
        assert cluster.details["sudo"] is False
        assert cluster.details["downloads"] is False
        assert cluster.api_server == f"https://localhost:{ssh_machine.api_port}"
        assert cluster.nodes[0].host_spec.startswith(
            f"ssh://root@127.0.0.1:{ssh_machine.ssh_port}?"
        )
        assert "sudo" not in cluster.nodes[0].host_spec
        assert (Path(cluster.kubeconfig).stat().st_mode & 0o777) == 0o600
        # Reached as "localhost", verified as 127.0.0.1: the name the server's certificate has.
        assert "tls-server-name: 127.0.0.1" in Path(cluster.kubeconfig).read_text()
        api = kube_clients.api_client(cluster.kubeconfig)
        try:
            assert Kube(api).version.get_code().git_version.startswith("v1.33.6")
        finally:
            api.close()  # type: ignore[no-untyped-call]
        code, _ = ssh_machine.exec(
            engine, "test -f /var/lib/rancher/k3s/agent/images/k3s-airgap-images-amd64.tar"
        )
        assert code == 0, "the images tarball was not placed in the agent's images directory"
        code, out = ssh_machine.exec(engine, "cat /var/lib/rancher/k3s/.install-version")
        assert out.strip() == VERSION
        assert "k3s" in provisioner.logs(cluster)
    finally:
        provisioner.destroy(cluster)
    assert leftovers(ssh_machine) == []
    code, out = ssh_machine.exec(engine, "ls /tmp")
    assert "k8sdistro-" not in out, "the staging directory was left behind"


def test_a_user_without_passwordless_sudo_is_told_what_to_do(
    ssh_machine: SshMachine,
    tmp_path: Path,
) -> None:
    artifacts = write_artifacts(tmp_path / "artifacts")
    provisioner = SshProvisioner(
        settings(ssh_machine.url(PLAIN_USER), artifacts),
        RunIdentity.new(),
        tmp_path / "work",
        Progress(None),
    )
    with pytest.raises(ProvisionError, match="passwordless sudo"):
        provisioner.create(parse_distro("k3s"), "k3s-ssh-nosudo")


NODE_TEST = """
import yaml

def test_the_node_is_the_ssh_machine_through_testinfra(node, cluster):
    assert node.backend.NAME == "ssh"
    assert node.check_output("id -un") == "root"  # sudo=true in the host spec
    assert node.user().name == "root"
    assert node.file("/var/lib/rancher/k3s/agent/images/k3s-airgap-images-amd64.tar").exists
    assert node.file("/etc/rancher/k3s/k3s.yaml").mode == 0o600
    assert cluster.provisioner == "ssh" and cluster.details["sudo"] is True
"""


def test_suites_run_against_a_sudo_user_install(
    pytester: pytest.Pytester,
    ssh_machine: SshMachine,
    tmp_path: Path,
) -> None:
    for name in ("conftest.py", "suite_support.py", "test_cluster.py"):
        (pytester.path / name).write_text((SUITES / name).read_text())
    pytester.makepyfile(test_node=NODE_TEST)
    artifacts = write_artifacts(tmp_path / "artifacts")
    result = pytester.runpytest_subprocess(
        "--distro=k3s",
        f"--provisioner={ssh_machine.url(SUDO_USER)}",
        *(f"--install-artifact={kind}={path}" for kind, path in artifacts.items()),
        "--ready-timeout=180",
        "-p",
        "no:cacheprovider",
        "-s",
    )
    result.assert_outcomes(passed=8)
    result.stderr.fnmatch_lines(
        [
            "*installing on ci@127.0.0.1:* (air-gapped, from local artifacts)*",
            "*sudo -n -- env INSTALL_K3S_VERSION=v1.33.6+k3s1 INSTALL_K3S_SKIP_DOWNLOAD=true sh *",
            "*uninstalling k3s from ci@127.0.0.1:*",
        ]
    )
    assert leftovers(ssh_machine) == []
