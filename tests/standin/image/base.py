"""The Debian base image that every stand-in image is built on.

The tests use no container registry, so there is no ``FROM debian``: the root filesystem
is made with debootstrap from the machine's own Debian mirror and turned into an image
with ``docker import``.
The tag is a hash of everything that decides the filesystem's contents, so an existing image
with that tag is reused and a change of package list gets a new tag.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors

from image.specs import (
    DESCRIPTION_LABEL,
    LABEL_PACKAGES_HASH,
    LABEL_STANDIN,
    REPOSITORY,
)

SUITE = "bookworm"
VARIANT = "minbase"
# What the stand-ins need at run time: the control plane's Python dependencies (werkzeug,
# yaml, dnslib, cryptography, protobuf), openssl for certificates, and the tools a node
# container has (ip, iptables, ps, a busybox shell toolbox, tini for the k0s entrypoint).
PACKAGES: tuple[str, ...] = (
    "python3",
    "python3-werkzeug",
    "python3-yaml",
    "python3-dnslib",
    "python3-cryptography",
    # debootstrap's dependency resolver ignores virtual packages, and python3-cryptography
    # depends on python3-cffi-backend-api-{min,max}, which only python3-cffi-backend
    # provides: without naming it, configuring python3-cryptography fails.
    "python3-cffi-backend",
    # exec and port-forward: the WebSocket framing of the stand-in's streaming server.
    "python3-wsproto",
    # protobuf request bodies (kubectl's typed create, run and expose), parsed by the
    # protobuf library with classes built from k8s_standin/pbtypes.py.
    "python3-protobuf",
    # kine's SQL backends: k3s with --datastore-endpoint=postgres://... or mysql://...
    "python3-psycopg2",
    "python3-pymysql",
    "openssl",
    "iproute2",
    "iptables",
    "busybox",
    "tini",
    "procps",
    "ca-certificates",
)
# The database stand-ins' own root filesystem: Debian's PostgreSQL and MariaDB, which play
# the official postgres and mysql images. Kept apart because they triple the size.
DATABASE_PACKAGES: tuple[str, ...] = (
    "postgresql",
    "mariadb-server",
    "mariadb-client",
    "procps",
)


@dataclass(frozen=True)
class Rootfs:
    """One debootstrapped root filesystem that images are built on."""

    name: str
    packages: tuple[str, ...]
    description: str


BASE = Rootfs("base", PACKAGES, "base for pytest-k8sdistro test stand-ins")
DATABASES = Rootfs("databases", DATABASE_PACKAGES, "databases for pytest-k8sdistro tests")

SOURCES_FILES = (
    Path("/etc/apt/sources.list.d/debian.sources"),
    Path("/etc/apt/sources.list"),
)

Progress = Callable[[str], None]


def packages_hash(rootfs: Rootfs = BASE) -> str:
    """Short hash of suite, variant and package list: the base image's cache key."""
    text = "\n".join([SUITE, VARIANT, *sorted(rootfs.packages)])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def base_ref(rootfs: Rootfs = BASE) -> str:
    return f"{REPOSITORY}/{rootfs.name}:{SUITE}-{packages_hash(rootfs)}"


def find_mirror(files: tuple[Path, ...] = SOURCES_FILES) -> str:
    """The Debian mirror apt on this machine uses for the main archive.

    Read from apt's own configuration rather than hard-coded: CI and development machines
    point at whatever mirror (or snapshot) their image was made with, and it may be the only
    one reachable.
    """
    for path in files:
        try:
            text = path.read_text()
        except OSError:
            continue
        mirror = _mirror_from_deb822(text) if path.suffix == ".sources" else _mirror_from_list(text)
        if mirror:
            return mirror
    names = ", ".join(str(p) for p in files)
    raise RuntimeError(f"no Debian {SUITE} mirror found in {names}; is this a Debian machine?")


