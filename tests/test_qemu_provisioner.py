"""The qemu provisioner boots the VM test image and installs a stand-in k3s in it.

The image is tests/vm/image.py's (Debian with cloud-init and sshd, booted with its
own kernel: direct kernel boot), run under TCG. What is installed is the project's
stand-in k3s (tests/sshd/artifacts.py), air-gapped, so these tests prove the VM's
life (overlay, seed, forwards on 127.0.0.1, power-off, reaping) and the machine path
inside it; they say nothing about real k3s. One VM per test: each boot is ~35 s.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import urllib3
from polling import api_version
from sshd.artifacts import write_artifacts
from vm.image import VmImage, ensure_image

from pytest_k8sdistro.config.settings import Settings
from pytest_k8sdistro.distros.install import Artifact
from pytest_k8sdistro.distros.spec import parse_distro
from pytest_k8sdistro.errors import ProvisionError
from pytest_k8sdistro.measure.footprint.nodes import memory_of
from pytest_k8sdistro.model.cache import CACHE_ENV
from pytest_k8sdistro.model.cluster import RunIdentity
from pytest_k8sdistro.progress import Progress
from pytest_k8sdistro.provisioners import process
from pytest_k8sdistro.provisioners.machine.qemu import command, state
from pytest_k8sdistro.provisioners.machine.qemu.provisioner import QemuProvisioner

pytestmark = pytest.mark.vm
#: QEMU's user-mode network gives the guest this address.
GUEST_ADDRESS = "10.0.2.15"
urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)


def vm_settings(artifacts: dict[str, Path]) -> Settings:
    image = ensure_image(print)
    return Settings(
        distros=(parse_distro("k3s"),),
        ready_timeout=300,
        provisioner="qemu",
        install_artifacts=tuple(Artifact(kind, path) for kind, path in artifacts.items()),  # type: ignore[arg-type]
        # KVM hangs guests on the project's machines; CI runners could use it.
        vm_accel="tcg",
        vm_image=image.disk,
        vm_kernel=image.kernel,
        vm_initrd=image.initrd,
        vm_cmdline=image.cmdline,
        node_memory=2 * 2**30,
        node_cpus=2,
    )


@pytest.fixture(autouse=True)
def own_vm_root(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A plugin cache of the test's own, and so a directory of VMs (``<cache>/vms``) that
    no other test's runs share: runs reap dead runs' VMs there, and the tests look in it
    for their run's VM while other VM tests run beside them. Its runs inherit it. Short,
    under /tmp: a VM's QMP socket is in its directory, and a Unix socket's path has at
    most 107 bytes (tmp_path is far too deep)."""
    cache = Path(tempfile.mkdtemp(prefix="k8sd-vms-", dir="/tmp"))
    monkeypatch.setenv(CACHE_ENV, str(cache))
    yield cache / "vms"
    shutil.rmtree(cache, ignore_errors=True)


def qemu_pids() -> list[int]:
    """The QEMUs running VMs of this test's directory of VMs (other tests' are not ours)."""
    root = str(state.state_root())
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and process.running(int(entry.name)):
            argv = process.cmdline(int(entry.name))
            if argv and Path(argv[0]).name == command.QEMU and any(root in a for a in argv):
                found.append(int(entry.name))
    return found


