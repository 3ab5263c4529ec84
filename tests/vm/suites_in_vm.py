"""The whole suite against the stand-in k3s in a VM: a manual run, too slow for CI under TCG.

    python tests/vm/suites_in_vm.py [--distro-vm-accel=kvm] [more pytest arguments]

Builds (or reuses) the VM test image and the stand-in k3s's air-gapped artifacts,
then runs ``pytest suites --distro=k3s --distro-provisioner=qemu`` with them. Under
TCG a VM takes about half a minute to answer SSH and every suite runs several times
slower than in a container; the footprint checks boot VMs of their own.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "standin")]

from sshd.artifacts import write_artifacts  # noqa: E402

from vm.image import ensure_image  # noqa: E402


def main(extra: list[str]) -> int:
    image = ensure_image(print)
    with tempfile.TemporaryDirectory(prefix="k8sdistro-vm-suites-") as tmp:
        artifacts = write_artifacts(Path(tmp))
        # KVM hangs guests on the project's machines; elsewhere pass --distro-vm-accel=kvm.
        given = any(arg.startswith("--distro-vm-accel") for arg in extra)
        accel = [] if given else ["--distro-vm-accel=tcg"]
        argv = [
            sys.executable, "-m", "pytest", str(ROOT / "suites"),
            "--distro=k3s", "--distro-provisioner=qemu",
            *accel,
            f"--distro-vm-image={image.disk}", f"--distro-vm-kernel={image.kernel}",
            f"--distro-vm-initrd={image.initrd}", f"--distro-vm-cmdline={image.cmdline}",
            "--distro-node-memory=2GiB", "--distro-ready-timeout=600",
            *(f"--distro-install-artifact={kind}={path}" for kind, path in artifacts.items()),
            "-p", "no:cacheprovider", "-rs", *extra,
        ]  # fmt: skip
        print(" ".join(argv), flush=True)
        return subprocess.run(argv, cwd=ROOT, check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
