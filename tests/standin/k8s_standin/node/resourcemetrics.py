"""The kubelet's resource metrics (``GET /metrics/resource``), read from this node's
cgroups and the processes of its containers.

The text is what kubelet's resource metrics endpoint serves and metrics-server scrapes
(kubernetes/kubernetes pkg/kubelet/metrics/collectors/resource_metrics.go):
cumulative CPU seconds and the memory working set of the node and of each container,
with each container's start time, every sample with its millisecond timestamp.

- Node memory: the working set of the node's cgroup as cAdvisor computes it: cgroup v1
  ``memory.usage_in_bytes`` minus ``total_inactive_file``, cgroup v2 ``memory.current``
  minus ``inactive_file`` (the node container's cgroup is the root of its cgroup
  mount); where the mount root has no usage file (the root cgroup of a cgroup v2
  host), MemTotal - MemAvailable.
- Node CPU: the cgroup's cumulative usage (v1 ``cpuacct.usage``, v2 ``cpu.stat``
  ``usage_usec``), else ``/proc/stat``.
- Containers: the stand-in runs each container as a process (runtime.py), so a
  container's figures are those of its process tree: RSS and user+system time of each
  process, plus the time of children already reaped.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import Client

CGROUP = Path("/sys/fs/cgroup")
_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def _stat_field(text: str | None, name: str) -> int | None:
    for line in (text or "").splitlines():
        key, _, value = line.partition(" ")
        if key == name:
            try:
                return int(value)
            except ValueError:
                return None
    return None


def node_working_set(root: Path = CGROUP) -> int:
    """Bytes of the node's memory working set."""
    v1 = root / "memory"
    usage = _read(v1 / "memory.usage_in_bytes")
    if usage is not None:
        inactive = _stat_field(_read(v1 / "memory.stat"), "total_inactive_file") or 0
        return max(0, int(usage) - inactive)
    current = _read(root / "memory.current")
    if current is not None:
        inactive = _stat_field(_read(root / "memory.stat"), "inactive_file") or 0
        return max(0, int(current) - inactive)
    info: dict[str, int] = {}
    for line in (_read(Path("/proc/meminfo")) or "").splitlines():
        key, _, rest = line.partition(":")
        info[key] = int(rest.split()[0]) * 1024 if rest.split() else 0
    return max(0, info.get("MemTotal", 0) - info.get("MemAvailable", 0))


def node_cpu_seconds(root: Path = CGROUP) -> float:
    """Cumulative CPU seconds the node has used."""
    for directory in ("cpuacct", "cpu,cpuacct", "cpu"):
        usage = _read(root / directory / "cpuacct.usage")
        if usage is not None:
            return int(usage) / 1e9
    usec = _stat_field(_read(root / "cpu.stat"), "usage_usec")
    if usec is not None:
        return usec / 1e6
    first = (_read(Path("/proc/stat")) or "cpu 0").splitlines()[0].split()[1:]
    # user nice system idle iowait irq softirq steal: all but idle and iowait.
    busy = [int(v) for i, v in enumerate(first[:8]) if i not in (3, 4)]
    return sum(busy) / _TICKS


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _proc_stat(int(entry))
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def _proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state is [0], ppid [1])."""
    text = _read(Path(f"/proc/{pid}/stat"))
    if text is None:
        return None
    return text.rsplit(")", 1)[1].split()


def process_tree(pid: int, children: dict[int, list[int]]) -> tuple[float, int]:
    """(CPU seconds, resident bytes) of ``pid`` and its descendants."""
    cpu, rss = 0.0, 0
    todo, seen = [pid], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        fields = _proc_stat(current)
        if fields is None or fields[0] in ("Z", "X"):
            continue
        # utime, stime, cutime, cstime are fields 14-17 of stat(5): [11:15] here.
        cpu += sum(int(v) for v in fields[11:15]) / _TICKS
        rss += int(fields[21]) * _PAGE
        todo += children.get(current, [])
    return cpu, rss


def _labels(**labels: str) -> str:
    quoted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return "{" + quoted + "}"


def render(
    pods: Iterable[tuple[str, str, Path]], root: Path = CGROUP, now: float | None = None
) -> str:
    """The /metrics/resource text for this node; ``pods`` are (namespace, name, pod dir)."""
    stamp = int((time.time() if now is None else now) * 1000)
    lines = [
        "# TYPE node_cpu_usage_seconds_total counter",
        f"node_cpu_usage_seconds_total {node_cpu_seconds(root):.9f} {stamp}",
        "# TYPE node_memory_working_set_bytes gauge",
        f"node_memory_working_set_bytes {node_working_set(root)} {stamp}",
    ]
    children = _children()
    cpu_lines, mem_lines, start_lines = [], [], []
    for namespace, name, pod_dir in pods:
        base = pod_dir / "containers"
        if not base.is_dir():
            continue
        for cdir in sorted(base.iterdir()):
            pid_text = _read(cdir / "pid")
            if pid_text is None or (cdir / "exit").exists():
                continue
            try:
                meta: dict[str, Any] = json.loads((cdir / "meta.json").read_text())
            except (OSError, ValueError):
                continue
            try:
                pid = int(pid_text.strip())
            except ValueError:
                continue
            if _proc_stat(pid) is None:
                continue
            cpu, rss = process_tree(pid, children)
            labels = _labels(container=cdir.name, namespace=namespace, pod=name)
            cpu_lines.append(f"container_cpu_usage_seconds_total{labels} {cpu:.9f} {stamp}")
            mem_lines.append(f"container_memory_working_set_bytes{labels} {rss} {stamp}")
            started = float(meta.get("startedEpoch", 0))
            start_lines.append(f"container_start_time_seconds{labels} {started:.3f}")
    lines += ["# TYPE container_cpu_usage_seconds_total counter", *cpu_lines]
    lines += ["# TYPE container_memory_working_set_bytes gauge", *mem_lines]
    lines += ["# TYPE container_start_time_seconds gauge", *start_lines]
    return "\n".join(lines) + "\n"


def source(client: Client, node_name: str, pods_dir: Path) -> Callable[[], str]:
    """The /metrics/resource text of the pods the API says run on ``node_name``."""

    def text() -> str:
        pods = client.list("pods", fieldSelector=f"spec.nodeName={node_name}")
        return render(
            (p["metadata"]["namespace"], p["metadata"]["name"], pods_dir / p["metadata"]["uid"])
            for p in pods
        )

    return text