def test_a_vm_boots_installs_air_gapped_answers_on_loopback_and_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = vm_settings(write_artifacts(tmp_path / "artifacts"))
    QemuProvisioner.check_config(settings, settings.distros)
    provisioner = QemuProvisioner(settings, RunIdentity.new(), tmp_path / "work", Progress(None))
    before = set(qemu_pids())
    started = time.monotonic()
    cluster = provisioner.create(parse_distro("k3s"), "k3s-vm")
    timings = {"create (boot + install)": time.monotonic() - started}
    directory = Path(cluster.details["vm"]["directory"])
    try:
        assert directory.parent == provisioner.state_root
        forwards = cluster.details["vm"]["forwards"]
        assert cluster.api_server == f"https://127.0.0.1:{forwards['6443']}"
        assert set(forwards) == {"22", "6443", "80", "443", "8080", "8443"}
        assert cluster.ports == {f"{p}/tcp": forwards[str(p)] for p in (80, 443, 8080, 8443)}
        argv = process.cmdline(int((directory / "qemu.pid").read_text()))
        netdev = argv[argv.index("-netdev") + 1]
        assert "restrict=on" in netdev  # the install downloads nothing
        assert netdev.count("hostfwd=tcp:127.0.0.1:") == 6, netdev
        assert (Path(cluster.kubeconfig).stat().st_mode & 0o777) == 0o600
        # The kubeconfig is written before the API serves (a run's readiness wait
        # covers that); under TCG the gap can be seconds.
        assert api_version(cluster.kubeconfig).startswith("v1.36.5")
        memory = memory_of(provisioner, cluster)
        used = memory.read()
        assert "MemTotal - MemAvailable" in memory.source
        assert memory.method == "MemTotal - MemAvailable"
        # The guest has 2 GiB; a booted Debian with the stand-in uses some of it.
        assert 50 * 2**20 < used < 2 * 2**30, used
        assert owner_record(directory)["hostname"] == provisioner.run.hostname
        # An address on the VM's own network (its user-mode NIC, as a load balancer's
        # would be announced there), reached through a forward over the VM's SSH.
        reached = provisioner.reach(cluster, GUEST_ADDRESS, 6443)
        assert reached[0] == "127.0.0.1" and reached[1] != forwards["6443"], reached
        answer = requests.get(f"https://127.0.0.1:{reached[1]}/version", verify=False, timeout=30)
        assert answer.status_code in {200, 401, 403}, answer.text
    finally:
        started = time.monotonic()
        provisioner.destroy(cluster)
        timings["destroy"] = time.monotonic() - started
    with capsys.disabled():
        print(", ".join(f"{what}: {seconds:.0f} s" for what, seconds in timings.items()))
    assert not directory.exists(), sorted(p.name for p in directory.iterdir())
    assert set(qemu_pids()) <= before, "a QEMU of this test is still running"
    with socket.socket() as probe:  # the forward ended with the cluster
        assert probe.connect_ex(reached) != 0
    out = capsys.readouterr().err
    assert "accelerator tcg" in out


