"""The Docker engine: a client from the environment and the host facts that matter.

``docker.from_env`` honours ``DOCKER_HOST``, ``DOCKER_TLS_VERIFY`` and
``DOCKER_CERT_PATH``, so a remote engine works like the local socket.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
import requests

from pytest_k8sdistro.errors import ProvisionError

START_HINT = (
    "start a Docker engine (Debian: `apt-get install -y docker.io` then `dockerd &`), "
    "or point DOCKER_HOST at a running one"
)


def connect() -> docker.DockerClient:
    """A client for the engine at DOCKER_HOST (or the default socket), checked to answer."""
    where = os.environ.get("DOCKER_HOST") or "the default socket"
    try:
        client = docker.from_env()
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise ProvisionError(f"no Docker engine answers at {where}: {exc}; {START_HINT}") from None
    return client


@dataclass(frozen=True)
class EngineFacts:
    """What the engine says about its host, read once from ``docker info``."""

    #: "1" or "2"; engines before 20.10 do not report it and run on cgroup v1.
    cgroup_version: str
    cgroup_driver: str
    server_version: str
    #: Where the engine runs; used to label what the plugin made (identity, not trust).
    name: str

    @property
    def cgroup_v2(self) -> bool:
        return self.cgroup_version == "2"

    @classmethod
    def from_info(cls, info: dict[str, Any]) -> EngineFacts:
        return cls(
            cgroup_version=str(info.get("CgroupVersion") or "1"),
            cgroup_driver=str(info.get("CgroupDriver") or ""),
            server_version=str(info.get("ServerVersion") or ""),
            name=str(info.get("Name") or ""),
        )


def cpus() -> int | None:
    """How many CPUs the engine has, or None when no engine answers (the start says so)."""
    try:
        client = docker.from_env(timeout=10)
        try:
            return int(client.info().get("NCPU") or 0) or None
        finally:
            client.close()
    except (docker.errors.DockerException, requests.exceptions.RequestException, ValueError):
        return None
