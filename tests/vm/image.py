"""The VM test image: Debian bookworm with a kernel, cloud-init and sshd, for QEMU.

Made from Debian packages only, like the stand-in base image (tests/standin/image/base.py):
debootstrap from the machine's own mirror, then a few files of our own. No loop devices
(they may not exist where the tests run): the root filesystem is written straight into
a file with ``mkfs.ext4 -d`` and converted to qcow2. The kernel and initrd are copied
out for direct kernel boot, so the disk needs no partition table and no boot loader.

Networking is systemd-networkd with a baked-in DHCP file, and cloud-init's own network
configuration is off: QEMU's user-mode network needs nothing per VM, the image then
comes up networked with or without a seed, and no renderer choice of cloud-init's (it
would pick networkd here too, the last of its list, as ifupdown is not installed) is
between the boot and SSH.

Everything lands in ``~/.cache/pytest-k8sdistro-test/vm/<hash>/``, the hash covering
every input, built once under a file lock and reused.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock
from image.base import PACKAGES as STANDIN_PACKAGES
from image.base import SUITE, VARIANT, find_mirror

from pytest_k8sdistro.provisioners.machine.qemu.command import OUTSIDE_MAC

# The stand-in control plane's runtime packages come first, so the stand-in k3s can be
# installed in the VM as tests/sshd/artifacts.py installs it on the sshd machine.
VM_PACKAGES: tuple[str, ...] = (
    "linux-image-amd64",
    # debootstrap takes the first of the kernel's "initramfs-tools | linux-initramfs-tool";
    # named so that a change in that order cannot swap in dracut unnoticed.
    "initramfs-tools",
    "systemd-sysv",
    # udev loads the drivers (virtio_net, iso9660 for the seed) and names the NIC.
    "udev",
    # hostnamectl, which cloud-init uses to set the seeded hostname, needs D-Bus.
    "dbus",
    "cloud-init",
    "openssh-server",
    "sudo",
    # fsck.ext4 at boot, and resize2fs for cloud-init when an overlay is made larger.
    "e2fsprogs",
    "kmod",
)
PACKAGES: tuple[str, ...] = tuple(dict.fromkeys((*STANDIN_PACKAGES, *VM_PACKAGES)))

ROOT_LABEL = "k8sdistro-root"
#: Size of the root filesystem; an overlay may be made larger (cloud-init grows the fs).
DISK_SIZE = "4G"
KERNEL_CMDLINE = f"root=LABEL={ROOT_LABEL} rw console=ttyS0"
#: Modules the initramfs must hold to mount the root disk (Debian's are modules, =m).
INITRD_MODULES = ("virtio_pci.ko", "virtio_blk.ko", "ext4.ko")

# Path in the image -> content. Part of the cache key, like the package list.
FILES: dict[str, str] = {
    "etc/systemd/network/20-dhcp.network": (
        # The first NIC only, by the address the qemu provisioner gives it, as a cloud
        # image's fallback network configuration does: never a second NIC (a cluster's
        # nodes' network, which the provisioner configures), nor the veths and bridges
        # the stand-in's node side makes, which networkd must leave alone.
        f"[Match]\nMACAddress={OUTSIDE_MAC}\n\n[Network]\nDHCP=ipv4\n"
    ),
    # networkd otherwise removes routes and policy rules it did not make, including those
    # a Kubernetes node sets up for its pods.
    "etc/systemd/networkd.conf.d/k8sdistro.conf": (
        "[Network]\nManageForeignRoutes=no\nManageForeignRoutingPolicyRules=no\n"
    ),
    "etc/cloud/cloud.cfg.d/90-k8sdistro.cfg": (
        # Only the NoCloud seed: other datasources would probe metadata services and
        # wait for their timeouts on every boot.
        "datasource_list: [NoCloud, None]\n"
        "network:\n  config: disabled\n"
        # cc_locale would run locale-gen on first boot: seconds under TCG, for nothing.
        # A string: the schema wants one (a YAML false is reported as invalid on every
        # boot), and cc_locale skips itself for any value util.is_false accepts.
        'locale: "false"\n'
    ),
    "etc/ssh/sshd_config.d/k8sdistro.conf": (
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PermitRootLogin prohibit-password\n"
    ),
    # Host keys are removed from the image (every VM would share them); cloud-init makes
    # them on first boot, and this makes them if it did not, so sshd still starts.
    "etc/systemd/system/ssh.service.d/host-keys.conf": (
        "[Service]\nExecStartPre=\nExecStartPre=/usr/bin/ssh-keygen -A\n"
        "ExecStartPre=/usr/sbin/sshd -t\n"
    ),
    # No fsck pass: the initramfs was made before this fstab existed, so it has no fsck
    # (it adds one only for the root fstype fstab names), and rebuilding it for that is
    # not worth it on a throwaway overlay; ext4's journal covers a crash.
    "etc/fstab": f"LABEL={ROOT_LABEL} / ext4 errors=remount-ro 0 0\n",
    "etc/hostname": "localhost\n",
    "etc/hosts": "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n",
}
# Copied from the build host by debootstrap or made during it; nothing a VM should share.
REMOVE = ("etc/resolv.conf", "etc/ssh/ssh_host_*", "var/lib/dbus/machine-id")
ENABLE = ("systemd-networkd.service",)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class VmImage:
    """A built image in the cache: boot ``kernel``/``initrd`` with ``cmdline``, root on ``disk``."""

    directory: Path
    disk: Path
    kernel: Path
    initrd: Path
    cmdline: str
    manifest: dict[str, object]


def image_hash() -> str:
    """Short hash of every input of the image: the cache directory's name."""
    recipe = {
        "suite": SUITE,
        "variant": VARIANT,
        "packages": sorted(PACKAGES),
        "files": FILES,
        "remove": REMOVE,
        "enable": ENABLE,
        "disk_size": DISK_SIZE,
        "label": ROOT_LABEL,
        "cmdline": KERNEL_CMDLINE,
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "pytest-k8sdistro-test" / "vm"


def ensure_image(progress: Progress = print, root: Path | None = None) -> VmImage:
    """The image for the current recipe, built when missing (under a lock) and reused."""
    root = root or cache_root()
    root.mkdir(parents=True, exist_ok=True)
    key = image_hash()
    dest = root / key
    # Long timeout: a cold build takes minutes and other workers wait for it, not fail.
    with FileLock(str(root / f"{key}.lock"), timeout=1800):
        if not (dest / "manifest.json").is_file():
            _build(dest, key, progress)
    return _load(dest)


def _load(dest: Path) -> VmImage:
    manifest = json.loads((dest / "manifest.json").read_text())
    return VmImage(
        dest,
        dest / "base.qcow2",
        dest / "vmlinuz",
        dest / "initrd.img",
        str(manifest["cmdline"]),
        manifest,
    )


def _build(dest: Path, key: str, progress: Progress) -> None:
    for tool, package in (("debootstrap", "debootstrap"), ("qemu-img", "qemu-utils")):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is not installed: run `apt-get install -y {package}`")
    if os.geteuid() != 0:
        raise RuntimeError("building the VM image runs debootstrap and chroot: it needs root")
    started = time.monotonic()
    # The finished files go to a directory beside dest and are renamed into place, so
    # an interrupted build never leaves a cache entry that looks complete.
    partial = Path(tempfile.mkdtemp(prefix=f"{key}.partial-", dir=dest.parent))
    try:
        # /var/tmp, not /tmp: the tree is ~900 MB and /tmp is a small tmpfs on some machines.
        with tempfile.TemporaryDirectory(prefix="k8sdistro-vm-", dir="/var/tmp") as tmp:
            rootfs = Path(tmp) / "rootfs"
            _debootstrap(rootfs, Path(tmp) / "debootstrap.log", progress)
            kernel_version = _customise(rootfs)
            shutil.copyfile(rootfs / f"boot/vmlinuz-{kernel_version}", partial / "vmlinuz")
            shutil.copyfile(rootfs / f"boot/initrd.img-{kernel_version}", partial / "initrd.img")
            progress("vm image: mkfs.ext4 -d and qemu-img convert")
            raw = Path(tmp) / "root.raw"
            with raw.open("wb") as handle:
                handle.truncate(_size_bytes(DISK_SIZE))
            _run(["mkfs.ext4", "-q", "-F", "-L", ROOT_LABEL, "-d", str(rootfs), str(raw)])
            _run(["qemu-img", "convert", "-O", "qcow2", str(raw), str(partial / "base.qcow2")])
        manifest = {
            "hash": key,
            "suite": SUITE,
            "variant": VARIANT,
            "packages": list(PACKAGES),
            "kernel_version": kernel_version,
            "cmdline": KERNEL_CMDLINE,
            "disk_size": DISK_SIZE,
            "build_seconds": round(time.monotonic() - started, 1),
        }
        (partial / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        partial.chmod(0o755)  # mkdtemp's 0700 would hide the image from other users
        partial.rename(dest)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    size = (dest / "base.qcow2").stat().st_size
    progress(f"vm image: {dest} ({size >> 20} MiB) in {time.monotonic() - started:.0f} s")


def _debootstrap(rootfs: Path, log: Path, progress: Progress) -> None:
    mirror = find_mirror()
    progress(f"vm image: debootstrap {SUITE} from {mirror} (about 2 minutes)")
    started = time.monotonic()
    cmd = [
        "debootstrap",
        f"--variant={VARIANT}",
        f"--include={','.join(PACKAGES)}",
        SUITE,
        str(rootfs),
        mirror,
    ]
    with log.open("wb") as out:
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        # The outer log only says "see debootstrap.log"; the inner one has dpkg's reason.
        lines = log.read_text(errors="replace").splitlines()[-15:]
        inner = rootfs / "debootstrap" / "debootstrap.log"
        if inner.is_file():
            lines += ["--- debootstrap.log ---", *inner.read_text().splitlines()[-30:]]
        tail = "\n".join(lines)
        raise RuntimeError(f"debootstrap failed (exit {done.returncode}):\n{tail}")
    progress(f"vm image: debootstrap done in {time.monotonic() - started:.0f} s")


def _customise(rootfs: Path) -> str:
    """Write :data:`FILES`, drop host-specific state; return the kernel version."""
    for name, text in FILES.items():
        path = rootfs / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for pattern in REMOVE:
        for path in rootfs.glob(pattern):
            path.unlink()
    # Empty, not absent: systemd makes a new machine-id on each VM's first boot.
    (rootfs / "etc/machine-id").write_text("")
    for pattern in ("var/cache/apt/archives/*.deb", "var/lib/apt/lists/*"):
        for path in rootfs.glob(pattern):
            if path.is_file():
                path.unlink()
    # systemctl enable works offline in a chroot: it only makes the symlinks.
    _run(["chroot", str(rootfs), "systemctl", "enable", "--quiet", *ENABLE])
    kernels = sorted(p.name.removeprefix("vmlinuz-") for p in (rootfs / "boot").glob("vmlinuz-*"))
    if len(kernels) != 1:
        raise RuntimeError(f"expected one kernel in the image, found {kernels}")
    version = kernels[0]
    listing = _run(["chroot", str(rootfs), "lsinitramfs", f"/boot/initrd.img-{version}"])
    names = {line.rsplit("/", 1)[-1] for line in listing.splitlines()}
    missing = [module for module in INITRD_MODULES if module not in names]
    if missing:
        # Debian's MODULES=most includes them; a changed initramfs-tools default would
        # leave a VM that stops at "Gave up waiting for root file system device".
        raise RuntimeError(f"the initramfs lacks {missing}: the VM could not mount its root")
    return version


def _size_bytes(size: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(size[:-1]) * units[size[-1]] if size[-1] in units else int(size)


def _run(cmd: list[str]) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {done.returncode}):\n{done.stderr}")
    return done.stdout
