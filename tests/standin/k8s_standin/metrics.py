"""metrics.k8s.io/v1beta1 behind the APIService ``v1beta1.metrics.k8s.io``, as a cluster
with metrics-server serves it.

Three upstream parts in one place, since the stand-in has no aggregator proxy:

- kube-aggregator's availability controller (kubernetes/kubernetes
  staging/src/k8s.io/kube-aggregator/pkg/controllers/status): the APIService's
  ``Available`` condition is True (``Passed``) once its Service exists and has a ready
  address, False with ``ServiceNotFound`` / ``MissingEndpoints`` otherwise. While it is
  not Available, requests for its group are answered 503, as the aggregator's proxy
  does; without the APIService the group is not served at all (404) and discovery does
  not list it.
- metrics-server (kubernetes-sigs/metrics-server): every ``RESOLUTION`` seconds
  (``--metric-resolution=15s`` in the manifests k3s, k0s and microk8s deploy) it scrapes
  each node's kubelet ``/metrics/resource`` and keeps the last two points of every
  series; usage is the CPU rate between them and the last memory working set, so a node
  or container shows up only after its second scrape (pkg/storage). ``window`` is the
  time between the two points, ``timestamp`` the later one.
- The k8s.io/metrics types: NodeMetrics and PodMetrics, CPU in nanocores as a ``n``
  quantity and memory as a binary-SI quantity (``Ki``).

The server's own node is read in-process (``LOCAL``, set by the node side); other
nodes' kubelets are asked over HTTPS, as metrics-server asks them.
"""

from __future__ import annotations

import datetime as _dt
import http.client
import logging
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import resources
from .errors import ApiError
from .registry import Registry

log = logging.getLogger("k8s_standin.metrics")
Obj = dict[str, Any]

GROUP = "metrics.k8s.io"
VERSION = "v1beta1"
APISERVICE = f"{VERSION}.{GROUP}"
RESOLUTION = 15.0
#: The server's own node's /metrics/resource text, set by the node side when it runs here.
LOCAL: Callable[[], str] | None = None

APISERVICES = resources.get("apiregistration.k8s.io", "v1", "apiservices")
_NODES = resources.get("", "v1", "nodes")
_PODS = resources.get("", "v1", "pods")
_SERVICES = resources.get("", "v1", "services")
_ENDPOINTS = resources.get("", "v1", "endpoints")


def nanocores(value: int) -> str:
    """A CPU quantity of ``value`` nanocores in canonical form ("12345n", "15m", "2")."""
    if value <= 0:
        return "0"
    for suffix in ("n", "u", "m"):
        if value % 1000:
            return f"{value}{suffix}"
        value //= 1000
    return str(value)


def binary_si(value: int) -> str:
    """A memory quantity of ``value`` bytes in canonical binary-SI form ("1234Ki")."""
    if value <= 0:
        return "0"
    suffix = ""
    for unit in ("Ki", "Mi", "Gi", "Ti"):
        if value % 1024:
            break
        value //= 1024
        suffix = unit
    return f"{value}{suffix}"


def go_duration(seconds: float) -> str:
    """``time.Duration.String()`` of ``seconds`` (as metav1.Duration marshals it)."""
    micro = round(seconds * 1e6)
    minutes, micro = divmod(micro, 60_000_000)
    text = f"{micro / 1e6:.6f}".rstrip("0").rstrip(".") + "s"
    if minutes:
        hours, minutes = divmod(minutes, 60)
        text = (f"{hours}h" if hours else "") + f"{minutes}m" + text
    return text


