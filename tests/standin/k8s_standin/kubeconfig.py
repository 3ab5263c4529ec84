"""Admin kubeconfig files in the shape the distributions write them."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import yaml


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def build(
    server: str,
    ca_pem: bytes,
    names: tuple[str, str, str],
    client_cert: bytes | None = None,
    client_key: bytes | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    cluster, user, context = names
    creds: dict[str, str] = {}
    if client_cert and client_key:
        creds["client-certificate-data"] = _b64(client_cert)
        creds["client-key-data"] = _b64(client_key)
    if token:
        creds["token"] = token
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster,
                "cluster": {"server": server, "certificate-authority-data": _b64(ca_pem)},
            }
        ],
        "users": [{"name": user, "user": creds}],
        "contexts": [{"name": context, "context": {"cluster": cluster, "user": user}}],
        "current-context": context,
        "preferences": {},
    }


def dump(config: dict[str, Any]) -> str:
    return yaml.safe_dump(config, default_flow_style=False, sort_keys=False)


def write(path: Path, config: dict[str, Any], mode: int = 0o600) -> None:
    """Write atomically so a reader polling for the file never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as fh:
        fh.write(dump(config))
    os.chmod(tmp, mode)  # umask must not weaken or widen the requested mode
    os.replace(tmp, path)


def server_of(config: dict[str, Any]) -> str:
    return str(config["clusters"][0]["cluster"]["server"])


def ca_of(config: dict[str, Any]) -> bytes:
    return base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"])
