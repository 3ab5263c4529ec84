"""pods/log: container logs read from the kubelet's on-disk layout.

The node side writes `<pod_log_dir>/<ns>_<pod>_<uid>/<container>/<restart>.log`,
the path convention real kubelets use, so the same reader would work on a real
node. Lines may be plain text or CRI-formatted ("<time> stdout F <text>").
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .errors import ApiError

Obj = dict[str, Any]
_CRI = re.compile(r"^(\S+) (stdout|stderr) ([FP]) (.*)$", re.S)


def _container(pod: Obj, requested: str | None) -> str:
    spec = pod.get("spec", {})
    names = [c["name"] for c in spec.get("containers") or []]
    init = [c["name"] for c in spec.get("initContainers") or []]
    name = pod["metadata"]["name"]
    if requested:
        if requested not in names + init:
            raise ApiError(
                "BadRequest",
                f"container {requested} is not valid for pod {name}",
            )
        return requested
    if len(names) == 1:
        return str(names[0])
    raise ApiError(
        "BadRequest",
        f"a container name must be specified for pod {name}, choose one of: "
        f"[{' '.join(names)}]"
        + (f" or one of the init containers: [{' '.join(init)}]" if init else ""),
    )


def container_name(pod: Obj, requested: str | None) -> str:
    """The container a pods/log request means: the one named, or the pod's only one."""
    return _container(pod, requested)


def _restart_count(pod: Obj, container: str) -> int | None:
    status = pod.get("status", {})
    for s in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []):
        if s.get("name") == container:
            return int(s.get("restartCount", 0))
    return None


def log_file(pod_log_dir: Path, pod: Obj, container: str | None, previous: bool) -> Path:
    meta = pod["metadata"]
    name = _container(pod, container)
    base = pod_log_dir / f"{meta['namespace']}_{meta['name']}_{meta['uid']}" / name
    restarts = _restart_count(pod, name)
    if previous:
        if not restarts:
            raise ApiError(
                "BadRequest",
                f'previous terminated container "{name}" in pod "{meta["name"]}" not found',
            )
        path = base / f"{restarts - 1}.log"
    else:
        path = base / f"{restarts or 0}.log"
        if restarts is None and not path.exists():
            path = _newest(base) or path
    if not path.exists():
        raise ApiError(
            "BadRequest",
            f'container "{name}" in pod "{meta["name"]}" is waiting to start: ContainerCreating',
        )
    return path


def _newest(base: Path) -> Path | None:
    try:
        logs = sorted(base.glob("*.log"), key=lambda p: int(p.stem) if p.stem.isdigit() else -1)
    except OSError:
        return None
    return logs[-1] if logs else None


def _render(line: str, timestamps: bool) -> str:
    match = _CRI.match(line)
    if match:
        ts, _, _, text = match.groups()
        return f"{ts} {text}" if timestamps else text
    return line


def read(path: Path, tail: int | None, timestamps: bool, limit_bytes: int | None) -> bytes:
    lines = path.read_text(errors="replace").splitlines(keepends=True)
    if tail is not None:
        lines = lines[-tail:] if tail > 0 else []
    data = "".join(_render(line, timestamps) for line in lines).encode()
    if limit_bytes:
        data = data[:limit_bytes]
    return data


def follow(
    path: Path, tail: int | None, timestamps: bool, alive: Callable[[], bool]
) -> Iterator[bytes]:
    """Stream the file and its growth until `alive()` turns false (pod gone)."""
    yield b""  # headers now: a quiet log must not look like a hung server
    first = read(path, tail, timestamps, None)
    if first:
        yield first
    with path.open("rb") as fh:
        fh.seek(0, 2)
        pending = b""
        idle = 0.0
        while True:
            chunk = fh.read()
            if chunk:
                pending += chunk
                *complete, pending = pending.split(b"\n")
                if complete:
                    text = "".join(
                        _render(c.decode(errors="replace") + "\n", timestamps) for c in complete
                    )
                    yield text.encode()
                idle = 0.0
                continue
            time.sleep(0.2)
            idle += 0.2
            if idle >= 1.0:
                idle = 0.0
                if not alive():
                    return
