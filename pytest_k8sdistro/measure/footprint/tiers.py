"""Memory tiers: manifests deployed cumulatively, each measured once it has settled."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubernetes.client.exceptions import ApiException

from pytest_k8sdistro.errors import NotYet, TierFailed
from pytest_k8sdistro.kube import checks
from pytest_k8sdistro.kube.api import raw_get
from pytest_k8sdistro.kube.checks import Manifests, namespace_evidence, wait_for
from pytest_k8sdistro.kube.client import Kube
from pytest_k8sdistro.measure.footprint.sampler import Summary, sample
from pytest_k8sdistro.measure.footprint.tier import Tier


def manifests(tier: Tier, fixtures: Path, image: str) -> list[dict[str, Any]]:
    """The tier's documents; ``{{ image }}`` is the suites' busybox image."""
    path = tier.path or fixtures / f"{tier.name}.yaml"
    text = path.read_text()
    values = {"image": image} if "{{" in text else {}
    return Manifests(path.parent).load(path.name, **values)


def _items(kube: Kube, path: str) -> list[dict[str, Any]]:
    """Objects of a list call, as JSON: the client's models reject a fresh DaemonSet's
    status before the controller filled it in, and only a few fields are read."""
    status, body = raw_get(kube.api, path, timeout=30.0)
    if status != 200:
        raise NotYet(f"GET {path} answered {status}: {body[:200]}")
    items: list[dict[str, Any]] = json.loads(body).get("items") or []
    return items


def not_settled(kube: Kube, namespace: str) -> str | None:
    """What in ``namespace`` is not up yet, or None when everything is."""
    waiting: list[str] = []
    base = f"/apis/apps/v1/namespaces/{namespace}"
    for deployment in _items(kube, f"{base}/deployments"):
        wanted = (deployment.get("spec") or {}).get("replicas", 1)
        ready = (deployment.get("status") or {}).get("availableReplicas") or 0
        if ready < wanted:
            name = deployment["metadata"]["name"]
            waiting.append(f"deployment/{name} {ready}/{wanted} available")
    for daemonset in _items(kube, f"{base}/daemonsets"):
        status = daemonset.get("status") or {}
        wanted = status.get("desiredNumberScheduled") or 0
        ready = status.get("numberReady") or 0
        if wanted == 0 or ready < wanted:
            name = daemonset["metadata"]["name"]
            waiting.append(f"daemonset/{name} {ready}/{wanted} ready")
    for pod in _items(kube, f"/api/v1/namespaces/{namespace}/pods"):
        status = pod.get("status") or {}
        if status.get("phase") == "Succeeded":
            continue
        conditions = status.get("conditions") or []
        if not any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
            waiting.append(f"pod/{pod['metadata']['name']} {status.get('phase')}, not Ready")
    return "; ".join(waiting) or None


def apply(kube: Kube, namespace: str, documents: list[dict[str, Any]]) -> None:
    """Create ``documents``; those that exist already (an earlier try) are kept."""
    for document in documents:
        try:
            checks.apply(kube, namespace, [document])
        except ApiException as exc:
            if exc.status != 409:
                raise
        except ValueError:
            # The object was created; the client's model refused the answer (a
            # DaemonSet whose status has no counts yet). Settling is checked as JSON.
            continue


def wait_settled(kube: Kube, namespace: str, timeout: float) -> None:
    """Every Deployment available, every DaemonSet pod ready, every pod Ready."""
    __tracebackhide__ = True

    def probe() -> None:
        waiting = not_settled(kube, namespace)
        if waiting:
            raise NotYet(waiting)

    wait_for(
        f"the workloads of namespace {namespace} did not come up",
        probe,
        expected="every Deployment available, every DaemonSet pod and every pod Ready",
        timeout=timeout,
        evidence=lambda: namespace_evidence(kube, namespace),
    )


class TierRun:
    """Deploys tiers in order into one namespace and measures after each."""

    def __init__(
        self,
        kube: Kube,
        namespace: str,
        read: Callable[[], int],
        *,
        fixtures: Path,
        image: str,
        settle_s: float,
        timeout: float,
        source: str = "",
    ) -> None:
        self.kube = kube
        self.namespace = namespace
        self.read = read
        self.fixtures = fixtures
        self.image = image
        self.settle_s = settle_s
        self.timeout = timeout
        self.source = source
        self.deployed: list[str] = []
        self.results: dict[str, Summary] = {}
        #: Tier -> why it did not settle: later tests fail at once instead of waiting again.
        self.failed: dict[str, str] = {}

    def measure(self, tiers: tuple[Tier, ...], upto: str) -> Summary:
        """Deploy and measure, in order, every tier up to ``upto`` not measured yet.

        Tiers are cumulative, so each is measured once, right after it settled;
        asking for an earlier tier later returns what was measured then.
        """
        names = [tier.name for tier in tiers]
        for tier in tiers[: names.index(upto) + 1]:
            if tier.name in self.results:
                continue
            if tier.name in self.failed:
                raise TierFailed(
                    f"tier {tier.name!r} did not come up earlier in this run:\n"
                    + self.failed[tier.name]
                )
            apply(self.kube, self.namespace, manifests(tier, self.fixtures, self.image))
            self.deployed.append(tier.name)
            try:
                wait_settled(self.kube, self.namespace, self.timeout)
            except BaseException as exc:
                self.failed[tier.name] = str(exc)
                raise
            self.results[tier.name] = sample(self.read, self.settle_s, source=self.source)
        return self.results[upto]
