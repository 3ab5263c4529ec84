"""The kubelet's HTTPS endpoint (port 10250), which the API server asks for the logs of
pods that run on this node: ``GET /containerLogs/<namespace>/<pod>/<container>`` with
``tailLines``, ``sinceSeconds``, ``sinceTime``, ``timestamps``, ``limitBytes``, ``previous``
and ``follow``; ``/exec/<namespace>/<pod>/<container>``,
``/attach/<namespace>/<pod>/<container>`` and ``/portForward/<namespace>/<pod>``
(streaming.py), which the API server proxies exec, attach and port-forward requests to;
and ``GET /metrics/resource`` (resourcemetrics.py), which metrics-server scrapes.

Real kubelets serve it with a certificate the cluster's CA signed; this one makes a
self-signed certificate, and the stand-in API server does not verify it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from typing import Any

from werkzeug.wrappers import Request, Response

from .. import pki, podlogs, streaming
from ..config import NodeConfig
from ..errors import ApiError
from ..httpserver import HttpsServer
from .client import Client
from .util import log

PORT = 10250


class KubeletApp:
    def __init__(
        self,
        client: Client,
        config: NodeConfig,
        runtime: streaming.Runtime | None = None,
        resource_metrics: Callable[[], str] | None = None,
    ) -> None:
        self.client = client
        self.config = config
        self.runtime = runtime
        self.resource_metrics = resource_metrics

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        return self.respond(request)(environ, start_response)

    def respond(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/")
        if request.method == "GET" and parts == ["metrics", "resource"] and self.resource_metrics:
            return Response(self.resource_metrics(), 200, mimetype="text/plain; version=0.0.4")
        if parts[0] in ("exec", "attach", "portForward") and request.method in ("GET", "POST"):
            return self._stream(request, parts)
        if request.method != "GET" or len(parts) != 4 or parts[0] != "containerLogs":
            return Response("404 page not found\n", 404, mimetype="text/plain")
        _, namespace, name, container = parts
        pod = self.client.get_or_none("pods", name, namespace)
        if pod is None or pod.get("spec", {}).get("nodeName") != self.config.node_name:
            return Response(f"pod {namespace}/{name} not found on this node\n", 404)
        args = request.args
        try:
            path = podlogs.log_file(
                self.config.pod_log_dir, pod, container, args.get("previous") in ("true", "1")
            )
        except ApiError as err:
            return Response(str(err.message), 400, mimetype="text/plain")
        try:
            options = podlogs.LogOptions.parse(args, name)
        except ApiError as err:
            return Response(str(err.message), err.code, mimetype="text/plain")
        if args.get("follow") in ("true", "1"):
            uid = pod["metadata"]["uid"]

            def alive() -> bool:
                current = self.client.get_or_none("pods", name, namespace)
                return current is not None and current["metadata"]["uid"] == uid

            return Response(podlogs.follow(path, options, alive), 200, mimetype="text/plain")
        return Response(podlogs.read(path, options), 200, mimetype="text/plain")

    def _stream(self, request: Request, parts: list[str]) -> Response:
        kind = "portforward" if parts[0] == "portForward" else parts[0]
        if len(parts) != (3 if kind == "portforward" else 4) or self.runtime is None:
            return Response("404 page not found\n", 404, mimetype="text/plain")
        namespace, name = parts[1], parts[2]
        pod = self.client.get_or_none("pods", name, namespace)
        if pod is None or pod.get("spec", {}).get("nodeName") != self.config.node_name:
            return Response(f"pod {namespace}/{name} not found on this node\n", 404)
        try:
            opts = streaming.Options.from_kubelet(
                kind, request.args, parts[3] if len(parts) > 3 else ""
            )
            return streaming.serve(request, pod, opts, self.runtime)
        except ApiError as err:
            return Response(str(err.message) + "\n", err.code, mimetype="text/plain")
        except streaming.StreamError as err:
            return Response(str(err) + "\n", 400, mimetype="text/plain")


def serve(
    client: Client,
    config: NodeConfig,
    runtime: streaming.Runtime | None = None,
    resource_metrics: Callable[[], str] | None = None,
) -> HttpsServer | None:
    """Start the endpoint; a node that cannot (port taken, no openssl) runs without it."""
    directory = config.data_dir / "agent"
    cert, key = directory / "serving-kubelet.crt", directory / "serving-kubelet.key"
    try:
        if not cert.exists():
            subject = f"/CN={config.node_name}"
            pki.self_signed_server(cert, key, subject, [config.node_name, *config.node_ips])
        server = HttpsServer(
            "0.0.0.0",
            PORT,
            KubeletApp(client, config, runtime, resource_metrics),
            str(cert),
            str(key),
        )
        server.start()
    except (OSError, subprocess.CalledProcessError) as err:
        log.warning("kubelet: not serving on :%d (%s); pod logs of this node stay local", PORT, err)
        return None
    return server
