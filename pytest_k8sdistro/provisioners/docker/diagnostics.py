"""The diagnostics bundle of a node: what one needs to see why it did not work.

Per node container: its log, ``docker inspect``, its processes and the distribution's
own log files that are not in the container log; per cluster: events from every
namespace, and pods with their phase. Every item is best effort: a failure is written
to ``errors.txt`` and the rest is still collected.
"""

from __future__ import annotations

import functools
import io
import json
import tarfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

PS_COMMAND = [
    "/bin/sh",
    "-c",
    # ps may be missing (a minimal image has busybox's at most); /proc is always there.
    "ps -ef 2>/dev/null || ps 2>/dev/null || for p in /proc/[0-9]*; do "
    "printf '%s ' \"${p#/proc/}\"; tr '\\0' ' ' <\"$p/cmdline\" 2>/dev/null; echo; done",
]


def collect(
    containers: Sequence[Any],
    dest: Path,
    *,
    kubeconfig_path: str | None,
    log_paths: Iterable[str],
) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []

    def attempt(what: str, action: Callable[[], None]) -> None:
        try:
            action()
        except Exception as exc:
            errors.append(f"{what}: {type(exc).__name__}: {exc}")

    paths = tuple(log_paths)
    for container in containers:
        for what, action in _node_items(container, dest, paths):
            attempt(f"{container.name} {what}", action)
    if kubeconfig_path is not None:
        attempt("events", lambda: _events(kubeconfig_path, dest))
        attempt("pods", lambda: _pods(kubeconfig_path, dest))
    if errors:
        (dest / "errors.txt").write_text("\n".join(errors) + "\n")


def _node_items(
    container: Any, dest: Path, paths: tuple[str, ...]
) -> list[tuple[str, Callable[[], None]]]:
    name = container.name

    def log() -> None:
        _write(dest / f"{name}.log", container.logs())

    def inspect() -> None:
        text = json.dumps(container.attrs, indent=2, sort_keys=True)
        (dest / f"{name}.inspect.json").write_text(text)

    def processes() -> None:
        _processes(container, dest)

    items: list[tuple[str, Callable[[], None]]] = [
        ("log", log),
        ("inspect", inspect),
        ("processes", processes),
    ]
    items += [(path, functools.partial(_copy_file, container, path, dest)) for path in paths]
    return items


def _write(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def _processes(container: Any, dest: Path) -> None:
    if container.status != "running":
        container.reload()
    if container.status != "running":
        (dest / f"{container.name}.ps.txt").write_text(f"(container is {container.status})\n")
        return
    _, output = container.exec_run(PS_COMMAND)
    _write(dest / f"{container.name}.ps.txt", bytes(output))


def _copy_file(container: Any, path: str, dest: Path) -> None:
    import docker.errors

    try:
        stream, _ = container.get_archive(path)
    except docker.errors.NotFound:
        return  # not every release writes every file
    data = b"".join(stream)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = tar.next()
        handle = tar.extractfile(member) if member is not None else None
        if handle is not None:
            flat = path.strip("/").replace("/", "_")
            _write(dest / f"{container.name}.{flat}", handle.read())


def _events(kubeconfig_path: str, dest: Path) -> None:
    from kubernetes import client

    from pytest_k8sdistro.kube import api as kube

    api = kube.api_client(kubeconfig_path)
    try:
        events = client.CoreV1Api(api).list_event_for_all_namespaces(timeout_seconds=10)
    finally:
        api.close()  # type: ignore[no-untyped-call]
    lines = []
    for event in sorted(events.items, key=_event_time):
        involved = event.involved_object
        lines.append(
            f"{_event_time(event)} {event.metadata.namespace} {event.type} {event.reason} "
            f"{involved.kind}/{involved.name}: {event.message}"
        )
    (dest / "events.txt").write_text("\n".join(lines) + "\n")


def _event_time(event: Any) -> str:
    stamp = event.last_timestamp or event.event_time or event.metadata.creation_timestamp
    return stamp.isoformat() if stamp is not None else ""


def _pods(kubeconfig_path: str, dest: Path) -> None:
    from kubernetes import client

    from pytest_k8sdistro.kube import api as kube

    api = kube.api_client(kubeconfig_path)
    try:
        pods = client.CoreV1Api(api).list_pod_for_all_namespaces(timeout_seconds=10)
    finally:
        api.close()  # type: ignore[no-untyped-call]
    lines = []
    for pod in pods.items:
        meta, status, spec = pod.metadata, pod.status, pod.spec
        lines.append(
            f"{meta.namespace if meta else '?'}/{meta.name if meta else '?'} "
            f"{status.phase if status else '?'} node={spec.node_name if spec else '?'}"
        )
    (dest / "pods.txt").write_text("\n".join(lines) + "\n")
