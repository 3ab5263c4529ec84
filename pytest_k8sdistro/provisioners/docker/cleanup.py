"""Removing what runs whose process is gone left behind, and nothing else.

A resource is a leftover when all of these hold:

- it carries the plugin's ownership label (nothing unlabelled is ever looked at);
- it was made on this host (a pid means nothing elsewhere: an engine shared through
  DOCKER_HOST serves other machines too);
- its owner's pid is not alive, or is alive but started at another time than the
  label records (the pid was reused);
- no kept marker names its run and cluster.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import docker
import docker.errors

from pytest_k8sdistro.provisioners.docker import labels
from pytest_k8sdistro.provisioners.process import pid_alive, process_start


@dataclass
class OwnerCheck:
    hostname: str
    alive: Callable[[int], bool] = pid_alive
    started: Callable[[int], str] = process_start

    def gone(self, owner: labels.Owner) -> bool:
        """Whether ``owner``'s process is certainly gone (never guess for other hosts)."""
        if owner.hostname != self.hostname:
            return False
        if not self.alive(owner.pid):
            return True
        if owner.pid_start:
            now = self.started(owner.pid)
            return bool(now) and now != owner.pid_start
        return False


@dataclass
class Report:
    containers: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.containers or self.volumes or self.networks)

    def summary(self) -> str:
        parts = [
            f"{len(items)} {kind}: {', '.join(items)}"
            for kind, items in (
                ("container(s)", self.containers),
                ("volume(s)", self.volumes),
                ("network(s)", self.networks),
            )
            if items
        ]
        return "; ".join(parts)


def remove_leftovers(client: docker.DockerClient, check: OwnerCheck) -> Report:
    report = Report()
    # Markers first: a kept cluster removed by hand frees its remains in this same pass.
    report.volumes += _orphaned_markers(client)
    kept = _kept(client)

    def leftover(found: dict[str, str]) -> bool:
        owner = labels.Owner.from_labels(found)
        if owner is None or found.get(labels.ROLE) == labels.ROLE_KEPT:
            return False
        return (owner.run_id, owner.cluster) not in kept and check.gone(owner)

    for container in client.containers.list(all=True, ignore_removed=True, filters=labels.owned()):
        # v=True: also the anonymous volumes the image declared and nobody named.
        remove = functools.partial(container.remove, force=True, v=True)
        if leftover(container.labels) and _quietly(remove):
            report.containers.append(container.name)
    for network in client.networks.list(filters=labels.owned()):
        if leftover(network.attrs.get("Labels") or {}) and _quietly(network.remove):
            report.networks.append(network.name)
    for volume in client.volumes.list(filters=labels.owned()):
        if leftover(volume.attrs.get("Labels") or {}) and _quietly(volume.remove):
            report.volumes.append(volume.name)
    return report


def _kept(client: docker.DockerClient) -> set[tuple[str, str]]:
    markers = client.volumes.list(filters={"label": [f"{labels.KEPT}=1"]})
    found = set()
    for marker in markers:
        marker_labels = marker.attrs.get("Labels") or {}
        if marker_labels.get(labels.OWNED) == "1":
            found.add((marker_labels.get(labels.RUN_ID, ""), marker_labels.get(labels.CLUSTER, "")))
    return found


def _orphaned_markers(client: docker.DockerClient) -> list[str]:
    """Kept markers whose cluster's containers are all gone (removed by hand)."""
    removed = []
    for marker in client.volumes.list(filters={"label": [f"{labels.KEPT}=1"]}):
        marker_labels = marker.attrs.get("Labels") or {}
        if marker_labels.get(labels.OWNED) != "1":
            continue
        run_id = marker_labels.get(labels.RUN_ID, "")
        cluster = marker_labels.get(labels.CLUSTER, "")
        containers = client.containers.list(
            all=True, ignore_removed=True, filters=labels.of_cluster(run_id, cluster)
        )
        if not containers and _quietly(marker.remove):
            removed.append(marker.name)
    return removed


def _quietly(action: Callable[[], object]) -> bool:
    """Whether ``action`` removed the thing; a clean-up never fails the run."""
    try:
        action()
    except docker.errors.NotFound:
        return False  # another process removed it first
    except docker.errors.APIError:
        return False  # still in use (e.g. a volume by a container); next run retries
    return True
