"""Workloads a suite deploys from manifests, and the host-side HTTP helpers.

Everything is created in the test's own namespace through the API; probes are
one-shot pods whose phase and logs are the result, so no exec, kubectl or
port-forward is needed and every wait has the namespace's evidence at hand.

The manifests are the suites' (``fixtures/`` beside ``suites/`` in a checkout,
``pytest_k8sdistro/fixtures`` once installed); a suite of one's own passes its own
directory to :class:`Workloads` for others.
"""

from __future__ import annotations

import functools
import importlib.util
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from pytest_k8sdistro.errors import NotYet
from pytest_k8sdistro.kube.checks import (
    Manifests,
    apply,
    fail,
    namespace_evidence,
    wait_for,
    wait_pod_done,
    wait_pod_ready,
)
from pytest_k8sdistro.kube.client import Kube
from pytest_k8sdistro.model.cluster import Cluster
from pytest_k8sdistro.model.timeouts import Timeouts
from pytest_k8sdistro.provisioners.base import Provisioner


@functools.cache
def suite_manifests() -> Path:
    """The directory of the shipped suites' manifests.

    Found from where ``pytest_k8sdistro.suites`` is, without importing it: the
    manifests sit beside the suites both in a checkout (``suites/``, ``fixtures/``)
    and in an installed wheel (``pytest_k8sdistro/suites``, ``pytest_k8sdistro/fixtures``).
    """
    spec = importlib.util.find_spec("pytest_k8sdistro.suites")
    locations = list(spec.submodule_search_locations or ()) if spec else []
    if not locations:
        raise FileNotFoundError(
            "the suites' manifests are not installed (no pytest_k8sdistro.suites package): "
            "reinstall pytest-k8sdistro"
        )
    return Path(locations[0]).parent / "fixtures"


CLUSTER_DOMAIN = "cluster.local"
#: An HTTP GET bounded by ``timeout`` (an applet of busybox too) rather than wget's
#: own ``-T``, which some busybox builds (Debian's 1.35) crash on.
WGET = "timeout 3 busybox wget -qO-"


def answers_address(ip: str) -> str:
    """A shell filter that exits 0 when busybox nslookup's output (on stdin) answers with
    exactly ``ip``.

    Only an answer's ``Address:`` line counts (``Address 1:`` in older busybox), with the
    whole address: the resolver's own lines name the DNS Service (``Address: 10.43.0.10:53``),
    whose address often begins with the one looked for (10.43.0.1), so a plain grep
    passes whenever the resolver answers at all, even "can't find".
    """
    exact = ip.replace(".", "\\.")
    return f"grep -Eq '^Address( [0-9]+)?:[[:space:]]*{exact}([[:space:]]|$)'"


def retry_script(command: str, attempts: int) -> str:
    """Shell that runs ``command`` until it succeeds, at most ``attempts`` times."""
    return (
        f"i=0; while [ $i -lt {attempts} ]; do "
        f"if {command}; then exit 0; fi; i=$((i+1)); sleep 1; done; "
        f'echo "gave up after {attempts} attempts: {command}"; exit 1'
    )


