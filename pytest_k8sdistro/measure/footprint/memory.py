"""Memory of a node, read from outside it.

A container node's figure is its cgroup's working set, read on the Docker host:
usage minus the inactive file cache (what the kernel reclaims first; the working
set the kubelet and ``docker stats`` report). cgroup v1 takes ``memory.usage_in_bytes``
and ``total_inactive_file`` from ``memory.stat``; cgroup v2 ``memory.current`` and
``inactive_file``. A VM or host node's figure is MemTotal - MemAvailable, as the
2021 comparison measured it.

Never ``/proc/meminfo`` inside a container, nor the node's capacity: both show the
host's memory (kubernetes-sigs/kind#2805).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pytest_k8sdistro.errors import MeasurementError

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC = Path("/proc")
#: How a figure was measured, as the report names it.
METHOD_CGROUP = "cgroup working set"
METHOD_MEMINFO = "MemTotal - MemAvailable"


class MemoryReader(Protocol):
    """Reads one node's memory in use, in bytes."""

    @property
    def source(self) -> str:
        """Where the figure comes from, for reports (``cgroup v2 /sys/fs/...``)."""

    @property
    def method(self) -> str:
        """How: :data:`METHOD_CGROUP` or :data:`METHOD_MEMINFO`."""

    def read(self) -> int: ...


def parse_stat(text: str) -> dict[str, int]:
    """``memory.stat`` as a dict; lines that are not ``key value`` are skipped."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value.strip().isdigit():
            values[key] = int(value)
    return values


def working_set(usage: int, stat: dict[str, int], version: int) -> int:
    """Usage minus inactive file cache, never below 0.

    v1's hierarchical ``total_inactive_file`` covers the child cgroups (pods) that
    ``memory.usage_in_bytes`` also counts; v2's ``inactive_file`` is hierarchical.
    """
    if version == 1:
        inactive = stat.get("total_inactive_file", stat.get("inactive_file", 0))
    else:
        inactive = stat.get("inactive_file", 0)
    return max(0, usage - inactive)


def meminfo_used(text: str) -> int:
    """MemTotal - MemAvailable, in bytes, from ``/proc/meminfo`` of a VM or host."""
    fields: dict[str, int] = {}
    for line in text.splitlines():
        match = re.fullmatch(r"(\w+):\s+(\d+)\s*kB", line.strip())
        if match:
            fields[match.group(1)] = int(match.group(2)) * 1024
    if "MemTotal" not in fields or "MemAvailable" not in fields:
        raise MeasurementError(
            "/proc/meminfo has no MemTotal or MemAvailable (kernel before 3.14?)"
        )
    return fields["MemTotal"] - fields["MemAvailable"]


@dataclass(frozen=True)
class Cgroup:
    """One cgroup's memory files on this machine."""

    path: Path
    version: int
    method = METHOD_CGROUP

    @property
    def source(self) -> str:
        return f"cgroup v{self.version} {self.path}"

    def read(self) -> int:
        usage_file = "memory.usage_in_bytes" if self.version == 1 else "memory.current"
        try:
            usage = int((self.path / usage_file).read_text())
            stat = parse_stat((self.path / "memory.stat").read_text())
        except (OSError, ValueError) as exc:
            raise MeasurementError(f"cannot read {self.source}: {exc}") from None
        return working_set(usage, stat, self.version)


def memory_cgroup_of(pid: int, *, root: Path = CGROUP_ROOT, proc: Path = PROC) -> Cgroup:
    """The memory cgroup host process ``pid`` is in, as this machine sees it.

    ``/proc/PID/cgroup`` is read in the reader's cgroup namespace, so a node with a
    private cgroup namespace still shows its host-side path here.
    """
    try:
        lines = (proc / str(pid) / "cgroup").read_text().splitlines()
    except OSError as exc:
        raise MeasurementError(f"cannot read the cgroup of pid {pid}: {exc}") from None
    v1 = v2 = None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            v1 = path
        elif controllers == "" and line.startswith("0::"):
            v2 = path
    # A hybrid host (v1 controllers, v2 mounted at unified/) keeps memory on v1.
    if v1 is not None and (root / "memory").is_dir():
        return Cgroup(root / "memory" / v1.lstrip("/"), 1)
    if v2 is not None and (root / "cgroup.controllers").exists():
        return Cgroup(root / v2.lstrip("/"), 2)
    raise MeasurementError(f"pid {pid} is in no memory cgroup mounted under {root}")


def container_cgroup(pid: int, container_id: str, **where: Any) -> Cgroup:
    """The cgroup of the container itself, not of a child its init moved into.

    Node supervisors on cgroup v2 move their processes into a child (``/init``) so
    that controllers can be delegated; the container's figure is the parent named
    after its id (``docker/<id>`` or ``system.slice/docker-<id>.scope``).
    """
    found = memory_cgroup_of(pid, **where)
    path = found.path
    while container_id not in path.name and path.parent != path:
        path = path.parent
    if container_id not in path.name:
        raise MeasurementError(
            f"pid {pid} of container {container_id[:12]} is in {found.path}, which is not "
            "named after the container; is the engine on another machine?"
        )
    return Cgroup(path, found.version)


