"""The qemu provisioner without booting: command line, accelerator, options, reaping,
and the default image's download and checksum (against a server on 127.0.0.1)."""

from __future__ import annotations

import hashlib
import http.server
import json
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_k8sdistro.config import vm as vm_options
from pytest_k8sdistro.config.settings import Settings, _check_shape, _check_vm
from pytest_k8sdistro.distros.spec import parse_distro
from pytest_k8sdistro.errors import ConfigError, ProvisionError
from pytest_k8sdistro.provisioners.machine.qemu import command, image, state
from pytest_k8sdistro.provisioners.machine.qemu.provisioner import QemuProvisioner

FILES = command.Files(
    overlay=Path("/s/vm/overlay.qcow2"),
    seed=Path("/s/vm/seed.iso"),
    qmp=Path("/s/vm/qmp.sock"),
    pidfile=Path("/s/vm/qemu.pid"),
    console=Path("/s/vm/console.log"),
)


def test_every_forward_is_on_loopback_and_the_guest_is_restricted() -> None:
    argv = command.qemu_command(
        FILES, accel="tcg", memory_mib=4096, cpus=2, forwards={22: 2222, 6443: 36443},
        restrict=True, boot=command.DirectBoot(Path("/k"), Path("/i"), "root=LABEL=x"),
    )  # fmt: skip
    netdev = argv[argv.index("-netdev") + 1]
    assert netdev == (
        "user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:2222-:22,hostfwd=tcp:127.0.0.1:36443-:6443"
    )
    assert argv[argv.index("-accel") + 1] == command.TCG
    assert argv[argv.index("-m") + 1] == "4096"
    assert argv[argv.index("-kernel") + 1] == "/k" and argv[argv.index("-initrd") + 1] == "/i"
    assert "file=/s/vm/overlay.qcow2,format=qcow2" in argv[argv.index("-drive") + 1]
    assert command.names_overlay(argv, FILES.overlay)
    assert not command.names_overlay(argv, Path("/s/other/overlay.qcow2"))
    assert not command.names_overlay(["sleep", "file=/s/vm/overlay.qcow2,"], FILES.overlay)


def test_kvm_uses_the_host_cpu_and_a_disk_with_a_boot_loader_needs_no_kernel() -> None:
    argv = command.qemu_command(
        FILES, accel="kvm", memory_mib=1024, cpus=1, forwards={22: 1}, restrict=False
    )
    assert argv[argv.index("-accel") + 1 : argv.index("-accel") + 4] == ["kvm", "-cpu", "host"]
    assert "-kernel" not in argv
    assert "restrict=off" in argv[argv.index("-netdev") + 1]


def test_accel_choice() -> None:
    assert command.choose_accel("auto", lambda: None) == "kvm"
    assert command.choose_accel("auto", lambda: "/dev/kvm does not exist") == "tcg"
    assert command.choose_accel("tcg", lambda: None) == "tcg"
    with pytest.raises(ConfigError, match=r"--distro-vm-accel=kvm: nope; .*--distro-vm-accel=tcg"):
        command.choose_accel("kvm", lambda: "nope")
    assert "does not exist" in (command.kvm_problem(Path("/nonexistent/kvm")) or "")


def test_option_values_are_checked() -> None:
    with pytest.raises(pytest.UsageError, match=r"--distro-vm-accel='fast' .*auto, kvm, tcg"):
        vm_options.vm_accel("fast")
    assert vm_options.vm_accel("TCG") == "tcg"
    with pytest.raises(pytest.UsageError, match=r"--distro-vm-image='/no/disk': no such file"):
        vm_options.existing_file("--distro-vm-image", "a disk")("/no/disk")