def owner_record(directory: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((directory / state.RECORD).read_text())
    return data


# A run that boots a VM, says so, and waits to be killed: it never tears down.
DEAD_RUN = """
import json, sys, time
from pathlib import Path
from pytest_k8sdistro.config.settings import Settings
from pytest_k8sdistro.distros.spec import parse_distro
from pytest_k8sdistro.errors import ProvisionError
from pytest_k8sdistro.model.cluster import RunIdentity
from pytest_k8sdistro.progress import Progress
from pytest_k8sdistro.provisioners.machine.qemu.provisioner import QemuProvisioner

image, work = json.loads(sys.argv[1]), Path(sys.argv[2])
settings = Settings(
    distros=(parse_distro("k3s"),), ready_timeout=300, provisioner="qemu", vm_accel="tcg",
    vm_image=Path(image["disk"]), vm_kernel=Path(image["kernel"]),
    vm_initrd=Path(image["initrd"]), vm_cmdline=image["cmdline"], node_memory=1 << 30,
)
provisioner = QemuProvisioner(settings, RunIdentity.new(), work, Progress(None))
provisioner._specs["k3s-doomed"] = parse_distro("k3s")
target = provisioner.target("k3s-doomed", creating=True)
print(json.dumps(provisioner._vms["k3s-doomed"].directory.path.as_posix()), flush=True)
time.sleep(600)
"""


def test_a_killed_runs_vm_is_reaped_and_nothing_else_is_touched(tmp_path: Path) -> None:
    image = ensure_image(print)
    root = state.state_root()
    root.mkdir(parents=True, exist_ok=True)
    # Beside it: a QEMU started by hand and a directory without our owner record.
    foreign_dir = root / f"by-hand-{os.getpid()}"
    foreign_dir.mkdir()
    (foreign_dir / "overlay.qcow2").write_text("not ours")
    by_hand = subprocess.Popen(
        [command.QEMU, "-machine", "none", "-display", "none", "-S", "-nodefaults"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    doomed = subprocess.Popen(
        [sys.executable, "-c", DEAD_RUN, json.dumps({
            "disk": str(image.disk), "kernel": str(image.kernel), "initrd": str(image.initrd),
            "cmdline": image.cmdline,
        }), str(tmp_path / "doomed")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert doomed.stdout is not None
        line = doomed.stdout.readline()
        assert line, doomed.communicate()[1]
        directory = Path(json.loads(line))
        qemu_pid = int((directory / "qemu.pid").read_text())
        assert process.running(qemu_pid)
        doomed.send_signal(signal.SIGKILL)
        doomed.wait()
        assert process.running(qemu_pid), "the VM went with its run: nothing to reap"

        said: list[str] = []
        provisioner = QemuProvisioner(
            Settings(provisioner="qemu"), RunIdentity.new(), tmp_path / "next", Progress(None)
        )
        provisioner.progress.say = said.append  # type: ignore[method-assign]
        provisioner.cleanup_leftovers()
        assert not directory.exists()
        assert not process.running(qemu_pid)
        assert any(directory.name in s and f"killed its QEMU (pid {qemu_pid})" in s for s in said)
        assert by_hand.poll() is None, "a QEMU the plugin did not start was stopped"
        assert (foreign_dir / "overlay.qcow2").read_text() == "not ours"
    finally:
        doomed.kill()
        by_hand.kill()
        by_hand.wait()
        subprocess.run(["rm", "-rf", str(foreign_dir)], check=False)


def test_qemu_exiting_at_boot_is_a_provision_error_with_its_output(tmp_path: Path) -> None:
    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"\0" * 2**20)
    kernel = tmp_path / "vmlinuz"
    kernel.write_bytes(b"not a kernel")
    settings = Settings(
        distros=(parse_distro("k3s"),), provisioner="qemu", vm_accel="tcg",
        vm_image=disk, vm_kernel=kernel, node_memory=2**28, node_cpus=1,
    )  # fmt: skip
    provisioner = QemuProvisioner(settings, RunIdentity.new(), tmp_path / "work", Progress(None))
    with pytest.raises(ProvisionError, match=r"(?s)QEMU exited at once with status 1.*kernel"):
        provisioner.create(parse_distro("k3s"), "k3s-broken")
    assert (tmp_path / "work" / "diagnostics" / "k3s-broken" / "qemu.log").is_file()
    left = [p.name for p in provisioner.state_root.iterdir() if provisioner.run.run_id in p.name]
    assert left == []


SUITES = Path(__file__).resolve().parents[1] / "suites"


@pytest.fixture(scope="module")
def vm_image() -> VmImage:
    """The cached test image, found before pytester moves HOME (and the cache with it)."""
    return ensure_image(print)


def test_the_cluster_suite_and_the_memory_figure_in_a_vm(
    vm_image: VmImage, pytester: pytest.Pytester, tmp_path: Path
) -> None:
    """The user's path: ``pytest suites --distro=k3s --distro-provisioner=qemu``, with the
    stand-in k3s air-gapped in the test image. The memory checks measure a VM of their
    own, MemTotal - MemAvailable inside it, and the report says that method."""
    image = vm_image
    artifacts = write_artifacts(tmp_path / "artifacts")
    for name in ("conftest.py", "test_cluster.py", "test_footprint.py"):
        (pytester.path / name).write_text((SUITES / name).read_text())
    before = set(qemu_pids())
    result = pytester.runpytest_subprocess(
        "--distro=k3s",
        "--distro-provisioner=qemu",
        "--distro-vm-accel=tcg",
        f"--distro-vm-image={image.disk}",
        f"--distro-vm-kernel={image.kernel}",
        f"--distro-vm-initrd={image.initrd}",
        f"--distro-vm-cmdline={image.cmdline}",
        "--distro-node-memory=2GiB",
        # The tier's sampling window (30 s by default): the method is checked, not the figure.
        "--distro-settle-seconds=5",
        *(f"--distro-install-artifact={kind}={path}" for kind, path in artifacts.items()),
        "--distro-ready-timeout=600",  # a loaded CI machine under TCG
        f"--distro-report={tmp_path / 'report'}",
        "-k",
        "test_cluster or idle_memory or (memory_tier and empty)",
        "-p",
        "no:cacheprovider",
        "-rs",
        timeout=1200,
    )
    assert result.ret == 0, result.stdout.str()[-6000:]
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) >= 3 and not outcomes.get("failed"), outcomes
    report = json.loads((tmp_path / "report.json").read_text())
    (entry,) = report["distros"].values()
    methods = {figure.get("method") for figure in entry["memory"].values()}
    assert methods == {"MemTotal - MemAvailable"}, entry["memory"]
    assert "MemTotal - MemAvailable" in (tmp_path / "report.md").read_text()
    assert set(qemu_pids()) <= before, "a VM of the run is still running"


def vm_run_args(image: VmImage, artifacts: dict[str, Path]) -> list[str]:
    """The options of a user's qemu run against the test image, air-gapped."""
    return [
        "--distro=k3s",
        "--distro-provisioner=qemu",
        "--distro-vm-accel=tcg",
        f"--distro-vm-image={image.disk}",
        f"--distro-vm-kernel={image.kernel}",
        f"--distro-vm-initrd={image.initrd}",
        f"--distro-vm-cmdline={image.cmdline}",
        "--distro-node-memory=1GiB",
        *(f"--distro-install-artifact={kind}={path}" for kind, path in artifacts.items()),
        "--distro-ready-timeout=600",  # a loaded CI machine under TCG
    ]


def first_vm(root: Path, ready: str, run: subprocess.Popen[bytes], timeout: float) -> Path:
    """The run's VM directory once its file ``ready`` exists and its QEMU runs."""
    deadline = time.monotonic() + timeout
    while True:
        assert run.poll() is None, run.communicate()[0].decode()[-4000:]
        assert time.monotonic() < deadline, f"no VM with {ready} within {timeout:.0f}s"
        for directory in sorted(root.iterdir()) if root.is_dir() else []:
            pid = state.VmDir(directory).qemu_pid()
            if (directory / ready).exists() and pid is not None and process.running(pid):
                return directory
        time.sleep(0.5)


@pytest.mark.parametrize(
    ("how", "when", "never_said"),
    [
        # A terminal's Ctrl-C goes to its foreground process group: pytest's, not QEMU's.
        # The boot stops waiting for SSH at once.
        ("SIGINT to the process group", "qemu.pid", "answers SSH"),
        # A cancelled CI job: SIGTERM to pytest, once the VM answered SSH; the install
        # stops waiting for its kubeconfig and the cluster is never ready.
        ("SIGTERM", "known_hosts", ": ready ("),
    ],
)
def test_an_interrupted_run_powers_its_vm_off_and_removes_it(
    how: str,
    when: str,
    never_said: str,
    vm_image: VmImage,
    pytester: pytest.Pytester,
    tmp_path: Path,
) -> None:
    """Teardown removes the VM, and does not wait for the boot to finish first: the
    boot's own waits end when the run is interrupted."""
    pytester.makepyfile("def test_x(kube):\n    pass\n")
    root = state.state_root()  # the test's own (own_vm_root), as the run's is
    before = set(qemu_pids())
    run = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
         *vm_run_args(vm_image, write_artifacts(tmp_path / "artifacts"))],
        cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        directory = first_vm(root, when, run, timeout=300)
        qemu = state.VmDir(directory).qemu_pid()
        if how == "SIGTERM":
            run.send_signal(signal.SIGTERM)
        else:
            os.killpg(run.pid, signal.SIGINT)
        output = run.communicate(timeout=180)[0].decode()
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert run.returncode != 0, output[-3000:]
    assert "KeyboardInterrupt" in output, output[-3000:]
    assert qemu is not None and not process.running(qemu), output[-3000:]
    assert not directory.exists(), sorted(p.name for p in directory.iterdir())
    assert set(qemu_pids()) <= before, "a QEMU of the run is still running"
    assert "removed " + str(directory) in output, output[-3000:]
    assert never_said not in output, output[-3000:]
    assert "could not be" not in output  # not reported as the distribution failing


def test_two_vms_on_their_own_network_join_and_pass_the_multinode_suite(
    vm_image: VmImage, pytester: pytest.Pytester, tmp_path: Path
) -> None:
    """``--distro-nodes=2``: a server VM and an agent VM on a private network of their
    own; the agent joins, both take pods, pods on the two reach each other, and both VMs
    are gone afterwards."""
    for name in ("conftest.py", "test_multinode.py"):
        (pytester.path / name).write_text((SUITES / name).read_text())
    root = state.state_root()  # the test's own (own_vm_root), as the run's is
    before = set(qemu_pids())
    result = pytester.runpytest_subprocess(
        *vm_run_args(vm_image, write_artifacts(tmp_path / "artifacts")),
        "--distro-nodes=2",
        "--distro-node-cpus=1",
        f"--distro-report={tmp_path / 'report'}",
        "-p",
        "no:cacheprovider",
        "-rA",
        timeout=1200,
    )
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == 0, output[-6000:]
    result.assert_outcomes(passed=2)
    assert "10.77.0.10 on the nodes' network" in output, output[-4000:]
    assert "10.77.0.11 on the nodes' network" in output
    # The join token (K10<CA hash>::server:<secret>) is never shown, only masked.
    assert "K3S_TOKEN=***" in output and "::server:" not in output
    assert set(qemu_pids()) <= before, "a VM of the run is still running"
    assert not root.is_dir() or list(root.iterdir()) == []