def outermost(cgroups: Iterable[Cgroup]) -> list[Cgroup]:
    """Drop cgroups nested in another of the set: their usage is counted by the parent."""
    unique = sorted({c.path: c for c in cgroups}.values(), key=lambda c: len(c.path.parts))
    kept: list[Cgroup] = []
    for cgroup in unique:
        if not any(cgroup.path.is_relative_to(parent.path) for parent in kept):
            kept.append(cgroup)
    return kept


class ContainerMemory:
    """A container node's working set, read from the host's cgroup files.

    On cgroup v1 a node shares the host's cgroup namespace, and a kubelet may create
    pods' cgroups outside the container's own (kind's ``--cgroup-root``): processes
    of the container found elsewhere are added, so pods are never left out.
    """

    method = METHOD_CGROUP

    def __init__(
        self,
        container: Any,
        *,
        root: Path = CGROUP_ROOT,
        proc: Path = PROC,
        follow_processes: bool = True,
    ) -> None:
        self.container = container
        self.root = root
        self.proc = proc
        self.follow_processes = follow_processes
        container.reload()
        pid = int(container.attrs["State"]["Pid"])
        if pid <= 0:
            raise MeasurementError(f"container {container.name} is not running")
        self.cgroup = container_cgroup(pid, container.id, root=root, proc=proc)
        self.outside: list[Cgroup] = []

    @property
    def source(self) -> str:
        extra = f" + {len(self.outside)} cgroup(s) outside it" if self.outside else ""
        return f"{self.cgroup.source}{extra}"

    def _outside(self) -> list[Cgroup]:
        found: list[Cgroup] = []
        for pid in _host_pids(self.container):
            try:
                cgroup = memory_cgroup_of(pid, root=self.root, proc=self.proc)
            except MeasurementError:
                continue  # the process ended meanwhile
            if not cgroup.path.is_relative_to(self.cgroup.path):
                found.append(cgroup)
        return outermost(found)

    def read(self) -> int:
        if self.follow_processes and self.cgroup.version == 1:
            self.outside = self._outside()
        return self.cgroup.read() + sum(c.read() for c in self.outside)


def _host_pids(container: Any) -> list[int]:
    top = container.top(ps_args="-e -o pid")
    titles = [t.upper() for t in top.get("Titles") or []]
    column = titles.index("PID") if "PID" in titles else 0
    return [int(row[column]) for row in top.get("Processes") or [] if row[column].isdigit()]


class EngineStatsMemory:
    """A container's working set from the engine's stats API.

    The same cgroup figures, read by the engine: for an engine on another machine
    (``DOCKER_HOST``) or a pytest that cannot see the host's ``/sys/fs/cgroup``.
    """

    method = METHOD_CGROUP

    def __init__(self, container: Any) -> None:
        self.container = container

    @property
    def source(self) -> str:
        return f"engine stats API of {self.container.name}"

    def read(self) -> int:
        stats = self.container.stats(stream=False, one_shot=True)
        memory = stats.get("memory_stats") or {}
        if "usage" not in memory:
            raise MeasurementError(f"the engine reports no memory usage for {self.container.name}")
        stat = {k: int(v) for k, v in (memory.get("stats") or {}).items()}
        version = 1 if "total_inactive_file" in stat else 2
        return working_set(int(memory["usage"]), stat, version)


class MeminfoMemory:
    """A VM or host node: MemTotal - MemAvailable of the machine's ``/proc/meminfo``,
    read inside it (the 2021 comparison's method)."""

    method = METHOD_MEMINFO

    def __init__(self, read_meminfo: Callable[[], str], where: str) -> None:
        self.read_meminfo = read_meminfo
        self.where = where

    @property
    def source(self) -> str:
        return f"MemTotal - MemAvailable of {self.where}"

    def read(self) -> int:
        return meminfo_used(self.read_meminfo())


def container_reader(container: Any, *, root: Path = CGROUP_ROOT) -> MemoryReader:
    """Host cgroup files when this machine runs the engine, else the engine's stats."""
    try:
        return ContainerMemory(container, root=root)
    except MeasurementError:
        return EngineStatsMemory(container)


class NodesMemory:
    """The sum over a cluster's nodes, each read its own way."""

    def __init__(self, readers: dict[str, MemoryReader]) -> None:
        if not readers:
            raise MeasurementError("no node to measure")
        self.readers = readers
        self.last: dict[str, int] = {}

    @property
    def source(self) -> str:
        return "; ".join(f"{name}: {reader.source}" for name, reader in self.readers.items())

    @property
    def method(self) -> str:
        """How the nodes' figures were measured (one method, or each of them with ' + ')."""
        return " + ".join(sorted({reader.method for reader in self.readers.values()}))

    def read(self) -> int:
        self.last = {name: reader.read() for name, reader in self.readers.items()}
        return sum(self.last.values())
