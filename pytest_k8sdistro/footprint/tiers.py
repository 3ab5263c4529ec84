"""Memory tiers: manifests deployed cumulatively, each measured once it has settled."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_k8sdistro.checks import Manifests, NotYet, apply, namespace_evidence, wait_for
from pytest_k8sdistro.client import Kube
from pytest_k8sdistro.footprint.options import Tier
from pytest_k8sdistro.footprint.sampler import Summary, sample


def manifests(tier: Tier, fixtures: Path, image: str) -> list[dict[str, Any]]:
    """The tier's documents; ``{{ image }}`` is the suites' busybox image."""
    path = tier.path or fixtures / f"{tier.name}.yaml"
    text = path.read_text()
    values = {"image": image} if "{{" in text else {}
    return Manifests(path.parent).load(path.name, **values)


def _not_settled(kube: Kube, namespace: str) -> str | None:
    """What in ``namespace`` is not up yet, or None when everything is."""
    apps: Any = kube.apps
    core: Any = kube.core
    waiting: list[str] = []
    for deployment in apps.list_namespaced_deployment(namespace).items:
        wanted = deployment.spec.replicas or 0
        ready = deployment.status.available_replicas or 0
        if ready < wanted:
            waiting.append(f"deployment/{deployment.metadata.name} {ready}/{wanted} available")
    for daemonset in apps.list_namespaced_daemon_set(namespace).items:
        wanted = daemonset.status.desired_number_scheduled or 0
        ready = daemonset.status.number_ready or 0
        if wanted == 0 or ready < wanted:
            waiting.append(f"daemonset/{daemonset.metadata.name} {ready}/{wanted} ready")
    for pod in core.list_namespaced_pod(namespace).items:
        if pod.status.phase == "Succeeded":
            continue
        ready = any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])
        if not ready:
            waiting.append(f"pod/{pod.metadata.name} {pod.status.phase}, not Ready")
    return "; ".join(waiting) or None


def wait_settled(kube: Kube, namespace: str, timeout: float) -> None:
    """Every Deployment available, every DaemonSet pod ready, every pod Ready."""
    __tracebackhide__ = True

    def probe() -> None:
        waiting = _not_settled(kube, namespace)
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

    def measure(self, tiers: tuple[Tier, ...], upto: str) -> Summary:
        """Deploy the tiers up to ``upto`` that are not deployed yet; measure ``upto``."""
        if upto in self.results:
            return self.results[upto]
        names = [tier.name for tier in tiers]
        for tier in tiers[: names.index(upto) + 1]:
            if tier.name in self.deployed:
                continue
            apply(self.kube, self.namespace, manifests(tier, self.fixtures, self.image))
            self.deployed.append(tier.name)
        wait_settled(self.kube, self.namespace, self.timeout)
        summary = sample(self.read, self.settle_s, source=self.source)
        self.results[upto] = summary
        return summary
