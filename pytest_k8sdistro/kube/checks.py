"""Checks and waits against a running cluster: a failure says expected, found and evidence.

A failed check raises :class:`~pytest_k8sdistro.errors.CheckFailed`, which the
plugin reports as a plain test failure with that message: a platform engineer sees
what to act on, never a bare ``assert`` or a timeout without context. Nothing here
needs pytest, so measurements use the same waits. Every helper hides its own frames
(``__tracebackhide__``) where pytest does show a traceback.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import yaml
from kubernetes import utils as kube_utils
from kubernetes.client.exceptions import ApiException

from pytest_k8sdistro.errors import CheckFailed, NotYet, PollTimeout
from pytest_k8sdistro.kube import polling
from pytest_k8sdistro.kube.client import Kube

T = TypeVar("T")
Evidence = Callable[[], str]


def _evidence_text(evidence: str | Evidence | None) -> str:
    if evidence is None:
        return ""
    if isinstance(evidence, str):
        return evidence
    try:
        return evidence()
    except Exception as exc:  # evidence must never hide the failure it explains
        return f"(could not collect evidence: {exc!r})"


def fail(
    what: str, *, expected: str, found: str, evidence: str | Evidence | None = None
) -> NoReturn:
    __tracebackhide__ = True
    raise CheckFailed(what, expected=expected, found=found, evidence=_evidence_text(evidence))


def expect(
    condition: bool,
    what: str,
    *,
    expected: str,
    found: str,
    evidence: str | Evidence | None = None,
) -> None:
    """Fail with ``what``/``expected``/``found``/``evidence`` unless ``condition`` holds."""
    __tracebackhide__ = True
    if not condition:
        fail(what, expected=expected, found=found, evidence=evidence)


def wait_for(
    what: str,
    probe: Callable[[], T],
    *,
    expected: str,
    timeout: float,
    evidence: str | Evidence | None = None,
    interval: float = 1.0,
) -> T:
    """Call ``probe`` until it returns; it raises :class:`NotYet` while waiting.

    Only transient API errors are retried; anything else fails at once with the
    evidence. On timeout the failure says how long it waited and what it last found.
    """
    __tracebackhide__ = True
    try:
        return polling.poll(probe, deadline=time.monotonic() + timeout, interval=interval)
    except PollTimeout as exc:
        fail(
            f"{what}: timed out after {timeout:g}s",
            expected=expected,
            found=exc.found,
            evidence=evidence,
        )
    except CheckFailed:
        raise
    except Exception as exc:
        fail(
            what, expected=expected, found=f"{type(exc).__name__}: {exc}".strip(), evidence=evidence
        )


def hold_for(
    what: str,
    probe: Callable[[], str | None],
    *,
    expected: str,
    duration: float,
    evidence: str | Evidence | None = None,
    interval: float = 1.0,
) -> None:
    """Check that a state lasts ``duration`` seconds: ``probe`` returns None while it
    holds, or a description of what broke it."""
    __tracebackhide__ = True
    deadline = time.monotonic() + duration
    while True:
        broken = probe()
        if broken is not None:
            fail(what, expected=expected, found=broken, evidence=evidence)
        if time.monotonic() >= deadline:
            return
        time.sleep(interval)


# -- manifests --------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")


class Manifests:
    """YAML manifests in a directory, with ``{{ name }}`` placeholders.

    A placeholder stands for a whole YAML value and is filled in quoted (JSON is
    valid YAML), so shell scripts and names never change the document's structure.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def load(self, manifest: str, /, **values: Any) -> list[dict[str, Any]]:
        path = self.directory / manifest
        text = path.read_text()
        missing = sorted({m.group(1) for m in _PLACEHOLDER.finditer(text)} - set(values))
        if missing:
            raise KeyError(f"{path}: no value for placeholder(s) {', '.join(missing)}")
        filled = _PLACEHOLDER.sub(lambda m: json.dumps(values[m.group(1)]), text)
        return [_without_nulls(doc) for doc in yaml.safe_load_all(filled) if doc]


