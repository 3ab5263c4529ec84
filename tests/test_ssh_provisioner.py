"""The ssh provisioner against a real sshd, installing a stand-in k3s from local artifacts.

The machine is a container from the sshd test image (tests/sshd/), reached only on
ports published on 127.0.0.1. What is installed is the project's stand-in k3s
(tests/sshd/artifacts.py), so these tests prove the SSH path, sudo, the air-gapped
artifact path, the kubeconfig and teardown; they say nothing about real k3s.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import docker
import pytest
from polling import api_version
from sshd.artifacts import VERSION, write_artifacts
from sshd.fixtures import SshMachine
from sshd.image import PLAIN_USER, SUDO_USER

from pytest_k8sdistro.config.settings import Settings
from pytest_k8sdistro.distros.install import Artifact
from pytest_k8sdistro.distros.spec import parse_distro
from pytest_k8sdistro.errors import ProvisionError
from pytest_k8sdistro.model.cluster import RunIdentity
from pytest_k8sdistro.progress import Progress
from pytest_k8sdistro.provisioners.machine import lease
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
        assert api_version(cluster.kubeconfig).startswith("v1.36.5")
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
    for name in ("conftest.py", "test_cluster.py"):
        (pytester.path / name).write_text((SUITES / name).read_text())
    pytester.makepyfile(test_node=NODE_TEST)
    artifacts = write_artifacts(tmp_path / "artifacts")
    result = pytester.runpytest_subprocess(
        "--distro=k3s",
        f"--distro-provisioner={ssh_machine.url(SUDO_USER)}",
        *(f"--distro-install-artifact={kind}={path}" for kind, path in artifacts.items()),
        "--distro-ready-timeout=180",
        "-p",
        "no:cacheprovider",
        "-s",
    )
    result.assert_outcomes(passed=8)
    result.stderr.fnmatch_lines(
        [
            "*installing on ci@127.0.0.1:* (air-gapped, from local artifacts)*",
            "*sudo -n -- env INSTALL_K3S_VERSION=v1.36.5+k3s1 INSTALL_K3S_SKIP_DOWNLOAD=true sh *",
            "*uninstalling k3s from ci@127.0.0.1:*",
        ]
    )
    assert leftovers(ssh_machine) == []


# A run that installs over ssh, says so, and waits to be killed: it never tears down.
DEAD_RUN = """
import json, sys, time
from pathlib import Path
from pytest_k8sdistro.config.settings import Settings
from pytest_k8sdistro.distros.install import Artifact
from pytest_k8sdistro.distros.spec import parse_distro
from pytest_k8sdistro.model.cluster import RunIdentity
from pytest_k8sdistro.progress import Progress
from pytest_k8sdistro.provisioners.machine.ssh import SshProvisioner

