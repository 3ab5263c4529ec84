"""pods/log: container logs read from the kubelet's on-disk layout.

The node side writes `<pod_log_dir>/<ns>_<pod>_<uid>/<container>/<restart>.log`,
the path convention real kubelets use, so the same reader would work on a real
node. Lines may be plain text or CRI-formatted ("<time> stdout F <text>").
"""

from __future__ import annotations

import calendar
import datetime as _dt
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ApiError, Causes

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


@dataclass(frozen=True)
class LogOptions:
    """The PodLogOptions the kubelet applies when it reads a log (query parameters)."""

    tail: int | None = None
    timestamps: bool = False
    limit_bytes: int | None = None
    #: Only lines written at or after this time, in nanoseconds since the epoch.
    since_ns: int | None = None

    @classmethod
    def parse(
        cls, args: Mapping[str, str], name: str = "", now_ns: int | None = None
    ) -> LogOptions:
        """From a pods/log or containerLogs query, validated as ValidatePodLogOptions does."""
        causes = Causes()
        tail = _int(args, "tailLines")
        limit = _int(args, "limitBytes")
        since_seconds = _int(args, "sinceSeconds")
        since_time = args.get("sinceTime") or None
        if tail is not None and tail < 0:
            causes.invalid("tailLines", tail, "must be greater than or equal to 0")
        if limit is not None and limit < 1:
            causes.invalid("limitBytes", limit, "must be greater than 0")
        if since_seconds is not None and since_time is not None:
            causes.items.append(
                {
                    "reason": "FieldValueForbidden",
                    "message": "Forbidden: at most one of `sinceTime` or `sinceSeconds` "
                    "may be specified",
                    "field": "",
                }
            )
        elif since_seconds is not None and since_seconds < 1:
            causes.invalid("sinceSeconds", since_seconds, "must be greater than 0")
        causes.raise_if_any("PodLogOptions", "", name)
        since_ns = None
        if since_seconds is not None:
            since_ns = (time.time_ns() if now_ns is None else now_ns) - since_seconds * 10**9
        elif since_time is not None:
            parsed = rfc3339_ns(since_time)
            if parsed is None:
                raise ApiError("BadRequest", f'sinceTime: cannot parse "{since_time}"')
            # metav1.Time has seconds only: sinceTime is truncated to the second.
            since_ns = parsed // 10**9 * 10**9
        return cls(tail, args.get("timestamps") in ("true", "1"), limit, since_ns)


def _int(args: Mapping[str, str], key: str) -> int | None:
    value = args.get(key)
    if value in (None, ""):
        return None
    try:
        return int(str(value))
    except ValueError:
        raise ApiError("BadRequest", f'{key}: invalid value "{value}"') from None


_RFC3339 = re.compile(
    r"^(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d+))?([Zz]|[+-]\d\d:\d\d)$"
)


def rfc3339_ns(text: str) -> int | None:
    """Nanoseconds since the epoch of an RFC 3339 time (CRI logs carry nine digits)."""
    match = _RFC3339.match(text)
    if not match:
        return None
    *parts, fraction, zone = match.groups()
    year, month, day, hour, minute, second = (int(p) for p in parts)
    offset = 0
    if zone not in ("Z", "z"):
        sign = -1 if zone[0] == "-" else 1
        offset = sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    stamp = _dt.datetime(year, month, day, hour, minute, second, tzinfo=_dt.UTC)
    nanos = int(((fraction or "") + "000000000")[:9])
    return (calendar.timegm(stamp.timetuple()) - offset) * 10**9 + nanos


class _Renderer:
    """CRI log lines to log output, as the kubelet's ReadLogs writes them.

    A partial line (tag P) is written without its newline and the next piece continues
    it; with timestamps, only the first piece of a line gets the time prefix. Lines
    older than `since` are skipped.
    """

    def __init__(self, options: LogOptions) -> None:
        self.options = options
        self.at_line_start = True

    def line(self, raw: str) -> str:
        match = _CRI.match(raw)
        if not match:
            return raw if raw.endswith("\n") else raw + "\n"  # plain text file
        stamp, _, tag, text = match.groups()
        text = text.removesuffix("\n")
        since = self.options.since_ns
        if since is not None:
            when = rfc3339_ns(stamp)
            if when is not None and when < since:
                return ""
        out = ""
        if self.options.timestamps and self.at_line_start:
            out = stamp + " "
        out += text if tag == "P" else text + "\n"
        self.at_line_start = tag != "P"
        return out


def read(path: Path, options: LogOptions) -> bytes:
    renderer = _Renderer(options)
    lines = _tail_text(path.read_text(errors="replace"), options.tail)
    data = "".join(renderer.line(line) for line in lines).encode()
    if options.limit_bytes:
        data = data[: options.limit_bytes]
    return data


def follow(path: Path, options: LogOptions, alive: Callable[[], bool]) -> Iterator[bytes]:
    """Stream the file and its growth until `alive()` turns false (pod gone)."""
    yield b""  # headers now: a quiet log must not look like a hung server
    renderer = _Renderer(options)
    budget = options.limit_bytes
    with path.open("rb") as fh:
        first = fh.read()
        cut = first.rfind(b"\n") + 1
        pending = first[cut:]  # an unfinished record: the loop below reads the rest
        text = "".join(
            renderer.line(line)
            for line in _tail_text(first[:cut].decode(errors="replace"), options.tail)
        )
        idle = 0.0
        while True:
            if text:
                data = text.encode()
                if budget is not None:
                    data, budget = data[:budget], budget - len(data[:budget])
                yield data
                if budget is not None and budget <= 0:
                    return
                text = ""
            chunk = fh.read()
            if chunk:
                pending += chunk
                *complete, pending = pending.split(b"\n")
                text = "".join(renderer.line(c.decode(errors="replace") + "\n") for c in complete)
                idle = 0.0
                continue
            time.sleep(0.2)
            idle += 0.2
            if idle >= 1.0:
                idle = 0.0
                if not alive():
                    return


def _tail_text(text: str, tail: int | None) -> list[str]:
    # tail counts the file's lines before `since` filters them: upstream's ReadLogs finds
    # the tail's start (FindTailLineStartIndex) first.
    lines = text.splitlines(keepends=True)
    if tail is not None:
        lines = lines[-tail:] if tail > 0 else []
    return lines
