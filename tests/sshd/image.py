"""The sshd image: the stand-in base image plus openssh-server and sudo.

The tests use no container registry and nothing is installed with apt inside an
image: Debian packages are fetched on the host instead. apt on the host resolves exactly what
the base image lacks (its dpkg status file is given to apt as the system's), the
.debs are downloaded on the host and installed with dpkg during the build. The tag
hashes the base image and the recipe, so test runs reuse the image.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

import docker
import docker.errors
from image.specs import DESCRIPTION_LABEL, LABEL_STANDIN, REPOSITORY

PACKAGES = ("openssh-server", "sudo")
#: Users of the test machine: root, a user with passwordless sudo, one without.
SUDO_USER = "ci"
PLAIN_USER = "nosudo"

DOCKERFILE = f"""\
FROM {{base}}
COPY debs /tmp/debs
# policy-rc.d: the packages' scripts must not try to start services during the build.
RUN printf '#!/bin/sh\\nexit 101\\n' >/usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d \\
 && dpkg -i /tmp/debs/*.deb && rm -rf /tmp/debs /usr/sbin/policy-rc.d /etc/ssh/ssh_host_* \\
 && useradd -m -s /bin/sh {SUDO_USER} && useradd -m -s /bin/sh {PLAIN_USER} \\
 && usermod -p '*' root && usermod -p '*' {SUDO_USER} && usermod -p '*' {PLAIN_USER} \\
 && echo '{SUDO_USER} ALL=(ALL) NOPASSWD:ALL' >/etc/sudoers.d/{SUDO_USER} \\
 && chmod 0440 /etc/sudoers.d/{SUDO_USER}
COPY k8sdistro.conf /etc/ssh/sshd_config.d/k8sdistro.conf
COPY entrypoint.sh /entrypoint.sh
LABEL "{LABEL_STANDIN}"="1" "{DESCRIPTION_LABEL}"="sshd test machine for pytest-k8sdistro"
ENTRYPOINT ["/entrypoint.sh"]
"""

# Keys only. UsePAM no: pam_loginuid fails in containers; with it off, sshd refuses
# locked accounts, hence the '*' passwords above (no password, not locked).
SSHD_CONFIG = """\
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
"""

# Host keys are made per container; the run's public key arrives in AUTHORIZED_KEY.
ENTRYPOINT = f"""\
#!/bin/sh
set -eu
ssh-keygen -A >/dev/null
# A machine's /proc/sys is writable by root; a container's is mounted read-only.
# What runs here sets its own knobs (the CNI portmap's route_localnet, for one).
mount -o remount,rw /proc/sys 2>/dev/null || true
mkdir -p /run/sshd
for user in root {SUDO_USER} {PLAIN_USER}; do
    home=$(getent passwd "$user" | cut -d: -f6)
    mkdir -p "$home/.ssh"
    printf '%s\\n' "$AUTHORIZED_KEY" >"$home/.ssh/authorized_keys"
    chown -R "$user:" "$home/.ssh"
    chmod 0700 "$home/.ssh"
    chmod 0600 "$home/.ssh/authorized_keys"
done
exec /usr/sbin/sshd -D -e
"""

Progress = Callable[[str], None]


def image_ref(base: str) -> str:
    digest = hashlib.sha256(
        "\0".join([base, *PACKAGES, DOCKERFILE, SSHD_CONFIG, ENTRYPOINT]).encode()
    ).hexdigest()[:12]
    return f"{REPOSITORY}/sshd:{digest}"


def ensure_image(client: docker.DockerClient, base: str, progress: Progress) -> str:
    """The sshd image on ``base``, built when missing; the caller holds a build lock."""
    ref = image_ref(base)
    try:
        client.images.get(ref)
        return ref
    except docker.errors.ImageNotFound:
        pass
    if shutil.which("apt-get") is None:
        raise RuntimeError("building the sshd test image needs apt-get on the host (Debian)")
    with tempfile.TemporaryDirectory(prefix="k8sdistro-sshd-") as tmp:
        work = Path(tmp)
        debs = work / "debs"
        debs.mkdir()
        packages = _missing_packages(client, base, work)
        progress(f"sshd image: downloading {' '.join(packages)}")
        subprocess.run(
            ["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root", *packages],
            cwd=debs,
            check=True,
            capture_output=True,
        )
        files = {
            "Dockerfile": DOCKERFILE.format(base=base).encode(),
            "k8sdistro.conf": SSHD_CONFIG.encode(),
            "entrypoint.sh": ENTRYPOINT.encode(),
        }
        for deb in sorted(debs.glob("*.deb")):
            files[f"debs/{deb.name}"] = deb.read_bytes()
        progress(f"sshd image: building {ref}")
        client.images.build(
            fileobj=_context(files), custom_context=True, tag=ref, rm=True, forcerm=True
        )
    return ref


def _missing_packages(client: docker.DockerClient, base: str, work: Path) -> list[str]:
    """What apt would install on ``base`` for :data:`PACKAGES`, resolved on the host."""
    container = client.containers.create(base, labels={"pytest-k8sdistro.test": "1"})
    try:
        stream, _ = container.get_archive("/var/lib/dpkg/status")
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.next()
            handle = tar.extractfile(member) if member else None
            assert handle is not None
            (work / "status").write_bytes(handle.read())
    finally:
        container.remove(force=True)
    done = subprocess.run(
        [
            "apt-get",
            "install",
            "-s",
            "--no-install-recommends",
            "-o",
            f"Dir::State::Status={work / 'status'}",
            *PACKAGES,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    packages = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("Inst ")]
    if not packages:
        raise RuntimeError(f"apt resolved nothing to install:\n{done.stdout}\n{done.stderr}")
    return packages


def _context(files: dict[str, bytes]) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755 if name.endswith(".sh") else 0o644
            tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer
