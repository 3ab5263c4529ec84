"""From a :class:`~pytest_k8sdistro.model.cluster.Cluster` to what measures its nodes.

Container nodes (the docker provisioner) are read on the engine's host; machine
nodes (host, ssh, multipass) through their testinfra host. A cluster given with
``--kubeconfig`` runs somewhere the plugin does not know, so nothing there is
measured: reading this machine instead would report the wrong figures.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from typing import Any

from pytest_k8sdistro.measure.footprint import disk, memory
from pytest_k8sdistro.measure.footprint.memory import MeasurementError
from pytest_k8sdistro.model.cluster import Cluster

MACHINE_PROVISIONERS = ("host", "ssh", "multipass")


class NotMeasurable(MeasurementError):
    """The cluster's nodes cannot be measured from here; the message says why."""


def _why_not(cluster: Cluster) -> str:
    if cluster.provisioner == "existing":
        return (
            "the cluster was given with --kubeconfig: where its nodes run is unknown, and "
            "this machine's figures would be the wrong ones"
        )
    return (
        f"the {cluster.provisioner} provisioner's nodes cannot be measured; memory and disk "
        f"are measured on docker ({', '.join(MACHINE_PROVISIONERS)}) nodes"
    )


def _docker_containers(cluster: Cluster) -> list[Any]:
    from pytest_k8sdistro.provisioners.docker import engine

    client = engine.connect()
    return [client.containers.get(cid) for cid in cluster.details.get("containers", [])]


def _testinfra_host(spec: str) -> Any:
    import testinfra

    return testinfra.get_host(spec)


def _meminfo(host: Any) -> Callable[[], str]:
    return lambda: str(host.file("/proc/meminfo").content_string)


def memory_of(cluster: Cluster) -> memory.NodesMemory:
    """Readers of every node's memory in use (working set or MemTotal - MemAvailable)."""
    if cluster.provisioner == "docker":
        containers = _docker_containers(cluster)
        return memory.NodesMemory({c.name: memory.container_reader(c) for c in containers})
    if cluster.provisioner in MACHINE_PROVISIONERS:
        readers: dict[str, memory.MemoryReader] = {}
        for node in cluster.nodes:
            host = _testinfra_host(node.host_spec)
            readers[node.name] = memory.MeminfoMemory(_meminfo(host), node.host_spec)
        return memory.NodesMemory(readers)
    raise NotMeasurable(_why_not(cluster))


def disk_of(cluster: Cluster, binary: str | None) -> disk.DiskUsage:
    """The distribution's install on the first (server) node, and the node image."""
    paths = disk.install_paths(cluster.distro, binary)
    if cluster.provisioner == "docker":
        server = _docker_containers(cluster)[0]
        return disk.container_usage(server, paths, image=cluster.image)
    if cluster.provisioner in MACHINE_PROVISIONERS:
        host = _testinfra_host(cluster.nodes[0].host_spec)
        machine_paths = disk.install_paths(cluster.distro, None)
        return disk.machine_usage(lambda cmd: str(host.run(cmd).stdout), machine_paths)
    raise NotMeasurable(_why_not(cluster))


def _epoch(timestamp: str) -> float | None:
    """Docker's RFC 3339 timestamps (nanoseconds, ``Z``) as epoch seconds."""
    match = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?Z", timestamp)
    if match is None:
        return None
    parts = [int(p) for p in match.groups()[:6]]
    seconds = calendar.timegm((*parts, 0, 0, 0))
    return seconds + float(match.group(7) or 0)


def time_to_ready(cluster: Cluster) -> dict[str, float]:
    """Seconds to each readiness stage, counted from the node container's start.

    ``Cluster.timings`` counts from the start of provisioning (engine checks, an
    image pull, volumes); a docker node's own start is subtracted when the manager
    recorded when provisioning began. Otherwise the timings are returned as they are.
    """
    timings = dict(cluster.timings)
    started_at = cluster.details.get("provisioning_started_at")
    if cluster.provisioner != "docker" or not isinstance(started_at, (int, float)):
        return timings
    try:
        server = _docker_containers(cluster)[0]
    except Exception:
        return timings
    node_start = _epoch(str(server.attrs.get("State", {}).get("StartedAt", "")))
    if node_start is None:
        return timings
    offset = node_start - float(started_at)
    if not 0 <= offset <= min(timings.values(), default=offset):
        return timings  # clocks disagree (a remote engine): keep what was measured here
    return {stage: round(seconds - offset, 3) for stage, seconds in timings.items()}
