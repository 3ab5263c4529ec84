"""The NoCloud seed: an ISO 9660 image labelled ``cidata`` with user-data and meta-data.

Written with pycdlib (pure Python, on PyPI) rather than ``cloud-localds``: the QEMU
provisioner that will make seeds on users' machines then needs no system package
(cloud-localds is Debian/Ubuntu's cloud-image-utils, and calls genisoimage or xorriso),
and ISO 9660 is the format cloud-localds itself writes and every cloud-init reads.
Rock Ridge and Joliet carry the long lower-case names; cloud-init mounts the seed and
reads ``user-data`` and ``meta-data`` by name.
"""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import pycdlib

LABEL = "cidata"
SUDO_USER = "ci"
#: A user without sudo, as on the sshd test machine (tests/sshd/image.py).
PLAIN_USER = "nosudo"


def user_data(
    hostname: str,
    authorized_key: str,
    user: str = SUDO_USER,
    plain_users: tuple[str, ...] = (PLAIN_USER,),
) -> str:
    """The #cloud-config: root, ``user`` with passwordless sudo and ``plain_users``
    without, all reached with ``authorized_key``."""
    key = [authorized_key]
    plain = [
        {"name": name, "shell": "/bin/bash", "lock_passwd": True, "ssh_authorized_keys": key}
        for name in plain_users
    ]
    config = {
        "hostname": hostname,
        # sudo resolves the host's own name; without an /etc/hosts entry it waits on DNS,
        # which user-mode networking forwards to the host's resolver.
        "manage_etc_hosts": True,
        "ssh_pwauth": False,
        # One host key type: RSA key generation alone takes seconds under TCG.
        "ssh_genkeytypes": ["ed25519"],
        "disable_root": False,
        "users": [
            # root exists: cloud-init skips creating it and still installs the key.
            {"name": "root", "ssh_authorized_keys": key},
            {
                "name": user,
                "shell": "/bin/bash",
                "lock_passwd": True,
                "sudo": "ALL=(ALL) NOPASSWD:ALL",
                "ssh_authorized_keys": key,
            },
            *plain,
        ],
    }
    # JSON is YAML; cloud-init only needs the header line to know the format.
    return "#cloud-config\n" + json.dumps(config, indent=2) + "\n"


def meta_data(hostname: str, instance_id: str) -> str:
    # A new instance-id makes cloud-init treat the boot as a first boot and apply the
    # user-data; the base image is shared by every VM, so each seed gets its own.
    return f"instance-id: {instance_id}\nlocal-hostname: {hostname}\n"


def write_seed(
    path: Path,
    *,
    hostname: str,
    authorized_key: str,
    user: str = SUDO_USER,
    plain_users: tuple[str, ...] = (PLAIN_USER,),
    instance_id: str | None = None,
) -> Path:
    """Write the NoCloud seed image to ``path`` and return it."""
    files = {
        "user-data": user_data(hostname, authorized_key, user, plain_users),
        "meta-data": meta_data(hostname, instance_id or f"i-{uuid.uuid4().hex[:16]}"),
    }
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident=LABEL)
    try:
        for name, text in files.items():
            data = text.encode()
            # The plain ISO 9660 name is 8.3 upper case; Rock Ridge and Joliet give the
            # real one, which is what Linux shows.
            iso_name = "/" + name.replace("-", "").upper()[:8] + ".;1"
            iso.add_fp(io.BytesIO(data), len(data), iso_name, rr_name=name, joliet_path=f"/{name}")
        iso.write(str(path))
    finally:
        iso.close()
    return path