def _mirror_from_deb822(text: str) -> str | None:
    # deb822 stanzas are separated by blank lines; pick the one serving "<suite>" (not
    # "<suite>-security", whose archive layout debootstrap cannot use as a main mirror).
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        if "deb" in fields.get("types", "").split() and SUITE in fields.get("suites", "").split():
            uris = fields.get("uris", "").split()
            if uris:
                return uris[0]
    return None


def _mirror_from_list(text: str) -> str | None:
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        # "deb [options] URI SUITE COMPONENTS..."; options are bracketed.
        words = [w for w in words if not (w.startswith("[") or w.endswith("]"))]
        if len(words) >= 3 and words[0] == "deb" and words[2] == SUITE:
            return words[1]
    return None


def base_exists(client: docker.DockerClient, rootfs: Rootfs = BASE) -> bool:
    try:
        client.images.get(base_ref(rootfs))
    except docker.errors.ImageNotFound:
        return False
    return True


def build_base(client: docker.DockerClient, progress: Progress, rootfs: Rootfs = BASE) -> str:
    """Make the base image with debootstrap + import, and return its ref.

    The caller holds the build lock; this does not check whether the image exists.
    """
    debootstrap = shutil.which("debootstrap")
    if debootstrap is None:
        raise RuntimeError("debootstrap is not installed: run `apt-get install -y debootstrap`")
    if os.geteuid() != 0:
        raise RuntimeError("building the stand-in base image runs debootstrap and needs root")
    mirror = find_mirror()
    ref = base_ref(rootfs)
    what = rootfs.name
    # /var/tmp, not /tmp: the tree is ~260 MB and /tmp is a small tmpfs on some machines.
    with tempfile.TemporaryDirectory(prefix="k8sdistro-standin-base-", dir="/var/tmp") as tmp:
        root = Path(tmp) / "rootfs"
        log = Path(tmp) / "debootstrap.log"
        progress(f"{what}: debootstrap {SUITE} from {mirror} (about 40 s for the base)")
        started = time.monotonic()
        cmd = [
            debootstrap,
            f"--variant={VARIANT}",
            f"--include={','.join(rootfs.packages)}",
            SUITE,
            str(root),
            mirror,
        ]
        with log.open("wb") as out:
            result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False)
        if result.returncode != 0:
            # debootstrap's own output only says "see debootstrap.log"; that inner log (from
            # dpkg) has the actual reason, and it is deleted with the temporary directory.
            inner = root / "debootstrap" / "debootstrap.log"
            lines = log.read_text(errors="replace").splitlines()[-15:]
            if inner.is_file():
                lines += ["--- debootstrap.log ---"]
                lines += inner.read_text(errors="replace").splitlines()[-30:]
            tail = "\n".join(lines)
            raise RuntimeError(f"debootstrap failed (exit {result.returncode}):\n{tail}")
        progress(f"{what}: debootstrap done in {time.monotonic() - started:.0f} s")
        _trim(root)
        tarball = Path(tmp) / "rootfs.tar"
        # --numeric-owner: the image must keep the rootfs's uids, not map them through the
        # host's user database.
        subprocess.run(
            ["tar", "-C", str(root), "--numeric-owner", "-cf", str(tarball), "."], check=True
        )
        repository, tag = ref.rsplit(":", 1)
        changes = [
            f'LABEL "{LABEL_STANDIN}"="1" "{LABEL_PACKAGES_HASH}"="{packages_hash(rootfs)}" '
            f'"{DESCRIPTION_LABEL}"="Debian {SUITE} {rootfs.description}"',
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            'CMD ["/bin/sh"]',
        ]
        client.api.import_image_from_file(
            str(tarball), repository=repository, tag=tag, changes=changes
        )
    client.images.get(ref)  # raises if the import did not produce the tag
    progress(f"{what}: imported {ref} ({time.monotonic() - started:.0f} s in all)")
    return ref


def _trim(root: Path) -> None:
    """Drop downloaded packages and apt lists: nothing installs into these images later."""
    for pattern in ("var/cache/apt/archives/*.deb", "var/lib/apt/lists/*"):
        for path in root.glob(pattern):
            if path.is_file():
                path.unlink()
