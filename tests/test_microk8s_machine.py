"""microk8s end to end on a stand-in machine: the plugin's own install, suites and removal.

The machine is the sshd test container with a stand-in ``snap`` and a local store
(tests/sshd/microk8s.py), so these tests prove the plugin's microk8s path (``snap
install``, ``microk8s status --wait-ready``, ``microk8s enable``, ``microk8s config``,
``snap remove --purge``, the offline ``.snap``/``.assert`` pair) and the suites'
microk8s expectations against a cluster that follows microk8s's defaults. They say
nothing about real microk8s.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from sshd.fixtures import SshMachine
from sshd.image import SUDO_USER
from sshd.installed import ROOT, SITE, build_wheel, site_archive
from sshd.microk8s import PATH, TRACKS, Microk8sMachine, prepare, snap_file

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
#: MetalLB's range: addresses announced nowhere by the stand-in, reached as on a real node,
#: through kube-proxy's rules on the machine (over SSH, a forward made there).
METALLB = "metallb:10.64.140.43-10.64.140.49"
LEFT = ("/snap/microk8s", "/var/snap/microk8s", "/snap/bin/microk8s")


@pytest.fixture
def microk8s_machine(ssh_machine: SshMachine) -> Iterator[Microk8sMachine]:
    engine = docker.from_env()
    try:
        prepare(engine, ssh_machine)
    finally:
        engine.close()
    yield Microk8sMachine(ssh_machine)


def exec_on(machine: Microk8sMachine, command: str) -> tuple[int, str]:
    engine = docker.from_env()
    try:
        return machine.machine.exec(engine, command)
    finally:
        engine.close()


def leftovers(machine: Microk8sMachine) -> list[str]:
    _, files = exec_on(machine, f"ls -d {' '.join(LEFT)} 2>/dev/null")
    _, processes = exec_on(machine, "ps -eo args")
    return files.split() + [line for line in processes.splitlines() if "k8s_standin" in line]


def provisioner(url: str, tmp_path: Path, **settings: object) -> SshProvisioner:
    values: dict[str, object] = {
        "distros": (parse_distro("microk8s"),),
        "ready_timeout": 180,
        "provisioner": "ssh",
        "provisioner_target": url,
    }
    values.update(settings)
    return SshProvisioner(
        Settings(**values),  # type: ignore[arg-type]
        RunIdentity.new(),
        tmp_path / "work",
        Progress(None),
    )


def test_a_channel_install_serves_microk8s_defaults_and_removal_leaves_nothing(
    microk8s_machine: Microk8sMachine, tmp_path: Path
) -> None:
    made = provisioner(
        microk8s_machine.url("root"), tmp_path, distro_addons=("dns", "hostpath-storage")
    )
    cluster = made.create(parse_distro("microk8s"), "mk8s-root")
    try:
        api = kube_clients.api_client(cluster.kubeconfig)
        try:
            kube = Kube(api)
            version, _revision = TRACKS["1.36"]
            assert kube.version.get_code().git_version == version
            dns = kube.core.read_namespaced_service("kube-dns", "kube-system")
            assert dns.spec.cluster_ip == "10.152.183.10"
            classes = {c.metadata.name: c for c in kube.storage.list_storage_class().items}
            hostpath = classes["microk8s-hostpath"]
            assert hostpath.provisioner == "microk8s.io/hostpath"
            assert hostpath.volume_binding_mode == "WaitForFirstConsumer"
        finally:
            api.close()  # type: ignore[no-untyped-call]
        _, status = exec_on(microk8s_machine, "/snap/bin/microk8s status")
        assert "microk8s is running" in status and "hostpath-storage" in status
        code, _ = exec_on(
            microk8s_machine, "test -d /var/snap/microk8s/current/var/kubernetes/backend"
        )
        assert code == 0, "the datastore is not where dqlite keeps it"
        # The daemon's own log, from its start (its last lines may be anything).
        assert "kubelite" in made.logs(cluster, tail=5000)
    finally:
        made.destroy(cluster)
    assert leftovers(microk8s_machine) == []


def test_an_offline_snap_and_its_assertion_install_through_sudo(
    microk8s_machine: Microk8sMachine, tmp_path: Path
) -> None:
    snap, signed = snap_file(tmp_path / "artifacts", "1.35")
    made = provisioner(
        microk8s_machine.url(SUDO_USER),
        tmp_path,
        distros=(parse_distro("microk8s:1.35/stable"),),
        install_artifacts=(Artifact("snap", snap), Artifact("assert", signed)),
    )
    cluster = made.create(parse_distro("microk8s:1.35/stable"), "mk8s-offline")
    try:
        assert cluster.details["downloads"] is False and cluster.details["sudo"] is True
        _, listed = exec_on(microk8s_machine, "snap list")
        assert TRACKS["1.35"][1] in listed, "the store's revision, from the assertion"
    finally:
        made.destroy(cluster)
    assert leftovers(microk8s_machine) == []


def test_a_machine_whose_microk8s_never_gets_ready_is_reported_with_the_wait(
    microk8s_machine: Microk8sMachine, tmp_path: Path
) -> None:
    exec_on(microk8s_machine, "echo STANDIN_NEVER_READY=1 >/etc/snapd-standin/environment")
    made = provisioner(microk8s_machine.url("root"), tmp_path, ready_timeout=20)
    with pytest.raises(ProvisionError, match="microk8s status --wait-ready --timeout 20"):
        made.create(parse_distro("microk8s"), "mk8s-never")
    assert leftovers(microk8s_machine) == []


def test_a_microk8s_the_plugin_did_not_install_is_left_alone(
    microk8s_machine: Microk8sMachine, tmp_path: Path
) -> None:
    """The machine's owner installed microk8s: the run refuses it, and its failure's
    clean-up must not remove what it did not install."""
    code, output = exec_on(
        microk8s_machine, "snap install microk8s --classic --channel=1.35/stable"
    )
    assert code == 0, output
    made = provisioner(microk8s_machine.url("root"), tmp_path)
    with pytest.raises(ProvisionError, match=r"microk8s is already installed on .*, and not by"):
        made.create(parse_distro("microk8s"), "mk8s-theirs")
    _, listed = exec_on(microk8s_machine, "snap list microk8s")
    assert TRACKS["1.35"][1] in listed, "the owner's microk8s was touched"
    _, record = exec_on(microk8s_machine, "ls /var/lib/pytest-k8sdistro/owner.json 2>&1")
    assert "No such file" in record, "the run left its record behind"


def test_a_second_cluster_of_the_run_on_the_same_machine_is_refused(
    microk8s_machine: Microk8sMachine, tmp_path: Path
) -> None:
    """One machine holds one installation: a second cluster would be installed over the
    first, and its failure would uninstall the first."""
    made = provisioner(microk8s_machine.url("root"), tmp_path)
    first = made.create(parse_distro("microk8s"), "mk8s-first")
    try:
        with pytest.raises(ProvisionError, match="already holds this run's cluster mk8s-first"):
            made.create(parse_distro("microk8s"), "mk8s-second")
        api = kube_clients.api_client(first.kubeconfig)
        try:
            assert Kube(api).core.list_node().items, "the first cluster stopped serving"
        finally:
            api.close()  # type: ignore[no-untyped-call]
    finally:
        made.destroy(first)
    assert leftovers(microk8s_machine) == []


def test_the_suites_pass_against_microk8s_over_ssh(
    pytester: pytest.Pytester, microk8s_machine: Microk8sMachine
) -> None:
    for path in SUITES.glob("*.py"):
        (pytester.path / path.name).write_text(path.read_text())
    result = pytester.runpytest_subprocess(
        "--distro=microk8s",
        f"--distro-provisioner={microk8s_machine.url(SUDO_USER)}",
        # rbac here, and not on the host run below: the access-control suite checks
        # both the refusal with the addon and its absence without.
        f"--distro-addons=dns,hostpath-storage,ingress,metrics-server,rbac,{METALLB}",
        "--distro-ready-timeout=180",
        f"--distro-report={pytester.path / 'report'}",
        "--ignore=test_footprint.py",
        "--ignore=test_upgrade.py",
        "-rs",
        "-p",
        "no:cacheprovider",
        timeout=900,
    )
    outcomes = result.parseoutcomes()
    assert result.ret == 0, result.stdout.str()[-6000:]
    assert outcomes.get("passed", 0) >= 20 and not outcomes.get("failed")
    # What microk8s does not offer without its addons is skipped, and says so.
    skipped = [line for line in result.stdout.lines if line.startswith("SKIPPED")]
    print("\n".join(skipped))
    # One line per reason; "SKIPPED [2] ..." stands for two tests.
    counted = sum(int(re.match(r"SKIPPED \[(\d+)\]", line).group(1)) for line in skipped)  # type: ignore[union-attr]
    assert counted == outcomes.get("skipped", 0), skipped
    # MetalLB's address is reached through a forward over SSH, not skipped.
    assert not [line for line in skipped if "test_load_balancer" in line], skipped
    # With the rbac addon, RBAC is on: the refusal of a fresh account was checked.
    assert not [line for line in skipped if "test_access_control" in line], skipped
    report = json.loads((pytester.path / "report.json").read_text())
    (entry,) = report["distros"].values()
    assert entry["suites"]["access_control"]["passed"] >= 1, entry["suites"]
    assert leftovers(microk8s_machine) == []


#: The upgrade suite judges microk8s as a hitless distribution here, so that a refresh
#: that restarts the workload fails (the profile itself claims no hitless refresh).
HITLESS = "microk8s:\n  hitless_upgrade: true\n"


def run_upgrade(pytester: pytest.Pytester, machine: Microk8sMachine) -> pytest.RunResult:
    for name in ("conftest.py", "test_upgrade.py"):
        (pytester.path / name).write_text((SUITES / name).read_text())
    (pytester.path / "hitless.yaml").write_text(HITLESS)
    return pytester.runpytest_subprocess(
        "--distro=microk8s:1.35/stable",
        f"--distro-provisioner={machine.url(SUDO_USER)}",
        "--distro-upgrade-to=1.36/stable",
        "--distro-expect=hitless.yaml",
        "--distro-ready-timeout=180",
        "-p",
        "no:cacheprovider",
        timeout=900,
    )


def test_a_snap_refresh_keeps_the_workload_and_one_that_restarts_it_fails(
    pytester: pytest.Pytester, microk8s_machine: Microk8sMachine
) -> None:
    kept = run_upgrade(pytester, microk8s_machine)
    assert kept.ret == 0, kept.stdout.str()[-6000:]
    kept.assert_outcomes(passed=1)
    kept.stderr.fnmatch_lines(["*snap refresh microk8s --channel=1.36/stable*"])
    assert leftovers(microk8s_machine) == []

    exec_on(microk8s_machine, "echo STANDIN_KILL_PODS_ON_RESTART=1 >/etc/snapd-standin/environment")
    killed = run_upgrade(pytester, microk8s_machine)
    killed.assert_outcomes(failed=1)
    killed.stdout.fnmatch_lines(["*microk8s claims hitless upgrades, but the upgrade interrupted*"])
    assert leftovers(microk8s_machine) == []


def test_faults_of_microk8s_fail_exactly_their_suites(
    pytester: pytest.Pytester, microk8s_machine: Microk8sMachine
) -> None:
    """An ingress addon without its default class and a hostpath provisioner that never
    starts: the ingress and storage suites fail with what they found, nothing else does."""
    exec_on(
        microk8s_machine,
        "printf 'STANDIN_MISSING_INGRESSCLASS=1\\nSTANDIN_BROKEN_ADDON=hostpath-storage\\n' "
        ">/etc/snapd-standin/environment",
    )
    for name in ("conftest.py", "test_ingress.py", "test_storage.py", "test_cluster.py"):
        (pytester.path / name).write_text((SUITES / name).read_text())
    result = pytester.runpytest_subprocess(
        "--distro=microk8s",
        f"--distro-provisioner={microk8s_machine.url('root')}",
        "--distro-addons=dns,hostpath-storage,ingress",
        "--distro-ready-timeout=180",
        "--distro-suite-timeout=30",
        "-p",
        "no:cacheprovider",
        timeout=900,
    )
    failed = {
        line.split("::")[1].split("[")[0]
        for line in result.stdout.lines
        if line.startswith("FAILED ")
    }
    assert failed >= {
        "test_ingress_classes_match_profile",
        "test_provisioning_respects_the_binding_mode",
    }, result.stdout.str()[-6000:]
    # The cluster itself answers: only the suites of the broken parts fail.
    assert not {name for name in failed if "storage_class" in name or "node" in name}
    assert not [
        line for line in result.stdout.lines if "test_cluster.py" in line and "FAILED" in line
    ]
    assert leftovers(microk8s_machine) == []


def run_in_machine(machine: SshMachine, user: str, command: str, *, timeout: float) -> str:
    """``command`` in the machine as ``user``, with the packed plugin on PYTHONPATH."""
    done = subprocess.run(
        [
            "docker", "exec", "-u", user, "-w", f"/home/{user}",
            "-e", f"PYTHONPATH={SITE}", "-e", f"PATH={PATH}",
            machine.container_id, "sh", "-c", command,
        ],
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    return f"exit status {done.returncode}\n{done.stdout}{done.stderr}"


#: The suites behind the report's feature rows, as modules of the installed package.
HOST_SUITES = tuple(
    f"pytest_k8sdistro.suites.test_{name}"
    for name in ("cluster", "dns", "storage", "ingress", "load_balancer", "metrics")
)


def test_the_installed_suites_pass_against_microk8s_on_the_host_inside_the_machine(
    microk8s_machine: Microk8sMachine, tmp_path: Path
) -> None:
    """--distro-provisioner=host, where it belongs: pytest runs on the machine itself (the
    container, never the CI host), from the installed package, and the plugin installs
    microk8s there with sudo and removes it afterwards. The suites of the report's
    feature rows run here; all of them run over SSH above."""
    machine = microk8s_machine.machine
    engine = docker.from_env()
    try:
        archive = site_archive(build_wheel(tmp_path / "wheel"))
        assert engine.containers.get(machine.container_id).put_archive("/", archive)
    finally:
        engine.close()
    output = run_in_machine(
        machine,
        SUDO_USER,
        f"python3 -m pytest --pyargs {' '.join(HOST_SUITES)} --distro=microk8s "
        "--distro-provisioner=host --distro-allow-host-install "
        f"--distro-addons=dns,hostpath-storage,ingress,metrics-server,{METALLB} "
        "--distro-ready-timeout=180 "
        "--distro-report=report -rs -p no:cacheprovider",
        timeout=900,
    )
    (tmp_path / "run.log").write_text(output)
    assert output.startswith("exit status 0\n"), (
        f"{output[-6000:]}\n(all of it: {tmp_path}/run.log)"
    )
    counts = {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|failed|skipped)", output)}
    assert counts.get("passed", 0) >= 12 and not counts.get("failed"), output[-3000:]
    assert str(ROOT) not in output, "the run used files of the checkout"
    # The report's feature rows are measured on this machine.
    report = run_in_machine(machine, SUDO_USER, "cat report.json", timeout=60)
    data = json.loads(report.split("\n", 1)[1])
    (entry,) = data["distros"].values()
    for name in ("cluster", "dns", "storage", "ingress", "load_balancer", "metrics"):
        assert entry["suites"][name]["passed"] > 0, (name, entry["suites"][name])
    assert leftovers(microk8s_machine) == []