def test_cross_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda tool: f"/usr/bin/{tool}")
    with pytest.raises(ConfigError, match=r"--distro-vm-cmdline are for direct kernel boot"):
        QemuProvisioner.check_config(Settings(provisioner="qemu", vm_cmdline="x"), ())
    with pytest.raises(ConfigError, match=r"--distro-node-cpus=1.5: a VM has a whole number"):
        QemuProvisioner.check_config(
            Settings(provisioner="qemu", vm_accel="tcg", node_cpus=1.5), ()
        )
    with pytest.raises(ConfigError, match=r"--distro-vm-image='/gone.qcow2': no such file"):
        QemuProvisioner.check_config(
            Settings(provisioner="qemu", vm_accel="tcg", vm_image=Path("/gone.qcow2")), ()
        )
    with pytest.raises(ConfigError, match=r"--distro-vm-image shape the VMs .*=docker boots none"):
        _check_vm(Settings(provisioner="docker", vm_image=tmp_path))
    monkeypatch.setattr("shutil.which", lambda tool: None)
    with pytest.raises(
        ConfigError, match=r"needs qemu-system-x86_64 and qemu-img.*apt-get install"
    ):
        QemuProvisioner.check_config(Settings(provisioner="qemu"), ())


# -- reaping ----------------------------------------------------------------------


class FakeProc(state.Proc):
    """Processes described by dicts: pid -> start time, pid -> cmdline."""

    def __init__(self, starts: dict[int, str], cmdlines: dict[int, list[str]]) -> None:
        super().__init__(
            alive=lambda pid: pid in starts or pid in cmdlines,
            started=lambda pid: starts.get(pid, ""),
            cmdline=lambda pid: cmdlines.get(pid, []),
            running=lambda pid: pid in cmdlines,
            kill=self._kill,
        )
        self.cmdlines = cmdlines
        self.killed: list[int] = []

    def _kill(self, pid: int, sig: int) -> None:
        assert sig == signal.SIGKILL
        self.killed.append(pid)
        self.cmdlines.pop(pid)


def make_vm(root: Path, name: str, *, pid: int, start: str, qemu: int | None,
            host: str = "here", kept: bool = False) -> state.VmDir:  # fmt: skip
    directory = state.VmDir(root / name)
    directory.path.mkdir()
    state.Owner(
        run_id=name, pid=pid, pid_start=start, hostname=host, cluster="k",
        overlay=str(directory.files.overlay), kept=kept,
    ).write(directory)  # fmt: skip
    if qemu is not None:
        directory.files.pidfile.write_text(f"{qemu}\n")
    return directory


def qemu_on(directory: state.VmDir) -> list[str]:
    return ["/usr/bin/qemu-system-x86_64", "-drive", f"file={directory.files.overlay},format=qcow2"]


def test_reaping_removes_dead_runs_vms_and_nothing_else(tmp_path: Path) -> None:
    dead = make_vm(tmp_path, "dead", pid=100, start="b:1", qemu=1000)
    reused = make_vm(tmp_path, "reused", pid=200, start="b:1", qemu=2000)
    live = make_vm(tmp_path, "live", pid=300, start="b:1", qemu=3000)
    elsewhere = make_vm(tmp_path, "elsewhere", pid=400, start="b:1", qemu=4000, host="there")
    kept = make_vm(tmp_path, "kept", pid=500, start="b:1", qemu=5000, kept=True)
    # Dead, and its pidfile's pid is now some other QEMU: the directory goes, no signal.
    make_vm(tmp_path, "stale", pid=600, start="b:1", qemu=6000)
    (tmp_path / "no-record").mkdir()
    (tmp_path / "no-record" / "qemu.pid").write_text("7000")
    (tmp_path / "not-ours").mkdir()
    (tmp_path / "not-ours" / state.RECORD).write_text(json.dumps({"format": "other"}))
    proc = FakeProc(
        starts={200: "b:2", 300: "b:1", 400: "b:1", 500: "b:1"},
        cmdlines={
            1000: qemu_on(dead), 2000: qemu_on(reused), 3000: qemu_on(live),
            4000: qemu_on(elsewhere), 5000: qemu_on(kept),
            6000: ["qemu-system-x86_64", "-drive", "file=/elsewhere/overlay.qcow2,format=qcow2"],
            7000: ["qemu-system-x86_64", "-machine", "none"],
        },
    )  # fmt: skip
    said: list[str] = []
    removed = state.reap(tmp_path, "here", said.append, proc)
    assert removed == ["dead", "reused", "stale"]
    assert sorted(proc.killed) == [1000, 2000]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "elsewhere", "kept", "live", "no-record", "not-ours"
    ]  # fmt: skip
    assert any("stale" in s and "was not signalled" in s for s in said)
    assert any("dead" in s and "killed its QEMU (pid 1000)" in s for s in said)