def _without_nulls(value: Any) -> Any:
    """Drop keys whose value is null: an optional placeholder left unset means "omit"."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def apply(kube: Kube, namespace: str, documents: Iterable[dict[str, Any]]) -> None:
    """Create ``documents`` in ``namespace`` through the API (no kubectl needed)."""
    create: Any = kube_utils.create_from_dict  # untyped in the client library
    for document in documents:
        try:
            create(kube.api, document, namespace=namespace)
        except kube_utils.FailToCreateError as exc:
            # The helper wraps the API's answer; the answer is what callers act on.
            raise exc.api_exceptions[0] from None


# -- evidence -------------------------------------------------------------------


def _stamp(event: Any) -> str:
    for value in (event.last_timestamp, event.event_time, event.metadata.creation_timestamp):
        if value is not None:
            return str(value.isoformat() if hasattr(value, "isoformat") else value)
    return ""


def events(kube: Kube, namespace: str, limit: int = 25) -> str:
    items = kube.core.list_namespaced_event(namespace).items
    items.sort(key=_stamp)
    lines = [
        f"{_stamp(e)} {e.type} {e.involved_object.kind}/{e.involved_object.name} "
        f"{e.reason}: {e.message}"
        for e in items[-limit:]
    ]
    return "\n".join(lines) or "(no events)"


def _container_state(status: Any) -> str:
    state = status.state
    if state is None:
        return "unknown"
    if state.running is not None:
        return f"running since {state.running.started_at}"
    if state.waiting is not None:
        return f"waiting ({state.waiting.reason}: {state.waiting.message or ''})".rstrip(": )")
    if state.terminated is not None:
        t = state.terminated
        return f"terminated (exit {t.exit_code}, {t.reason})"
    return "unknown"


def pod_summary(pod: Any) -> str:
    status = pod.status
    false = [
        f"{c.type}={c.status}" + (f" ({c.reason})" if c.reason else "")
        for c in status.conditions or []
        if c.status != "True"
    ]
    ips = [p.ip for p in status.pod_ips or []] if status.pod_ips else [status.pod_ip]
    lines = [
        f"pod {pod.metadata.name}: phase={status.phase} node={pod.spec.node_name} ips={ips}"
        + (f" not: {', '.join(false)}" if false else "")
    ]
    for c in status.container_statuses or []:
        lines.append(f"  container {c.name}: {_container_state(c)}, restarts={c.restart_count}")
    return "\n".join(lines)


def pod_logs(kube: Kube, namespace: str, name: str, tail: int = 20) -> str:
    core: Any = kube.core
    try:
        pod = core.read_namespaced_pod(name, namespace)
    except ApiException as exc:
        return f"(pod {name}: {exc.status} {exc.reason})"
    out = []
    for container in pod.spec.containers:
        try:
            text = core.read_namespaced_pod_log(
                name, namespace, container=container.name, tail_lines=tail
            )
        except ApiException as exc:
            text = f"(no logs: {exc.status} {exc.reason})"
        body = "\n".join(f"    {line}" for line in (text or "(empty)").rstrip().splitlines())
        out.append(f"  logs of {name}/{container.name}:\n{body}")
    return "\n".join(out)


def namespace_evidence(kube: Kube, namespace: str, *, logs: bool = True) -> str:
    """Events, pods (with log tails), PVCs and Services of ``namespace``."""
    parts: list[str] = []
    core: Any = kube.core
    try:
        parts.append(f"events in {namespace}:\n" + events(kube, namespace))
        for pod in core.list_namespaced_pod(namespace).items:
            parts.append(pod_summary(pod))
            if logs:
                parts.append(pod_logs(kube, namespace, pod.metadata.name))
        for pvc in core.list_namespaced_persistent_volume_claim(namespace).items:
            parts.append(
                f"pvc {pvc.metadata.name}: phase={pvc.status.phase} "
                f"class={pvc.spec.storage_class_name} volume={pvc.spec.volume_name}"
            )
        for svc in core.list_namespaced_service(namespace).items:
            lb = (svc.status.load_balancer.ingress or []) if svc.status.load_balancer else []
            parts.append(
                f"service {svc.metadata.name}: type={svc.spec.type} "
                f"clusterIPs={svc.spec.cluster_ips} "
                f"loadBalancer={[i.ip or i.hostname for i in lb]}"
            )
    except Exception as exc:
        parts.append(f"(evidence incomplete: {exc!r})")
    return "\n".join(parts)


# -- pods -------------------------------------------------------------------------


def _read_pod(kube: Kube, namespace: str, name: str) -> Any:
    try:
        return kube.core.read_namespaced_pod(name, namespace)
    except ApiException as exc:
        if exc.status == 404:
            raise NotYet(f"pod {name} does not exist") from None
        raise


def wait_pod_ready(kube: Kube, namespace: str, name: str, timeout: float) -> Any:
    """The pod once Running and Ready; fails with the namespace's evidence."""
    __tracebackhide__ = True

    def probe() -> Any:
        pod = _read_pod(kube, namespace, name)
        ready = any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])
        if pod.status.phase in ("Succeeded", "Failed"):
            fail(
                f"pod {namespace}/{name} ended instead of serving",
                expected="phase Running and Ready",
                found=f"phase {pod.status.phase}",
                evidence=lambda: namespace_evidence(kube, namespace),
            )
        if pod.status.phase != "Running" or not ready:
            raise NotYet(pod_summary(pod).splitlines()[0])
        return pod

    return wait_for(
        f"pod {namespace}/{name} to become Ready",
        probe,
        expected="phase Running and condition Ready=True",
        timeout=timeout,
        evidence=lambda: namespace_evidence(kube, namespace),
    )


def wait_pod_done(kube: Kube, namespace: str, name: str, timeout: float) -> tuple[str, str]:
    """Wait until the pod has ended; returns its phase and its logs."""
    __tracebackhide__ = True

    def probe() -> str:
        pod = _read_pod(kube, namespace, name)
        if pod.status.phase not in ("Succeeded", "Failed"):
            raise NotYet(pod_summary(pod).splitlines()[0])
        return str(pod.status.phase)

    phase = wait_for(
        f"pod {namespace}/{name} to finish",
        probe,
        expected="phase Succeeded or Failed",
        timeout=timeout,
        evidence=lambda: namespace_evidence(kube, namespace),
    )
    try:
        log = kube.core.read_namespaced_pod_log(name, namespace) or ""
    except ApiException as exc:
        # A pod that failed before its container started has no log; say why instead.
        log = f"(no log: {exc.status} {exc.reason})\n{namespace_evidence(kube, namespace)}"
    return phase, log