url, artifacts, work = sys.argv[1], json.loads(sys.argv[2]), Path(sys.argv[3])
settings = Settings(
    distros=(parse_distro("k3s"),), ready_timeout=120, provisioner="ssh",
    provisioner_target=url,
    install_artifacts=tuple(Artifact(k, Path(p)) for k, p in artifacts.items()),
)
provisioner = SshProvisioner(settings, RunIdentity.new(), work, Progress(None))
provisioner.create(parse_distro("k3s"), "k3s-doomed")
print("installed", flush=True)
time.sleep(600)
"""


def lock_is_free(machine: SshMachine) -> bool:
    engine = docker.from_env()
    try:
        code, _ = machine.exec(engine, f"flock -n {lease.LOCK} true")
    finally:
        engine.close()
    return code == 0


def test_what_a_run_killed_with_sigkill_left_is_removed_by_the_next_run(
    ssh_machine: SshMachine, tmp_path: Path
) -> None:
    artifacts = write_artifacts(tmp_path / "artifacts")
    url = ssh_machine.url(SUDO_USER)
    script = tmp_path / "dead_run.py"
    script.write_text(DEAD_RUN)
    doomed = subprocess.Popen(
        [sys.executable, str(script), url, json.dumps({k: str(p) for k, p in artifacts.items()}),
         str(tmp_path / "dead-work")],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert doomed.stdout is not None
        assert doomed.stdout.readline().strip() == "installed"
    finally:
        doomed.send_signal(signal.SIGKILL)
        doomed.wait()
    left = leftovers(ssh_machine)
    assert "/usr/local/bin/k3s" in left, "the killed run should have left its install behind"
    engine = docker.from_env()
    try:
        code, record = ssh_machine.exec(engine, f"cat {lease.RECORD}")
    finally:
        engine.close()
    assert code == 0 and "k3s-doomed" in record
    # The lock goes with the dead run's connection: nothing on the machine keeps it.
    deadline = time.monotonic() + 30
    while not lock_is_free(ssh_machine):
        assert time.monotonic() < deadline, "the dead run's lock was never released"
        time.sleep(0.5)

    said: list[str] = []
    progress = Progress(None)
    progress.say = said.append  # type: ignore[method-assign]
    provisioner = SshProvisioner(
        settings(url, artifacts), RunIdentity.new(), tmp_path / "work", progress
    )
    cluster = provisioner.create(parse_distro("k3s"), "k3s-next")
    try:
        assert any("ended without cleaning up" in line and "k3s-doomed" in line for line in said)
        assert not lock_is_free(ssh_machine), "the live run must hold the machine's lock"
    finally:
        provisioner.destroy(cluster)
    assert leftovers(ssh_machine) == []
    engine = docker.from_env()
    try:
        _, remaining = ssh_machine.exec(
            engine, f"ls /tmp; ls {lease.STATE_DIR}; ps -eo args | grep -c '[l]ease-held'"
        )
    finally:
        engine.close()
    assert "k8sdistro-" not in remaining and "owner.json" not in remaining
    assert remaining.split()[-1] == "0", "a lease holder outlived its run"
    assert lock_is_free(ssh_machine)


def test_a_machine_a_live_run_holds_is_never_touched(
    ssh_machine: SshMachine, tmp_path: Path
) -> None:
    artifacts = write_artifacts(tmp_path / "artifacts")
    url = ssh_machine.url("root", api_host="localhost")
    first = SshProvisioner(
        settings(url, artifacts), RunIdentity.new(), tmp_path / "first", Progress(None)
    )
    cluster = first.create(parse_distro("k3s"), "k3s-live")
    try:
        second = SshProvisioner(
            settings(url, artifacts), RunIdentity.new(), tmp_path / "second", Progress(None)
        )
        with pytest.raises(lease.Busy, match=r"in use by a live run \w+ \(pid \d+ on .*k3s-live"):
            second.create(parse_distro("k3s"), "k3s-intruder")
        # The first run's cluster is untouched: still installed, still answering.
        assert api_version(cluster.kubeconfig).startswith("v1.36.5")
    finally:
        first.destroy(cluster)
    assert leftovers(ssh_machine) == []


def test_a_kept_cluster_is_spared_until_a_run_reuses_or_removes_it(
    ssh_machine: SshMachine, tmp_path: Path
) -> None:
    artifacts = write_artifacts(tmp_path / "artifacts")
    url = ssh_machine.url("root", api_host="localhost")

    def run(name: str) -> SshProvisioner:
        return SshProvisioner(
            settings(url, artifacts), RunIdentity.new(), tmp_path / name, Progress(None)
        )

    keeper = run("keeper")
    cluster = keeper.create(parse_distro("k3s"), "k3s-kept")
    keeper.keep(cluster)
    assert lock_is_free(ssh_machine), "keeping a cluster must not hold the machine"
    with pytest.raises(
        ProvisionError, match=r"holds the cluster kept by run .*--distro-reuse-cluster"
    ):
        run("fresh").create(parse_distro("k3s"), "k3s-other")
    assert "/usr/local/bin/k3s" in leftovers(ssh_machine), "a kept cluster was removed"
    reuser = run("reuser")
    assert reuser.attach(cluster)
    reuser.destroy(cluster)
    assert leftovers(ssh_machine) == []
