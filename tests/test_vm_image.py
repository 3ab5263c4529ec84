"""The VM test image boots under QEMU, takes its NoCloud seed and powers off cleanly.

One boot for the whole file (about 35 s to SSH under TCG, after a cold image build of
about 2 minutes); the command-line and seed checks need no QEMU.
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pycdlib
import pytest
from vm.boot import booted_vm, qemu_command
from vm.image import VmImage, ensure_image
from vm.seed import LABEL, write_seed

HOSTNAME = "k8sdistro-vm-test"


@pytest.mark.vm
def test_vm_boots_takes_its_seed_and_powers_off(tmp_path: Path) -> None:
    image = ensure_image(print)
    with booted_vm(image, tmp_path / "vm", hostname=HOSTNAME) as vm:
        print(f"boot to SSH: {vm.boot_seconds:.0f} s")
        assert _out(vm.ssh("ci", "hostname")) == HOSTNAME
        assert _out(vm.ssh("ci", "sudo -n id -un")) == "root"
        assert _out(vm.ssh("root", "id -un")) == "root"
        refused = vm.ssh("nosudo", "sudo -n true")
        assert refused.returncode != 0, refused
        # The stand-in control plane's runtime is there to install a stand-in k3s on.
        assert _out(vm.ssh("ci", "python3 -c 'import werkzeug, yaml, dnslib, cryptography'")) == ""
        process = vm.process
    assert process.returncode == 0, "QEMU did not exit cleanly on ACPI power-off"
    assert vm.leftovers == []


def _out(done: subprocess.CompletedProcess[str]) -> str:
    """The command's output, or a failure that shows why it failed."""
    __tracebackhide__ = True
    if done.returncode != 0:
        pytest.fail(f"{done.args[-1]!r} failed ({done.returncode}): {done.stderr}")
    return done.stdout.strip()


def test_ssh_is_forwarded_on_loopback_only_and_the_guest_reaches_nothing(
    tmp_path: Path,
) -> None:
    image = VmImage(tmp_path, tmp_path / "base.qcow2", tmp_path / "k", tmp_path / "i", "x", {})
    cmd = qemu_command(
        image, tmp_path / "o.qcow2", tmp_path / "seed.iso", ssh_port=2222,
        qmp_socket=tmp_path / "q.sock", pidfile=tmp_path / "p", console_log=tmp_path / "c",
    )  # fmt: skip
    netdev = cmd[cmd.index("-netdev") + 1]
    assert "hostfwd=tcp:127.0.0.1:2222-:22" in netdev
    assert "restrict=on" in netdev
    assert cmd[cmd.index("-accel") + 1].startswith("tcg")


def test_seed_is_a_cidata_iso_with_user_and_meta_data(tmp_path: Path) -> None:
    seed = write_seed(tmp_path / "seed.iso", hostname="seeded", authorized_key="ssh-ed25519 AAAA k")
    iso = pycdlib.PyCdlib()
    iso.open(str(seed))
    try:
        assert iso.pvd.volume_identifier.decode().strip() == LABEL
        files = {}
        for name in ("user-data", "meta-data"):
            buffer = io.BytesIO()
            iso.get_file_from_iso_fp(buffer, rr_path=f"/{name}")
            files[name] = buffer.getvalue().decode()
    finally:
        iso.close()
    assert files["user-data"].startswith("#cloud-config\n")
    assert "ssh-ed25519 AAAA k" in files["user-data"]
    assert "local-hostname: seeded" in files["meta-data"]