class Workloads:
    """Deploys manifests into one namespace and reports with its evidence.

    ``manifests``: the directory the templates are read from; the suites' own
    (``web.yaml``, ``service.yaml``, ``probe.yaml`` ...) unless given.
    """

    def __init__(
        self,
        kube: Kube,
        namespace: str,
        image: str,
        timeouts: Timeouts,
        *,
        manifests: Path | None = None,
    ) -> None:
        self.kube = kube
        self.namespace = namespace
        self.image = image
        self.timeouts = timeouts
        self.manifests = Manifests(manifests or suite_manifests())

    # The number of tries a probe pod makes: each takes up to ~4 s (3 s client
    # timeout, 1 s pause), and the pod must end before the wait on it does.
    @property
    def attempts(self) -> int:
        return max(2, int(self.timeouts.wait / 5))

    def evidence(self) -> str:
        return namespace_evidence(self.kube, self.namespace)

    def apply(self, manifest: str, *, on_node: str | None = None, **values: Any) -> None:
        """Create ``manifest``'s objects; ``on_node``: its pod only on that node."""
        objects = self.manifests.load(manifest, **values)
        if on_node is not None:
            for pod in (o for o in objects if o.get("kind") == "Pod"):
                # The node's well-known label, as a nodeSelector pins a pod to it.
                selector = pod.setdefault("spec", {}).setdefault("nodeSelector", {})
                selector["kubernetes.io/hostname"] = on_node
        apply(self.kube, self.namespace, objects)

    def web(
        self, name: str, *, labels: dict[str, str] | None = None, on_node: str | None = None
    ) -> Any:
        """A Ready web pod serving the text ``web:<name>``; returns the pod."""
        self.apply(
            "web.yaml",
            on_node=on_node,
            name=name,
            labels={"app": name, **(labels or {})},
            image=self.image,
            marker=f"web:{name}",
        )
        return wait_pod_ready(self.kube, self.namespace, name, self.timeouts.wait)

    def service(
        self,
        name: str,
        *,
        selector: str | None = None,
        port: int = 80,
        type: str = "ClusterIP",
        ip_family_policy: str | None = None,
    ) -> Any:
        self.apply(
            "service.yaml",
            name=name,
            selector=selector or name,
            port=port,
            type=type,
            ip_family_policy=ip_family_policy,
        )
        return self.kube.core.read_namespaced_service(name, self.namespace)

    def probe(
        self,
        name: str,
        script: str,
        *,
        labels: dict[str, str] | None = None,
        on_node: str | None = None,
    ) -> tuple[str, str]:
        """Run ``script`` in a one-shot pod; returns its final phase and its logs."""
        self.apply(
            "probe.yaml",
            on_node=on_node,
            name=name,
            labels={"role": "probe", **(labels or {})},
            image=self.image,
            script=script,
        )
        return self.wait_done(name)

    def wait_done(self, name: str) -> tuple[str, str]:
        """Phase and logs of a one-shot pod once it ended."""
        # A probe's own retries end within ``wait``; scheduling and start get as much.
        return wait_pod_done(self.kube, self.namespace, name, 2 * self.timeouts.wait)

    def fetch(
        self,
        name: str,
        url: str,
        *,
        expected: str,
        what: str,
        labels: dict[str, str] | None = None,
        on_node: str | None = None,
    ) -> str:
        """From a probe pod, GET ``url`` until the body holds ``expected``."""
        __tracebackhide__ = True
        command = f"{WGET} {url} | tee /dev/stderr | grep -q '{expected}'"
        phase, logs = self.probe(
            name, retry_script(command, self.attempts), labels=labels, on_node=on_node
        )
        if phase != "Succeeded" or expected not in logs:
            fail(
                what,
                expected=f"GET {url} from pod {name} answers with {expected!r}",
                found=f"probe pod {phase}; its output: {logs.strip()[-400:] or '(none)'}",
                evidence=self.evidence,
            )
        return logs


def host_port(cluster: Cluster, node_port: int, why: str, evidence: Any) -> int:
    """The host port reaching ``node_port`` of the first node; the test is skipped, saying
    why, when the provisioner publishes none (the run cannot try it, which says nothing
    about the distribution)."""
    __tracebackhide__ = True
    try:
        return cluster.host_port(node_port)
    except LookupError as exc:
        pytest.skip(f"{why}: node port {node_port} cannot be reached from this host ({exc})")


def service_endpoint(
    provisioner: Provisioner,
    cluster: Cluster,
    addresses: list[str],
    port: int,
    why: str,
    evidence: Any,
) -> tuple[str, int]:
    """Where this host reaches a load-balanced Service: at one of its ``addresses``, as
    clients of a load balancer do, where the provisioner routes there (the node itself,
    a forward over SSH); else at the node port the provisioner publishes, where a
    node-level balancer listens too (one that binds hostPorts on every node)."""
    __tracebackhide__ = True
    for address in addresses:
        try:
            return provisioner.reach(cluster, address, port)
        except LookupError:
            continue
    return "127.0.0.1", host_port(cluster, port, why, evidence)


def url(host: str, port: int, path: str = "/") -> str:
    return f"http://{f'[{host}]' if ':' in host else host}:{port}{path}"


def http_get(url: str, host: str | None = None, timeout: float = 3.0) -> tuple[int, str]:
    """GET from the pytest host: (status, body); raises OSError when nothing answers."""
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status), response.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode(errors="replace")


def host_get_until(
    what: str,
    url: str,
    *,
    expected: str,
    timeout: float,
    evidence: Any,
    host: str | None = None,
) -> str:
    """GET ``url`` from the pytest host until the body holds ``expected``."""
    __tracebackhide__ = True

    def probe() -> str:
        try:
            status, body = http_get(url, host)
        except OSError as exc:
            raise NotYet(f"no answer: {exc}") from None
        if expected not in body:
            raise NotYet(f"HTTP {status}: {body.strip()[:200]!r}")
        return body

    return wait_for(
        what,
        probe,
        expected=f"GET {url}" + (f" (Host: {host})" if host else "") + f" answers {expected!r}",
        timeout=timeout,
        evidence=evidence,
    )


def delete(delete_call: Any, *args: Any) -> None:
    """Delete through the client without decoding the answer: the API answers with the
    object or with a Status, and the client can only decode the former."""
    try:
        delete_call(*args, _preload_content=False)
    except ApiException as exc:
        if exc.status != 404:
            raise


def read_or_none(read: Any, *args: Any) -> Any:
    """``read(*args)``, or None when the object does not exist."""
    try:
        return read(*args)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
