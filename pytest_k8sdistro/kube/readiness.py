"""Composable, bounded readiness waits.

A cluster is ready after passing stages in order: a log line, the API's
``/readyz``, every node Ready, system Deployments available, and the default
ServiceAccount present. Each stage is a :class:`Wait`; a stage that is not met
yet says what it is still missing, and a timeout reports exactly that, with the
last lines the node logged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from pytest_k8sdistro import interrupt
from pytest_k8sdistro.errors import NotYet, PollTimeout, ReadinessTimeout
from pytest_k8sdistro.kube import api as kube
from pytest_k8sdistro.kube import polling
from pytest_k8sdistro.progress import Progress


@dataclass
class Probe:
    """What waits look at: the node's log and the cluster's API."""

    kubeconfig: str
    #: The last N lines the node logged.
    read_logs: Callable[[int], str]
    _api: client.ApiClient | None = field(default=None, repr=False)

    @cached_property
    def api(self) -> client.ApiClient:
        return kube.api_client(self.kubeconfig)


class Wait(Protocol):
    @property
    def name(self) -> str: ...

    def missing(self, probe: Probe) -> str | None:
        """``None`` when the stage is met, else what it still waits for."""


@dataclass
class LogLine:
    text: str
    name: str = "log line"

    #: How far back to look: a booting node may log much after the line.
    scan_lines: int = 20_000

    def missing(self, probe: Probe) -> str | None:
        found = self.text in probe.read_logs(self.scan_lines)
        return None if found else f"the line {self.text!r} in the log"


@dataclass
class ApiReady:
    name: str = "API /readyz"

    def missing(self, probe: Probe) -> str | None:
        status, body = kube.raw_get(probe.api, "/readyz")
        return None if status == 200 else f"/readyz to answer 200 (got {status}: {body[:200]})"


@dataclass
class NodesReady:
    count: int = 1
    name: str = "nodes Ready"

    def missing(self, probe: Probe) -> str | None:
        nodes = client.CoreV1Api(probe.api).list_node().items
        ready: list[str] = []
        not_ready: list[str] = []
        for node in nodes:
            name = str(node.metadata.name if node.metadata else "?")
            conditions = node.status.conditions if node.status else None
            (ready if _condition(conditions, "Ready") else not_ready).append(name)
        if len(ready) >= self.count:
            return None
        return (
            f"{self.count} Ready node(s) "
            f"(Ready: {ready or 'none'}; not Ready: {not_ready or 'none'})"
        )


@dataclass
class DeploymentAvailable:
    namespace: str
    deployment: str

    @property
    def name(self) -> str:
        return f"{self.namespace}/{self.deployment} available"

    def missing(self, probe: Probe) -> str | None:
        apps = client.AppsV1Api(probe.api)
        try:
            found = apps.read_namespaced_deployment(self.deployment, self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                return f"Deployment {self.namespace}/{self.deployment} to exist"
            raise
        status = found.status
        if status is not None and _condition(status.conditions, "Available"):
            return None
        available = (status.available_replicas if status else None) or 0
        wanted = found.spec.replicas if found.spec else "?"
        return (
            f"Deployment {self.namespace}/{self.deployment} to be Available "
            f"({available}/{wanted} replicas available)"
        )


@dataclass
class DefaultServiceAccount:
    namespace: str = "default"
    name: str = "default ServiceAccount"

    def missing(self, probe: Probe) -> str | None:
        try:
            client.CoreV1Api(probe.api).read_namespaced_service_account("default", self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                return f"ServiceAccount {self.namespace}/default to exist"
            raise
        return None


def _condition(conditions: Sequence[object] | None, kind: str) -> bool:
    return any(
        getattr(c, "type", None) == kind and getattr(c, "status", None) == "True"
        for c in conditions or ()
    )


#: Between two looks at a stage: a booting cluster passes each one unannounced, and
#: a look is one cheap API read.
POLL_S = 0.25


def wait_until_ready(
    waits: Sequence[Wait],
    probe: Probe,
    *,
    timeout: float,
    poll: float = POLL_S,
    progress: Progress | None = None,
    hint: str = "",
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = interrupt.pause,
) -> dict[str, float]:
    """Pass every stage in order within ``timeout`` seconds; return when each passed.

    API errors that a booting cluster gives (refused connections, 5xx, 401/403
    before its authorizer is up) count as "not yet" (:func:`polling.transient`); the
    last one is reported.
    """
    start = clock()
    deadline = start + timeout
    passed: list[str] = []
    timings: dict[str, float] = {}
    for wait in waits:

        def stage(wait: Wait = wait) -> None:
            missing = wait.missing(probe)
            if missing is not None:
                raise NotYet(missing)

        def say(found: str, left: float, wait: Wait = wait) -> None:
            if progress:
                elapsed = clock() - start
                progress.every("wait", 10.0, f"waiting {elapsed:.0f}s for {wait.name}: {found}")

        try:
            polling.poll(
                stage,
                deadline=deadline,
                interval=poll,
                booting=True,
                on_wait=say,
                clock=clock,
                sleep=sleep,
            )
        except PollTimeout as exc:
            raise ReadinessTimeout(
                wait.name, exc.found, passed, probe.read_logs(40), hint
            ) from None
        now = clock()
        timings[wait.name] = round(now - start, 3)
        passed.append(wait.name)
        if progress:
            progress.say(f"ready: {wait.name} after {now - start:.1f}s")
    return timings
