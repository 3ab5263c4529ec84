"""The VM test image boots under QEMU, takes its NoCloud seed and powers off cleanly.

One boot for the whole file (about 35 s to SSH under TCG, after a cold image build of
about 2 minutes), with the qemu provisioner's own boot pieces (tests/vm/boot.py); the
seed check needs no QEMU.
"""

from __future__ import annotations

import io
from pathlib import Path

import pycdlib
import pytest
from vm.boot import booted_vm
from vm.image import ensure_image

from pytest_k8sdistro.provisioners.machine.qemu.seed import LABEL, cloud_config, write_seed
from pytest_k8sdistro.provisioners.machine.qemu.vm import VmTarget

HOSTNAME = "k8sdistro-vm-test"


@pytest.mark.vm
def test_vm_boots_takes_its_seed_and_powers_off(tmp_path: Path) -> None:
    image = ensure_image(print)
    directory = Path("/tmp") / f"k8sdistro-vm-image-{tmp_path.name[-12:]}"
    with booted_vm(image, directory, hostname=HOSTNAME) as (vm, target, seconds):
        print(f"boot to SSH: {seconds:.0f} s")
        assert _out(target, "hostname") == HOSTNAME
        assert _out(target, "sudo -n id -un") == "root"
        # The stand-in control plane's runtime is there to install a stand-in k3s on.
        assert _out(target, "python3 -c 'import werkzeug, yaml, dnslib, cryptography'") == ""
        process = vm.process
    assert process is not None and process.returncode == 0, (
        "QEMU did not exit cleanly on ACPI power-off"
    )
    assert not directory.exists()


def _out(target: VmTarget, command: str) -> str:
    """The command's output, or a failure that shows why it failed."""
    __tracebackhide__ = True
    result = target.execute(["sh", "-c", command], timeout=60)
    if result.rc != 0:
        pytest.fail(f"{command!r} failed ({result.rc}): {result.tail()}")
    return result.stdout.strip()


def test_seed_is_a_cidata_iso_with_user_and_meta_data(tmp_path: Path) -> None:
    seed = write_seed(
        tmp_path / "seed.iso",
        hostname="seeded",
        config=cloud_config("seeded", "ssh-ed25519 AAAA k"),
    )
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
    assert '"sudo": "ALL=(ALL) NOPASSWD:ALL"' in files["user-data"]
    assert "local-hostname: seeded" in files["meta-data"]
