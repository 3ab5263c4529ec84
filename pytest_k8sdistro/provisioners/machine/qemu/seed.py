"""The NoCloud seed: an ISO 9660 image labelled ``cidata`` with user-data and meta-data.

Written with pycdlib (pure Python) rather than ``cloud-localds``: nothing to install
on the machine (cloud-localds is Debian/Ubuntu's cloud-image-utils and calls
genisoimage or xorriso), and ISO 9660 is what cloud-localds itself writes and every
cloud-init reads. Rock Ridge and Joliet carry the lower-case names cloud-init opens.
"""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path
from typing import Any

from pytest_k8sdistro.errors import ProvisionError

LABEL = "cidata"
#: The login user of every VM: passwordless sudo, the run's key, no password.
VM_USER = "k8sdistro"


def cloud_config(hostname: str, authorized_key: str, user: str = VM_USER) -> dict[str, Any]:
    """The user-data: the hostname, and ``user`` with passwordless sudo and the key."""
    return {
        "hostname": hostname,
        # sudo resolves the host's own name; without an /etc/hosts entry it waits on DNS.
        "manage_etc_hosts": True,
        "ssh_pwauth": False,
        # One host key type: RSA key generation alone takes seconds under emulation.
        "ssh_genkeytypes": ["ed25519"],
        "users": [
            {
                "name": user,
                "shell": "/bin/bash",
                "lock_passwd": True,
                "sudo": "ALL=(ALL) NOPASSWD:ALL",
                "ssh_authorized_keys": [authorized_key.strip()],
            }
        ],
    }


def user_data(config: dict[str, Any]) -> str:
    # JSON is YAML; cloud-init only needs the header line to know the format.
    return "#cloud-config\n" + json.dumps(config, indent=2) + "\n"


def meta_data(hostname: str, instance_id: str) -> str:
    # A new instance-id makes cloud-init treat the boot as a first boot and apply the
    # user-data: the base image is shared by every VM.
    return f"instance-id: {instance_id}\nlocal-hostname: {hostname}\n"


def write_seed(
    path: Path, *, hostname: str, config: dict[str, Any], instance_id: str | None = None
) -> Path:
    """Write the seed image to ``path`` and return it."""
    try:
        import pycdlib
    except ImportError:  # a dependency; only a broken install lacks it
        raise ProvisionError(
            "the qemu provisioner writes its NoCloud seed with pycdlib, which is not "
            "installed: pip install pycdlib"
        ) from None
    files = {
        "user-data": user_data(config),
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
