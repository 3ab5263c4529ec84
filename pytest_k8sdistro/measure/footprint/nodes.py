"""From a cluster and the provisioner that made it to what measures its nodes.

The provisioner says, per node, how it is reached (:class:`NodeAccess`): a
container's memory is read from its cgroup on the engine's host and its files
through the engine; a machine's memory is MemTotal - MemAvailable and its files are
counted with ``du``, through its testinfra host. A provisioner whose nodes cannot
be measured from here (a cluster given with ``--distro-kubeconfig`` runs somewhere
unknown) says so in its capabilities, and nothing is measured: reading this
machine instead would report the wrong figures.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pytest_k8sdistro.distros.spec import DistroSpec
from pytest_k8sdistro.errors import NotMeasurable
from pytest_k8sdistro.measure.footprint import disk, memory
from pytest_k8sdistro.model.cluster import Cluster
from pytest_k8sdistro.provisioners.base import NodeAccess, Provisioner


def _access(provisioner: Provisioner, cluster: Cluster) -> list[NodeAccess]:
    capabilities = provisioner.CAPABILITIES
    if not capabilities.measurable:
        raise NotMeasurable(
            capabilities.not_measurable_reason
            or f"the {provisioner.NAME} provisioner's nodes cannot be measured from here"
        )
    found = provisioner.node_access(cluster)
    if not found:
        raise NotMeasurable(f"the {provisioner.NAME} provisioner reported no node to measure")
    return found


def _testinfra_host(spec: str) -> Any:
    import testinfra

    return testinfra.get_host(spec)


def _meminfo(host: Any) -> Callable[[], str]:
    return lambda: str(host.file("/proc/meminfo").content_string)


def memory_of(provisioner: Provisioner, cluster: Cluster) -> memory.NodesMemory:
    """Readers of every node's memory in use (working set or MemTotal - MemAvailable)."""
    readers: dict[str, memory.MemoryReader] = {}
    for node in _access(provisioner, cluster):
        if node.container is not None:
            readers[node.name] = memory.container_reader(node.container)
        else:
            assert node.host_spec is not None  # NodeAccess holds one of the two
            host = _testinfra_host(node.host_spec)
            readers[node.name] = memory.MeminfoMemory(_meminfo(host), node.host_spec)
    return memory.NodesMemory(readers)


def disk_of(provisioner: Provisioner, cluster: Cluster) -> disk.DiskUsage:
    """The distribution's install on the first (server) node, and the node image."""
    server = _access(provisioner, cluster)[0]
    profile = DistroSpec(cluster.distro, cluster.version).profile
    if server.container is not None:
        paths = (*((server.binary,) if server.binary else ()), *profile.data_dirs)
        return disk.container_usage(server.container, paths, image=server.image)
    assert server.host_spec is not None  # NodeAccess holds one of the two
    host = _testinfra_host(server.host_spec)
    binaries = profile.machine.binaries if profile.machine is not None else ()
    return disk.machine_usage(
        lambda cmd: str(host.run(cmd).stdout), (*binaries, *profile.data_dirs)
    )


def time_to_ready(provisioner: Provisioner, cluster: Cluster) -> dict[str, float]:
    """Seconds to each readiness stage, counted from the server node's own start.

    ``Cluster.timings`` counts from the start of provisioning (engine checks, an
    image pull, volumes); the node's own start is subtracted when the provisioner
    knows it and the manager recorded when provisioning began. Otherwise the
    timings are returned as they are.
    """
    timings = dict(cluster.timings)
    started_at = cluster.details.get("provisioning_started_at")
    if not isinstance(started_at, (int, float)) or not provisioner.CAPABILITIES.measurable:
        return timings
    try:
        node_start = provisioner.node_access(cluster)[0].started_at
    except Exception:
        return timings
    if node_start is None:
        return timings
    offset = node_start - float(started_at)
    if not 0 <= offset <= min(timings.values(), default=offset):
        return timings  # clocks disagree (a remote engine): keep what was measured here
    return {stage: round(seconds - offset, 3) for stage, seconds in timings.items()}
