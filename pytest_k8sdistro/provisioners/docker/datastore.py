"""The external database a server keeps its state in, as a container beside it."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors

from pytest_k8sdistro import interrupt
from pytest_k8sdistro.errors import ProvisionError
from pytest_k8sdistro.model.datastore import DATASTORES, DatastoreKind, ExternalDatastore
from pytest_k8sdistro.progress import Progress
from pytest_k8sdistro.provisioners.docker import images

__all__ = ["DATASTORES", "Started", "start"]

POLL_S = 1.0


@dataclass(frozen=True)
class Started:
    record: ExternalDatastore
    #: What the server is given: reaches the database by its container name.
    endpoint: str


def start(
    client: docker.DockerClient,
    kind: DatastoreKind,
    *,
    image: str | None,
    name: str,
    network: str,
    labels: dict[str, str],
    volumes: Callable[[str, str, tuple[str, ...]], dict[str, str]],
    deadline: float,
    say: Callable[[str], None],
    progress: Progress,
) -> Started:
    """Start ``kind``'s image on ``network`` and return once it takes connections.

    Nothing is published on the host: only the server reaches it, over the
    cluster's own network, and tests query it with its client inside the container.
    """
    ref = image or kind.default_image
    images.ensure(client, ref, archive=None, say=say)
    password = secrets.token_hex(16)
    mounts = {
        volume: {"bind": path, "mode": "rw"} for volume, path in volumes(ref, name, ()).items()
    }
    try:
        container = client.containers.run(
            ref,
            name=name,
            hostname=name,
            environment=kind.environment(password),
            labels=labels,
            network=network,
            volumes=mounts,
            detach=True,
        )
    except docker.errors.APIError as exc:
        raise ProvisionError(
            f"cannot start {kind.name} ({ref}): {exc.explanation or exc}"
        ) from None
    say(f"{kind.name} ({ref}) started as {name}; waiting for it to take connections")
    started = time.monotonic()
    command = kind.ready_command()
    while True:
        code, output = _exec(container, command, kind.password_env(password))
        if code == 0:
            break
        if code in (126, 127) or "executable file not found" in output:
            raise ProvisionError(
                f"{ref} has no {command[0]}, which the official {kind.name} image has and "
                f"the plugin asks readiness with: {output.strip()[-200:]}"
            )
        container.reload()
        if container.status not in ("created", "running"):
            raise ProvisionError(
                f"{name} ({ref}) stopped ({container.status}) before taking connections; "
                f"last log lines:\n{_tail(container)}"
            )
        waited = time.monotonic() - started
        if time.monotonic() >= deadline:
            raise ProvisionError(
                f"{kind.name} in {name} took no connections after {waited:.0f}s "
                f"({' '.join(command)}: {output.strip()[-200:] or 'no output'}); "
                f"last log lines:\n{_tail(container)}"
            )
        progress.every(f"datastore-{name}", 10.0, f"waiting {waited:.0f}s for {kind.name}")
        interrupt.pause(POLL_S)
    say(f"{kind.name} in {name} ready after {time.monotonic() - started:.1f}s")
    return Started(
        record=ExternalDatastore(
            kind=kind.name, host_spec=f"docker://{container.id}", image=ref, password=password
        ),
        endpoint=kind.endpoint(name, password),
    )


def _exec(container: Any, command: list[str], env: dict[str, str]) -> tuple[int, str]:
    try:
        code, output = container.exec_run(command, environment=env)
    except docker.errors.APIError as exc:
        return 1, str(exc.explanation or exc)
    return int(code), bytes(output or b"").decode(errors="replace")


def _tail(container: Any, lines: int = 20) -> str:
    try:
        return bytes(container.logs(tail=lines)).decode(errors="replace").rstrip()
    except docker.errors.APIError:
        return "(no logs)"