def _rfc3339(epoch: float) -> str:
    return _dt.datetime.fromtimestamp(int(epoch), _dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Point:
    at: float  # seconds since the epoch
    cpu: float  # cumulative CPU seconds
    memory: int  # working set bytes
    started: float = 0.0  # a container's start time: a new instance resets its series


def parse(text: str) -> tuple[Point | None, dict[tuple[str, str, str], Point]]:
    """The node's point and {(namespace, pod, container): point} of /metrics/resource."""
    values: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[float, float]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        labels: tuple[tuple[str, str], ...] = ()
        if "{" in line:
            name, _, rest = line.partition("{")
            inside, _, tail = rest.partition("}")
            pairs = [p.split("=", 1) for p in inside.split(",") if "=" in p]
            labels = tuple(sorted((k.strip(), v.strip('"')) for k, v in pairs))
            fields = tail.split()
        else:
            name, *fields = line.split()
        if not fields:
            continue
        stamp = float(fields[1]) / 1000 if len(fields) > 1 else time.time()
        values[(name, labels)] = (float(fields[0]), stamp)
    node: Point | None = None
    cpu = values.get(("node_cpu_usage_seconds_total", ()))
    memory = values.get(("node_memory_working_set_bytes", ()))
    if cpu and memory:
        node = Point(cpu[1], cpu[0], int(memory[0]))
    containers: dict[tuple[str, str, str], Point] = {}
    for (name, labels), (value, stamp) in values.items():
        if name != "container_cpu_usage_seconds_total":
            continue
        key_labels = dict(labels)
        key = (key_labels["namespace"], key_labels["pod"], key_labels["container"])
        mem = values.get(("container_memory_working_set_bytes", labels))
        start = values.get(("container_start_time_seconds", labels))
        if mem is not None:
            containers[key] = Point(stamp, value, int(mem[0]), start[0] if start else 0.0)
    return node, containers


def _usage(old: Point, new: Point) -> Obj:
    elapsed = new.at - old.at
    rate = max(0.0, new.cpu - old.cpu) / elapsed if elapsed > 0 else 0.0
    return {"cpu": nanocores(int(rate * 1e9)), "memory": binary_si(new.memory)}


class MetricsServer:
    """The availability controller, the scraper and the metrics.k8s.io handler."""

    def __init__(self, registry: Registry, *, stale: bool = False) -> None:
        self.registry = registry
        #: STANDIN_METRICS_STALE: the discovery check fails, so the APIService is never
        #: Available and nothing is scraped.
        self.stale = stale
        self.available = False
        self._lock = threading.Lock()
        self._nodes: dict[str, list[Point]] = {}
        self._containers: dict[tuple[str, str, str], list[Point]] = {}
        self._next_scrape = 0.0
        self._stop = threading.Event()

    # -- the loop ------------------------------------------------------------
    def start(self) -> None:
        threading.Thread(target=self._run, name="metrics-server", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            try:
                self.step()
            except Exception:  # the loop must survive a bad scrape
                log.exception("metrics: step failed")

    def step(self) -> None:
        service = self.registry.find(APISERVICES, "", APISERVICE)
        if service is None:
            self.available = False
            with self._lock:
                self._nodes.clear()
                self._containers.clear()
            return
        condition = self._check(service)
        self.available = condition["status"] == "True"
        self._write_status(service, condition)
        if self.available and time.time() >= self._next_scrape:
            self._next_scrape = time.time() + RESOLUTION
            self.scrape()

    def _check(self, apiservice: Obj) -> Obj:
        ref = apiservice.get("spec", {}).get("service") or {}
        ns, name = ref.get("namespace", ""), ref.get("name", "")
        if not name:  # a local APIService: served by the API server itself
            return {
                "status": "True",
                "reason": "Local",
                "message": "Local APIServices are always available",
            }
        if self.registry.find(_SERVICES, ns, name) is None:
            return {
                "status": "False",
                "reason": "ServiceNotFound",
                "message": f'service/{name} in "{ns}" is not present',
            }
        endpoints = self.registry.find(_ENDPOINTS, ns, name) or {}
        addresses = [
            a["ip"]
            for subset in endpoints.get("subsets") or []
            for a in subset.get("addresses") or []
        ]
        if not addresses:
            return {
                "status": "False",
                "reason": "MissingEndpoints",
                "message": f'endpoints for service/{name} in "{ns}" have no addresses with port '
                'name "https"',
            }
        if self.stale:
            ports = [
                p for subset in endpoints.get("subsets") or [] for p in subset.get("ports") or []
            ]
            port = next((p.get("port") for p in ports if p.get("name") == "https"), 443)
            url = f"https://{addresses[0]}:{port}/apis/{GROUP}/{VERSION}"
            return {
                "status": "False",
                "reason": "FailedDiscoveryCheck",
                "message": f'failing or missing response from {url}: Get "{url}": context '
                "deadline exceeded (Client.Timeout exceeded while awaiting headers)",
            }
        return {"status": "True", "reason": "Passed", "message": "all checks passed"}

    def _write_status(self, apiservice: Obj, condition: Obj) -> None:
        conditions = (apiservice.get("status") or {}).get("conditions") or []
        old = next((c for c in conditions if c.get("type") == "Available"), None)
        if old is not None and all(
            old.get(k) == condition[k] for k in ("status", "reason", "message")
        ):
            return
        updated = dict(apiservice)
        updated["status"] = {
            "conditions": [
                {
                    "type": "Available",
                    "lastTransitionTime": _rfc3339(time.time()),
                    **condition,
                }
            ]
        }
        try:
            self.registry.update(APISERVICES, "", APISERVICE, updated, subresource="status")
        except ApiError as err:
            log.debug("metrics: APIService status not written: %s", err.message)

    # -- scraping --------------------------------------------------------------
    def scrape(self) -> None:
        for node in self.registry.list(_NODES, None)["items"]:
            name = node["metadata"]["name"]
            try:
                text = self._node_text(node)
            except (OSError, ValueError, http.client.HTTPException) as err:
                log.info("metrics: scraping node %s failed: %s", name, err)
                continue
            if text is None:
                continue
            point, containers = parse(text)
            with self._lock:
                if point is not None:
                    self._nodes[name] = [*self._nodes.get(name, [])[-1:], point]
                for key, new in containers.items():
                    series = self._containers.get(key, [])
                    if series and series[-1].started != new.started:
                        series = []  # a restarted container starts a new series
                    self._containers[key] = [*series[-1:], new]
                gone = [
                    k
                    for k, s in self._containers.items()
                    if s[-1].at < time.time() - 3 * RESOLUTION
                ]
                for key in gone:
                    del self._containers[key]

    def _node_text(self, node: Obj) -> str | None:
        name = node["metadata"]["name"]
        if LOCAL is not None and name == _local_name():
            return LOCAL()
        status = node.get("status", {})
        ips = [a["address"] for a in status.get("addresses", []) if a.get("type") == "InternalIP"]
        port = status.get("daemonEndpoints", {}).get("kubeletEndpoint", {}).get("Port")
        if not ips or not port:
            return None
        host = next((ip for ip in ips if ":" not in ip), f"[{ips[0]}]")
        # Kubelets here serve self-signed certificates; metrics-server is deployed with
        # its CA check too (--kubelet-insecure-tls is not set upstream, but the
        # stand-in's kubelets have no cluster-signed certificate).
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        connection = http.client.HTTPSConnection(
            host.strip("[]"), int(port), context=context, timeout=10
        )
        try:
            connection.request("GET", "/metrics/resource")
            answer = connection.getresponse()
            body = answer.read().decode()
        finally:
            connection.close()
        if answer.status != 200:
            raise ValueError(f"kubelet answered {answer.status}")
        return body

    # -- serving ----------------------------------------------------------------
    def served(self) -> bool:
        """Whether the APIService exists (discovery lists the group)."""
        return self.registry.find(APISERVICES, "", APISERVICE) is not None

    def handle(self, method: str, rest: list[str], args: Any) -> Obj:
        """``rest``: the path after /apis/metrics.k8s.io/v1beta1."""
        if not self.served():
            raise ApiError("NotFound", "the server could not find the requested resource", {}, 404)
        if not self.available:
            raise ApiError(
                "ServiceUnavailable",
                "the server is currently unable to handle the request",
                {},
                503,
            )
        if method != "GET":
            raise ApiError(
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
                {},
                405,
            )
        selector = args.get("labelSelector") or None
        if rest and rest[0] == "nodes" and len(rest) <= 2:
            return self._nodes_answer(rest[1] if len(rest) == 2 else "", selector)
        ns = ""
        if len(rest) >= 3 and rest[0] == "namespaces":
            ns, rest = rest[1], rest[2:]
        if rest and rest[0] == "pods" and len(rest) <= 2:
            return self._pods_answer(ns, rest[1] if len(rest) == 2 else "", selector)
        raise ApiError("NotFound", "the server could not find the requested resource", {}, 404)

    def _nodes_answer(self, name: str, selector: str | None) -> Obj:
        items = []
        with self._lock:
            series = dict(self._nodes)
        for node in self.registry.list(_NODES, None, labels=selector)["items"]:
            meta = node["metadata"]
            points = series.get(meta["name"], [])
            if len(points) < 2 or (name and meta["name"] != name):
                continue
            old, new = points
            items.append(
                {
                    "metadata": {
                        "name": meta["name"],
                        "creationTimestamp": _rfc3339(time.time()),
                        "labels": meta.get("labels") or {},
                    },
                    "timestamp": _rfc3339(new.at),
                    "window": go_duration(new.at - old.at),
                    "usage": _usage(old, new),
                }
            )
        if name:
            if not items:
                raise ApiError(
                    "NotFound",
                    f'nodemetrics.metrics.k8s.io "{name}" not found',
                    {"name": name, "group": GROUP, "kind": "nodes"},
                    404,
                )
            return {"kind": "NodeMetrics", "apiVersion": f"{GROUP}/{VERSION}", **items[0]}
        return {
            "kind": "NodeMetricsList",
            "apiVersion": f"{GROUP}/{VERSION}",
            "metadata": {},
            "items": items,
        }

    def _pods_answer(self, ns: str, name: str, selector: str | None) -> Obj:
        with self._lock:
            series = dict(self._containers)
        items = []
        for pod in self.registry.list(_PODS, ns or None, labels=selector)["items"]:
            meta = pod["metadata"]
            if name and meta["name"] != name:
                continue
            containers = []
            stamps: list[tuple[float, float]] = []
            for container in pod.get("spec", {}).get("containers", []):
                points = series.get((meta["namespace"], meta["name"], container["name"]), [])
                if len(points) < 2:
                    continue
                old, new = points
                stamps.append((new.at, new.at - old.at))
                containers.append({"name": container["name"], "usage": _usage(old, new)})
            if not containers:
                continue
            items.append(
                {
                    "metadata": {
                        "name": meta["name"],
                        "namespace": meta["namespace"],
                        "creationTimestamp": _rfc3339(time.time()),
                        "labels": meta.get("labels") or {},
                    },
                    "timestamp": _rfc3339(max(s[0] for s in stamps)),
                    "window": go_duration(max(s[1] for s in stamps)),
                    "containers": containers,
                }
            )
        if name:
            if not items:
                raise ApiError(
                    "NotFound",
                    f'podmetrics.metrics.k8s.io "{ns}/{name}" not found',
                    {"name": name, "group": GROUP, "kind": "pods"},
                    404,
                )
            return {"kind": "PodMetrics", "apiVersion": f"{GROUP}/{VERSION}", **items[0]}
        return {
            "kind": "PodMetricsList",
            "apiVersion": f"{GROUP}/{VERSION}",
            "metadata": {},
            "items": items,
        }


_LOCAL_NAME = ""


def set_local(name: str, source: Callable[[], str]) -> None:
    """The node side running in this process registers its own node's metrics."""
    global LOCAL, _LOCAL_NAME
    LOCAL, _LOCAL_NAME = source, name


def _local_name() -> str:
    return _LOCAL_NAME