def test_verdicts_say_why_a_vm_is_spared() -> None:
    owner = state.Owner("r", 1, "b:1", "here", "k", "/o")
    proc = FakeProc(starts={1: "b:1"}, cmdlines={})
    assert state.verdict(owner, "here", proc) == "its run is alive"
    assert state.verdict(owner, "elsewhere", proc) == "made on here, not here"
    assert state.verdict(owner, "here", FakeProc({}, {})) == "reap"
    assert state.verdict(owner, "here", FakeProc({1: "b:9"}, {})) == "reap"


def test_socket_paths_fit_and_dir_names_are_safe() -> None:
    name = state.dir_name("0123456789ab", "k3s-v1.36.5+k3s1-" + "x" * 80)
    assert name.startswith("0123456789ab-k3s-v1.36.5-k3s1-") and len(name) <= 53


# -- the default image ------------------------------------------------------------


@pytest.fixture
def image_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    served = tmp_path / "served"
    served.mkdir()
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(  # noqa: E731
        *a, directory=str(served)
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/noble/disk.img", served
    finally:
        server.shutdown()
        server.server_close()


def serve(served: Path, data: bytes, listed: bytes) -> None:
    (served / "noble").mkdir(exist_ok=True)
    (served / "noble" / "disk.img").write_bytes(data)
    digest = hashlib.sha256(listed).hexdigest()
    (served / "noble" / "SHA256SUMS").write_text(f"{'0' * 64} *other.img\n{digest} *disk.img\n")


def test_the_default_image_is_downloaded_once_and_verified(
    image_server: tuple[str, Path], tmp_path: Path
) -> None:
    url, served = image_server
    serve(served, b"QFI\xfb fake image", b"QFI\xfb fake image")
    said: list[str] = []
    path = image.default_image(said.append, url=url, cache=tmp_path / "cache")
    assert path.read_bytes() == b"QFI\xfb fake image"
    assert image.disk_format(path) == "qcow2"
    assert any("downloading" in s for s in said) and any("matches" in s for s in said)
    (served / "noble" / "disk.img").unlink()  # a second call does not download again
    assert image.default_image(said.append, url=url, cache=tmp_path / "cache") == path


def test_a_wrong_checksum_fails_and_leaves_no_image(
    image_server: tuple[str, Path], tmp_path: Path
) -> None:
    url, served = image_server
    serve(served, b"tampered", b"the real image")
    with pytest.raises(ProvisionError, match=r"has SHA256 [0-9a-f]{64}, but .*SHA256SUMS says"):
        image.default_image(lambda _: None, url=url, cache=tmp_path / "cache")
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["disk.img.lock"]


def test_a_kept_vm_whose_qemu_is_gone_is_reaped_and_a_running_one_is_not(tmp_path: Path) -> None:
    running = make_vm(tmp_path, "kept-running", pid=100, start="b:1", qemu=1000, kept=True)
    make_vm(tmp_path, "kept-gone", pid=200, start="b:1", qemu=2000, kept=True)
    # Its pidfile's pid is now another QEMU: the kept VM's own QEMU is gone.
    make_vm(tmp_path, "kept-reused", pid=300, start="b:1", qemu=3000, kept=True)
    make_vm(tmp_path, "kept-no-pidfile", pid=400, start="b:1", qemu=None, kept=True)
    proc = FakeProc(
        starts={},
        cmdlines={
            1000: qemu_on(running),
            3000: ["qemu-system-x86_64", "-drive", "file=/elsewhere/overlay.qcow2,format=qcow2"],
        },
    )
    said: list[str] = []
    removed = state.reap(tmp_path, "here", said.append, proc)
    assert removed == ["kept-gone", "kept-no-pidfile", "kept-reused"]
    assert proc.killed == []  # nothing was signalled, the other QEMU included
    assert [p.name for p in tmp_path.iterdir()] == ["kept-running"]
    assert all("its QEMU is not running" in s for s in said), said


def test_a_kept_vm_whose_qemu_is_gone_is_spared_while_its_run_lives() -> None:
    owner = state.Owner("r", 1, "b:1", "here", "k", "/o", kept=True)
    alive = FakeProc(starts={1: "b:1"}, cmdlines={})
    assert state.verdict(owner, "here", alive, qemu_runs=True) == "kept on purpose"
    assert state.verdict(owner, "here", alive, qemu_runs=False) == "its run is alive"
    assert state.verdict(owner, "here", FakeProc({}, {}), qemu_runs=False) == "reap"


# -- several nodes ----------------------------------------------------------------


def test_a_clusters_vms_share_a_multicast_segment_on_loopback_only() -> None:
    nic = command.NodesNic("239.255.77.1", 40123, "52:54:00:6b:00:0b")
    argv = command.qemu_command(
        FILES, accel="tcg", memory_mib=1024, cpus=1, forwards={22: 1}, restrict=True,
        nodes_nic=nic,
    )  # fmt: skip
    netdevs = [argv[i + 1] for i, arg in enumerate(argv) if arg == "-netdev"]
    devices = [argv[i + 1] for i, arg in enumerate(argv) if arg == "-device"]
    assert netdevs[1] == "socket,id=nodes,mcast=239.255.77.1:40123,localaddr=127.0.0.1"
    # The way out keeps its own address, which the guest configures; the other is ours.
    assert devices == [
        f"virtio-net-pci,netdev=net0,mac={command.OUTSIDE_MAC}",
        "virtio-net-pci,netdev=nodes,mac=52:54:00:6b:00:0b",
    ]
    single = command.qemu_command(
        FILES, accel="tcg", memory_mib=1024, cpus=1, forwards={22: 1}, restrict=True
    )
    assert single.count("-netdev") == 1


def test_each_vm_of_a_cluster_has_its_own_directory_and_record(tmp_path: Path) -> None:
    assert state.dir_name("r1", "k3s-a", 0) == "r1-k3s-a"
    assert state.dir_name("r1", "k3s-a", 2) == "r1-k3s-a-n2"
    for node in (0, 1):
        directory = state.VmDir(tmp_path / state.dir_name("r1", "k", node))
        directory.path.mkdir()
        state.Owner(
            run_id="r1", pid=1, pid_start="b", hostname="here", cluster="k",
            overlay=str(directory.files.overlay), kept=True, node=node,
        ).write(directory)  # fmt: skip
    # Kept, but no QEMU runs for either: none is found to attach to.
    assert state.find_kept(tmp_path, "k", "here", 1) is None
    owner = state.Owner.read(state.VmDir(tmp_path / "r1-k-n1"))
    assert owner is not None and owner.node == 1


@pytest.mark.parametrize("distro", ["k0s", "microk8s"])
def test_several_nodes_of_a_distribution_without_a_machine_join_are_refused(
    distro: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("shutil.which", lambda tool: f"/usr/bin/{tool}")
    settings = Settings(provisioner="qemu", vm_accel="tcg", nodes=2)
    with pytest.raises(
        ConfigError,
        match=rf"--distro-nodes=2 with --distro-provisioner=qemu: .* for k3s, not for {distro}; "
        rf"give {distro} one node, or .*--distro-provisioner=docker",
    ):
        QemuProvisioner.check_config(settings, (parse_distro(distro),))
    QemuProvisioner.check_config(settings, (parse_distro("k3s"),))


def test_more_nodes_than_a_qemu_cluster_takes_are_refused_naming_the_limit() -> None:
    with pytest.raises(ConfigError, match=r"=qemu brings up up to 5 nodes on a machine, so "
                       r"--distro-nodes=6 cannot apply"):  # fmt: skip
        _check_shape(Settings(provisioner="qemu", nodes=6))
    _check_shape(Settings(provisioner="qemu", nodes=5))


def test_vms_given_more_memory_than_the_host_has_are_refused(tmp_path: Path) -> None:
    from pytest_k8sdistro.provisioners.machine.qemu import provisioner

    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:        8048576 kB\nMemFree:  100 kB\n")
    host = provisioner._host_memory(meminfo)
    assert host == 8048576 * 1024
    provisioner._check_memory(1, 4 * 2**30, host)
    with pytest.raises(
        ConfigError,
        match=r"3 VMs of 4096 MiB \(--distro-node-memory\) need 12288 MiB, more than this "
        r"host's 7859 MiB; give --distro-node-memory less or --distro-nodes fewer",
    ):
        provisioner._check_memory(3, 4 * 2**30, host)
    assert provisioner._host_memory(tmp_path / "absent") is None
    provisioner._check_memory(3, 4 * 2**30, None)
