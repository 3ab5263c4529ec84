"""The HTTP face of the stand-in: a WSGI app that routes Kubernetes API paths.

Paths are parsed by hand rather than with werkzeug's router because the API's
grammar is ambiguous by segment count (`/api/v1/namespaces/x/status` is a
subresource, `/api/v1/namespaces/x/pods` a collection) and needs the resource table
to resolve.
"""

from __future__ import annotations

import http.client
import json
import logging
import select
import ssl
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from werkzeug.wrappers import Request, Response

from . import (
    authz,
    crds,
    discovery,
    disruption,
    fieldmanager,
    fieldvalidation,
    metrics,
    openapi,
    pki,
    podlogs,
    protobuf,
    resources,
    streaming,
    tables,
)
from . import patch as patching
from .access import AccessControl, forbidden
from .authn import User
from .errors import ApiError
from .registry import Registry
from .resources import REVIEW_KINDS, Resource, find
from .store import Expired

log = logging.getLogger("k8s_standin.api")
PDBS = resources.get("policy", "v1", "poddisruptionbudgets")
Obj = dict[str, Any]
_MAX_WATCH_SECONDS = 1800  # upstream's default --min-request-timeout


@dataclass
class ApiInfo:
    version: str  # gitVersion, e.g. v1.36.5+k3s1
    server_address: str  # host:port advertised in /api
    pod_log_dirs: tuple[Path, ...]
    ca_pem: bytes = b""
    never_ready: bool = False
    join_token: str = ""
    cluster_config: Obj = field(default_factory=dict)
    #: This server's own node: its pods' logs are on this disk, never asked of a kubelet.
    node_name: str = ""
    #: Authentication and authorization (access.py); None admits every request.
    access: AccessControl | None = None
    #: The cluster CA, to sign joining nodes' client certificates.
    tls: pki.Paths | None = None
    #: metrics.k8s.io behind its APIService (metrics.py); None: never served.
    metrics: metrics.MetricsServer | None = None


def _json(obj: Any, code: int = 200, mimetype: str = "application/json") -> Response:
    return Response(json.dumps(obj, separators=(",", ":")) + "\n", code, mimetype=mimetype)


def _error(err: ApiError) -> Response:
    response = _json(err.status(), err.code)
    retry = (err.details or {}).get("retryAfterSeconds")
    if retry:
        # responsewriters send the Status's retryAfterSeconds as Retry-After too.
        response.headers["Retry-After"] = str(retry)
    return response


class ApiApp:
    def __init__(self, registry: Registry, info: ApiInfo) -> None:
        self.registry = registry
        self.info = info
        self.ready = threading.Event()
        # Set while the API must look dead: open streams end, so clients reconnect.
        self.stopping = threading.Event()

    # -- WSGI --------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        writing = request.method in ("POST", "PUT", "PATCH")
        tokens = None
        try:
            if writing:
                tokens = fieldvalidation.begin(
                    request.args.get("fieldValidation"), request.method == "PATCH"
                )
            response = self.dispatch(request)
        except ApiError as err:
            response = _error(err)
        except Exception as exc:  # a bug must surface as a 500 Status, not a hang
            log.exception("internal error on %s %s", request.method, request.path)
            response = _error(ApiError("InternalError", f"Internal error occurred: {exc}"))
        finally:
            warnings = fieldvalidation.end(tokens) if tokens is not None else []
        for text in warnings:
            # RFC 7234 warn-code 299, the text quoted, as apiserver's warning recorder.
            escaped = text.replace("\\", "\\\\").replace('"', '\\"')
            response.headers.add("Warning", f'299 - "{escaped}"')
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        path = request.path.rstrip("/") or "/"
        # The supervisor's own endpoints (k3s: /cacerts; the stand-in's join API) come
        # before the API's authentication, as k3s serves them beside the API.
        if path == "/cacerts":
            return Response(self.info.ca_pem, 200, mimetype="text/plain")
        if path == "/standin/cluster-config":
            return self._cluster_config(request)
        if path == "/standin/node-credentials":
            return self._node_credentials(request)
        if self.info.access is not None:
            request.environ["standin.user"] = self.info.access.user_of(request, path)
        if path in ("/livez", "/healthz", "/readyz") or path.startswith(("/livez/", "/readyz/")):
            return self._health(path)
        if path == "/version":
            return _json(self._version())
        if path == "/api":
            if discovery.wants_aggregated(request.headers.get("Accept", "")):
                return _json(discovery.aggregated(core=True), mimetype=discovery.AGGREGATED_V2)
            return _json(discovery.api_versions(self.info.server_address))
        if path == "/apis":
            hidden = self._unregistered_groups()
            if discovery.wants_aggregated(request.headers.get("Accept", "")):
                # The aggregator's discovery manager leaves out a group version it never
                # fetched; /apis lists every registered group.
                if self.info.metrics is not None and not self.info.metrics.available:
                    hidden |= {metrics.GROUP}
                return _json(
                    discovery.aggregated(core=False, hidden=hidden),
                    mimetype=discovery.AGGREGATED_V2,
                )
            return _json(discovery.api_group_list(hidden))
        parts = path.strip("/").split("/")
        if parts[0] == "apis" and len(parts) >= 2 and parts[1] in resources.AGGREGATED:
            return self._aggregated(request, parts[1], parts[2:])
        if parts[:2] == ["openapi", "v3"]:
            return self._openapi(parts[2:])
        if parts[0] == "api" and len(parts) >= 2:
            return self._resource(request, "", parts[1], parts[2:])
        if parts[0] == "apis" and len(parts) == 2 and parts[1] in {r.group for r in _all()}:
            return _json(discovery.api_group(parts[1]))
        if parts[0] == "apis" and len(parts) >= 3:
            return self._resource(request, parts[1], parts[2], parts[3:])
        raise ApiError("NotFound", "the server could not find the requested resource", {}, 404)

    # -- extension API servers (the aggregation layer) ------------------------
    def _unregistered_groups(self) -> frozenset[str]:
        """Groups of resources.AGGREGATED without their APIService: not discovered."""
        served = self.info.metrics is not None and self.info.metrics.served()
        return frozenset(g for g in resources.AGGREGATED if g != metrics.GROUP or not served)

    def _aggregated(self, request: Request, group: str, rest: list[str]) -> Response:
        server = self.info.metrics
        if server is None or group in self._unregistered_groups():
            raise ApiError("NotFound", "the server could not find the requested resource", {}, 404)
        if not rest:
            # The group's document comes from the APIService list, not the extension server.
            return _json(discovery.api_group(group))
        if not server.available:
            # What the aggregator's proxy answers for an APIService that is not Available.
            raise ApiError(
                "ServiceUnavailable", "the server is currently unable to handle the request"
            )
        if rest[0] != metrics.VERSION:
            raise ApiError("NotFound", "the server could not find the requested resource", {}, 404)
        if len(rest) == 1:
            return _json(discovery.resource_list(group, metrics.VERSION))
        return _json(server.handle(request.method, rest[1:], request.args))

    def _openapi(self, rest: list[str]) -> Response:
        if not rest:
            return _json(openapi.root())
        doc = None
        if rest[0] == "api" and len(rest) == 2:
            doc = openapi.gv_document("", rest[1])
        elif rest[0] == "apis" and len(rest) == 3:
            doc = openapi.gv_document(rest[1], rest[2])
        if doc is None:
            raise ApiError("NotFound", "the server could not find the requested resource", {}, 404)
        return _json(doc)

    def _cluster_config(self, request: Request) -> Response:
        """Join information for agents/workers; needs the join token, like k3s's
        supervisor endpoints."""
        presented = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not presented or not _token_matches(presented, self.info.join_token):
            raise ApiError("Unauthorized", "Unauthorized", code=401)
        return _json(self.info.cluster_config)

    def _node_credentials(self, request: Request) -> Response:
        """A client certificate for a joining node, CN=system:node:<name> in
        O=system:nodes, as k3s's supervisor hands agents their kubelet's
        (/v1-k3s/client-kubelet.crt) and k0s's join API does; needs the join token."""
        presented = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not presented or not _token_matches(presented, self.info.join_token):
            raise ApiError("Unauthorized", "Unauthorized", code=401)
        node = request.args.get("node", "")
        if not node or "/" in node or self.info.tls is None:
            raise ApiError("BadRequest", "a node name is needed")
        cert, key = pki.client_certificate(self.info.tls, f"/O=system:nodes/CN=system:node:{node}")
        return _json({"certificate": cert.decode(), "key": key.decode()})

    def _health(self, path: str) -> Response:
        if path.startswith("/livez"):
            return Response("ok", 200, mimetype="text/plain")
        if self.info.never_ready or not self.ready.is_set():
            return Response(
                "[-]poststarthook/standin-ready failed: reason withheld\nreadyz check failed\n",
                500,
                mimetype="text/plain",
            )
        return Response("ok", 200, mimetype="text/plain")

    def _version(self) -> Obj:
        version = self.info.version
        core = version.lstrip("v").split("+")[0].split("-")[0]
        major, minor = [*core.split("."), "0", "0"][:2]
        return {
            "major": major,
            "minor": minor,
            "gitVersion": version,
            "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean",
            "buildDate": "2025-01-01T00:00:00Z",
            "goVersion": "go1.24.0",
            "compiler": "gc",
            "platform": "linux/amd64",
        }

    # -- resources ---------------------------------------------------------
    def _resource(self, request: Request, group: str, version: str, rest: list[str]) -> Response:
        if not rest:
            if not any(r.group == group and r.version == version for r in _all()):
                raise ApiError(
                    "NotFound", "the server could not find the requested resource", {}, 404
                )
            return _json(discovery.resource_list(group, version))
        ns = ""
        res = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            candidate = find(group, version, rest[2])
            if candidate is not None and candidate.namespaced:
                ns, res, rest = rest[1], candidate, rest[2:]
        if res is None:
            res = find(group, version, rest[0])
        if res is None:
            raise ApiError("NotFound", "the server could not find the requested resource", {}, 404)
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        if len(rest) > 3 or (sub and sub not in res.subresources):
            raise ApiError("NotFound", "the server could not find the requested resource", {}, 404)
        if not name:
            return self._collection(request, res, ns)
        return self._item(request, res, ns, name, sub)

    def _collection(self, request: Request, res: Resource, ns: str) -> Response:
        args = request.args
        method = request.method
        if res.kind in REVIEW_KINDS and method != "POST":
            raise ApiError(
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
                {},
                405,
            )
        if method == "GET":
            if args.get("watch") in ("1", "true", "True"):
                return self._watch(request, res, ns or None)
            result = self.registry.list(
                res,
                ns or None,
                args.get("labelSelector"),
                args.get("fieldSelector"),
                int(args.get("limit") or 0),
                args.get("continue"),
            )
            return self._maybe_table(request, res, result)
        if method == "POST":
            if res.namespaced and not ns:
                raise ApiError(
                    "MethodNotAllowed",
                    "the server does not allow this method on the requested resource",
                    {},
                    405,
                )
            if res.kind in REVIEW_KINDS:
                review = _body(request)
                review = review if isinstance(review, dict) else {}
                if self.info.access is None:
                    review["status"] = {"allowed": True}
                    return _json(dict(review, apiVersion=res.api_version, kind=res.kind), 201)
                user: User = request.environ["standin.user"]
                answer = self.info.access.review(res.kind, res.api_version, ns, review, user)
                return _json(answer, 201)
            writer = _writer(request, "", "CreateOptions")
            created = self.registry.create(res, ns, _body(request), _dry_run(request), writer)
            return _json(created, 201)
        if method == "DELETE":
            options = _delete_options(request)
            listed = self.registry.list(
                res,
                ns or None,
                request.args.get("labelSelector"),
                request.args.get("fieldSelector"),
            )
            for item in listed["items"]:
                meta = item["metadata"]
                try:
                    self.registry.delete(res, meta.get("namespace", ""), meta["name"], options)
                except ApiError as err:
                    if err.reason != "NotFound":
                        raise
            listed["items"] = []
            return _json(listed)
        raise ApiError(
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
            {},
            405,
        )

    def _item(self, request: Request, res: Resource, ns: str, name: str, sub: str) -> Response:
        method = request.method
        if res.namespaced and not ns:
            raise ApiError("NotFound", "the server could not find the requested resource", {}, 404)
        if sub == "log":
            return self._logs(request, res, ns, name)
        if sub in ("exec", "attach", "portforward"):
            return self._stream(request, res, ns, name, sub)
        if sub == "scale":
            return self._scale(request, res, ns, name)
        if sub == "eviction":
            return self._evict(request, res, ns, name)
        if sub == "binding":
            return self._bind(request, res, ns, name)
        if sub == "token":
            if method != "POST" or self.info.access is None:
                raise ApiError("MethodNotAllowed", "only POST is allowed on token", {}, 405)
            answer = self.info.access.token_request(ns, name, _body(request))
            return _json(answer, 201)
        if method == "GET":
            obj = self.registry.get(res, ns, name)
            if tables.wants_table(request.headers.get("Accept", "")):
                table = tables.to_table(
                    res.kind,
                    [obj],
                    {"resourceVersion": obj["metadata"]["resourceVersion"]},
                    request.args.get("includeObject", "Metadata"),
                    _columns(res),
                )
                return _json(table)
            if tables.wants_metadata(request.headers.get("Accept", "")):
                return _json(tables.partial(obj))
            return _json(obj)
        if method == "PUT":
            writer = _writer(request, sub, "UpdateOptions")
            body = _body(request)
            return _json(self.registry.update(res, ns, name, body, sub, _dry_run(request), writer))
        if method == "PATCH":
            ctype = request.headers.get("Content-Type", "")
            writer = _writer(request, sub, "PatchOptions", ctype)
            # PatchOptions.force is decoded as strconv.ParseBool reads it.
            force = request.args.get("force") in ("1", "t", "T", "true", "TRUE", "True")
            body = _body(request)
            patched = self.registry.patch(
                res, ns, name, ctype, body, sub, _dry_run(request), writer, force
            )
            return _json(patched)
        if method == "DELETE" and not sub:
            options = _delete_options(request)
            obj, finished = self.registry.delete(res, ns, name, options, _dry_run(request))
            # handlers/delete.go: 202 only when the object is still there and the client
            # asked for cascading deletion with orphanDependents=false; 200 otherwise.
            accepted = not finished and options.get("orphanDependents") is False
            return _json(obj, 202 if accepted else 200)
        raise ApiError(
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
            {},
            405,
        )

    def _maybe_table(self, request: Request, res: Resource, result: Obj) -> Response:
        accept = request.headers.get("Accept", "")
        if tables.wants_table(accept):
            return _json(
                tables.to_table(
                    res.kind,
                    result["items"],
                    result["metadata"],
                    request.args.get("includeObject", "Metadata"),
                    _columns(res),
                )
            )
        if tables.wants_metadata(accept):
            return _json(tables.partial_list(result))
        return _json(result)

    # -- watch -------------------------------------------------------------
    def _watch(self, request: Request, res: Resource, ns: str | None) -> Response:
        args = request.args
        rv_arg = args.get("resourceVersion")
        since = int(rv_arg) if rv_arg and rv_arg != "0" else None
        timeout = float(args.get("timeoutSeconds") or _MAX_WATCH_SECONDS)
        deadline = time.monotonic() + min(timeout, _MAX_WATCH_SECONDS)
        bookmark = args.get("sendInitialEvents") in ("true", "1")
        as_table = tables.wants_table(request.headers.get("Accept", ""))
        as_metadata = tables.wants_metadata(request.headers.get("Accept", ""))
        include = args.get("includeObject", "Metadata")
        try:
            events = self.registry.watch(
                res,
                ns,
                since,
                deadline,
                args.get("labelSelector"),
                args.get("fieldSelector"),
                bookmark or since is None,
            )
        except Expired as exc:
            err = ApiError("Expired", str(exc), code=410)
            line = json.dumps({"type": "ERROR", "object": err.status()}) + "\n"
            return Response(line, 200, mimetype="application/json")

        sock = request.environ.get("werkzeug.socket")

        def stream() -> Iterator[bytes]:
            # werkzeug sends the status line with the first chunk; an empty one flushes
            # the headers at once, which clients waiting on a quiet watch rely on.
            yield b""
            for etype, obj in events:
                if self.stopping.is_set():
                    return
                if etype == "INITIAL_END":
                    if bookmark:
                        yield _bookmark(res, self.registry.store.rv)
                    continue
                if not etype:
                    if _peer_gone(sock):
                        return  # free the thread now rather than at timeoutSeconds
                    continue
                if as_table:
                    obj = tables.to_table(
                        res.kind,
                        [obj],
                        {"resourceVersion": obj["metadata"]["resourceVersion"]},
                        include,
                        _columns(res),
                    )
                elif as_metadata:
                    obj = tables.partial(obj)
                yield (
                    json.dumps({"type": etype, "object": obj}, separators=(",", ":")) + "\n"
                ).encode()

        return Response(
            stream(), 200, mimetype="application/json", headers={"Cache-Control": "no-cache"}
        )

    # -- subresources ------------------------------------------------------
    def _logs(self, request: Request, res: Resource, ns: str, name: str) -> Response:
        if request.method != "GET":
            raise ApiError("MethodNotAllowed", "only GET is allowed on pods/log", {}, 405)
        pod = self.registry.get(res, ns, name)
        args = request.args
        container = args.get("container")
        previous = args.get("previous") in ("true", "1")
        podlogs.LogOptions.parse(args, name)  # 422/400 before looking for the log
        path = None
        for root in self.info.pod_log_dirs:
            try:
                path = podlogs.log_file(root, pod, container, previous)
                break
            except ApiError as err:
                failure = err
        if path is None:
            if pod.get("spec", {}).get("nodeName") == self.info.node_name:
                raise failure  # e.g. still ContainerCreating: nothing to ask a kubelet
            # Not on this machine's disk: a pod of another node, whose kubelet has it.
            proxied = self._logs_from_kubelet(pod, request)
            if proxied is None:
                raise failure
            return proxied
        options = podlogs.LogOptions.parse(args, name)
        if args.get("follow") in ("true", "1"):
            uid = pod["metadata"]["uid"]

            sock = request.environ.get("werkzeug.socket")

            def alive() -> bool:
                if _peer_gone(sock):
                    return False
                current = self.registry.find(res, ns, name)
                return (
                    current is not None
                    and current["metadata"]["uid"] == uid
                    and not self.stopping.is_set()
                )

            return Response(podlogs.follow(path, options, alive), 200, mimetype="text/plain")
        return Response(podlogs.read(path, options), 200, mimetype="text/plain")

    def _logs_from_kubelet(self, pod: Obj, request: Request) -> Response | None:
        """Stream pods/log from the kubelet of the pod's node (GET /containerLogs on its
        InternalIP and kubelet port), or None when the pod has no other node."""
        node_name = pod.get("spec", {}).get("nodeName")
        node = self.registry.find(resources.get("", "v1", "nodes"), "", node_name or "")
        if node is None:
            return None
        status = node.get("status", {})
        ips = [a["address"] for a in status.get("addresses", []) if a.get("type") == "InternalIP"]
        port = status.get("daemonEndpoints", {}).get("kubeletEndpoint", {}).get("Port")
        if not ips or not port:
            return None
        host = next((ip for ip in ips if ":" not in ip), f"[{ips[0]}]")
        container = podlogs.container_name(pod, request.args.get("container"))
        meta = pod["metadata"]
        query = "&".join(f"{k}={v}" for k, v in request.args.items() if k != "container")
        url = f"/containerLogs/{meta['namespace']}/{meta['name']}/{container}?{query}"
        # Kubelets here serve self-signed certificates: not verified (real API servers
        # verify them against the cluster CA).
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        connection = http.client.HTTPSConnection(host, int(port), context=context, timeout=30)
        try:
            connection.request("GET", url)
            answer = connection.getresponse()
        except OSError as err:
            connection.close()
            raise ApiError(
                "InternalError",
                f'Get "https://{host}:{port}{url}": {err}',
            ) from None
        if answer.status != 200:
            text = answer.read().decode(errors="replace").strip()
            connection.close()
            raise ApiError("BadRequest", text or f"kubelet answered {answer.status}")

        def relay() -> Iterator[bytes]:
            yield b""
            try:
                while chunk := answer.read1(65536):
                    yield chunk
            finally:
                connection.close()

        return Response(relay(), 200, mimetype="text/plain")

    def _stream(self, request: Request, res: Resource, ns: str, name: str, sub: str) -> Response:
        """pods/exec, pods/attach, pods/portforward: served here for this server's own
        node, else proxied to the kubelet of the pod's node (upstream always proxies to
        the kubelet; the server's own node has no kubelet port of its own here)."""
        if request.method not in ("GET", "POST"):
            raise ApiError(
                "MethodNotAllowed", f"only GET and POST are allowed on pods/{sub}", {}, 405
            )
        access = self.info.access
        if access is not None and request.method == "GET":
            # AuthorizePodWebsocketUpgradeCreatePermission (beta and on since 1.35,
            # kubernetes#134577): a WebSocket GET, already authorized as `get`, also needs
            # `create`, as the POST (SPDY) path always did.
            user: User = request.environ["standin.user"]
            attrs = authz.Attributes(
                verb="create",
                resource_request=True,
                path=request.path,
                namespace=ns,
                api_group="",
                api_version="v1",
                resource="pods",
                subresource=sub,
                name=name,
            )
            allowed, _ = access.authorizer.authorize(user, attrs)
            if not allowed:
                raise forbidden(user, attrs)
        pod = self.registry.get(res, ns, name)
        opts = streaming.Options.from_api(sub, request.args, pod)
        streaming.check_running(pod, sub)
        node_name = pod.get("spec", {}).get("nodeName") or ""
        if not node_name:
            raise ApiError("BadRequest", f"pod {name} does not have a host assigned")
        runtime = streaming.local(node_name)
        if runtime is not None:
            try:
                return streaming.serve(request, pod, opts, runtime)
            except streaming.StreamError as err:
                raise ApiError("BadRequest", str(err)) from None
        endpoint = self._kubelet_endpoint(node_name)
        if endpoint is None:
            raise ApiError("BadRequest", f'no kubelet endpoint for node "{node_name}"')
        return streaming.proxy(request, *endpoint, opts.kubelet_path(ns, name))

    def _kubelet_endpoint(self, node_name: str) -> tuple[str, int] | None:
        node = self.registry.find(resources.get("", "v1", "nodes"), "", node_name)
        if node is None:
            return None
        status = node.get("status", {})
        ips = [a["address"] for a in status.get("addresses", []) if a.get("type") == "InternalIP"]
        port = status.get("daemonEndpoints", {}).get("kubeletEndpoint", {}).get("Port")
        if not ips or not port:
            return None
        return next((ip for ip in ips if ":" not in ip), ips[0]), int(port)

    def _bind(self, request: Request, res: Resource, ns: str, name: str) -> Response:
        """What a scheduler posts: sets spec.nodeName once, 409 if already bound."""
        if request.method != "POST":
            raise ApiError("MethodNotAllowed", "only POST is allowed on pods/binding", {}, 405)
        body = _body(request)
        target = ((body.get("target") or {}) if isinstance(body, dict) else {}).get("name")
        if not target:
            raise ApiError("BadRequest", "binding has no target node")
        with self.registry.store.lock:
            pod = self.registry.get(res, ns, name)
            bound = pod.get("spec", {}).get("nodeName")
            if bound:
                raise ApiError(
                    "Conflict",
                    f'pod {name} is already assigned to node "{bound}"',
                    {"name": name, "kind": "pods"},
                )
            # The binding's storage sets the node itself; no field manager sees it.
            self.registry.patch(
                res,
                ns,
                name,
                "application/merge-patch+json",
                {"spec": {"nodeName": target}},
                writer=None,
            )
        return _created()

    def _evict(self, request: Request, res: Resource, ns: str, name: str) -> Response:
        """pods/eviction: a graceful delete that the pod's PodDisruptionBudget must allow
        (disruption.py); an allowed eviction is counted in the budget's status before the
        pod is deleted, as eviction.go does. kubectl drain sends protobuf here, so an
        undecodable body is fine."""
        if request.method != "POST":
            raise ApiError("MethodNotAllowed", "only POST is allowed on pods/eviction", {}, 405)
        try:
            body = _body(request)
        except ApiError:
            body = {}
        options = body.get("deleteOptions") if isinstance(body, dict) else None
        dry_run = _dry_run(request)
        with self.registry.store.lock:
            pod = self.registry.get(res, ns, name)
            budgets = self.registry.list(PDBS, ns)["items"]
            try:
                counted = disruption.admit_eviction(pod, budgets)
            except disruption.MultipleBudgets as err:
                failure = {"kind": "Status", "apiVersion": "v1", "metadata": {}}
                return _json(dict(failure, status="Failure", message=str(err), code=500), 500)
            if counted is not None and not dry_run:
                pdb = disruption.budgets_of(pod, budgets)[0]
                pdb["status"] = counted
                self.registry.update(PDBS, ns, pdb["metadata"]["name"], pdb, "status")
            self.registry.delete(res, ns, name, options or {}, dry_run)
        return _created()

    def _scale(self, request: Request, res: Resource, ns: str, name: str) -> Response:
        obj = self.registry.get(res, ns, name)
        if request.method in ("PUT", "PATCH"):
            # The scale handler writes the parent's spec.replicas under the scale
            # writer's own entry (registry/apps/deployment/storage scaleUpdatedObjectInfo).
            options = "PatchOptions" if request.method == "PATCH" else "UpdateOptions"
            writer = _writer(request, "scale", options, request.headers.get("Content-Type", ""))
            body = _body(request)
            current = _scale_of(obj)
            if request.method == "PATCH":
                ctype = request.headers.get("Content-Type", "")
                if ctype.startswith("application/json-patch"):
                    body = patching.json_patch(current, body)
                else:
                    body = patching.merge_patch(current, body)
            want_rv = (body.get("metadata") or {}).get("resourceVersion")
            replicas = (body.get("spec") or {}).get("replicas", 0)
            update = dict(obj)
            update["spec"] = dict(obj.get("spec", {}), replicas=replicas)
            if want_rv:
                update["metadata"] = dict(obj["metadata"], resourceVersion=want_rv)
            obj = self.registry.update(res, ns, name, update, writer=writer)
        elif request.method != "GET":
            raise ApiError("MethodNotAllowed", "method not allowed on scale", {}, 405)
        return _json(_scale_of(obj))


def _created() -> Response:
    """The Status that pods/binding and pods/eviction answer with."""
    return _json(
        {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201},
        201,
    )


def _peer_gone(sock: Any) -> bool:
    """True once the client hung up. A streaming client never sends anything while it
    reads, so any readability (EOF or TLS close_notify) means it is gone."""
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _token_matches(presented: str, token: str) -> bool:
    """Accept the full token or just its secret part (k3s short tokens)."""
    secret = token.rsplit(":", 1)[-1]
    return presented in (token, secret) or presented.rsplit(":", 1)[-1] == secret


def _all() -> tuple[Resource, ...]:
    return resources.served()


def _columns(res: Resource) -> list[tables.Column] | None:
    """A custom resource's printer columns; None for built-in kinds."""
    if not res.custom:
        return None
    info = crds.served(res)
    return tables.printer_columns(info.columns if info else ())


def _bookmark(res: Resource, rv: int) -> bytes:
    obj = {
        "kind": res.kind,
        "apiVersion": res.api_version,
        "metadata": {
            "resourceVersion": str(rv),
            "annotations": {"k8s.io/initial-events-end": "true"},
        },
    }
    return (json.dumps({"type": "BOOKMARK", "object": obj}) + "\n").encode()


def _scale_of(obj: Obj) -> Obj:
    meta = obj["metadata"]
    selector = (obj.get("spec", {}).get("selector") or {}).get("matchLabels") or {}
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        },
        "spec": {"replicas": obj.get("spec", {}).get("replicas", 0)},
        "status": {
            "replicas": obj.get("status", {}).get("replicas", 0),
            "selector": ",".join(f"{k}={v}" for k, v in selector.items()),
        },
    }


def _body(request: Request) -> Any:
    raw = request.get_data()
    if not raw:
        return {}
    ctype = request.headers.get("Content-Type", "")
    if "protobuf" in ctype:
        try:
            return protobuf.decode_object(raw)
        except (protobuf.Unsupported, KeyError, ValueError) as exc:
            raise ApiError(
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format - accepted media types "
                f"include: application/json, application/yaml ({exc})",
            ) from None
    if "cbor" in ctype:
        # Only JSON (and YAML) bodies are understood; upstream answers 415 for any media
        # type it does not serve, and client-go then retries with JSON.
        raise ApiError(
            "UnsupportedMediaType",
            f"the body of the request was in an unknown format - accepted media types "
            f"include: application/json, application/yaml (got {ctype})",
        )
    try:
        if "yaml" in ctype:
            return yaml.safe_load(raw)
        return json.loads(raw)
    except (ValueError, yaml.YAMLError) as exc:
        raise ApiError(
            "BadRequest", f"the body of the request could not be decoded: {exc}"
        ) from None


def _writer(request: Request, sub: str, options: str, ctype: str = "") -> fieldmanager.Writer:
    """The manager of a write: `fieldManager`, else the User-Agent's product name
    (managerOrUserAgent, k8s.io/apiserver pkg/endpoints/handlers/create.go at v0.36.3),
    checked as ValidatePatchOptions and ValidateFieldManager check them
    (k8s.io/apimachinery pkg/apis/meta/v1/validation at v0.36.3) and answered as
    Invalid CreateOptions, UpdateOptions or PatchOptions, as the handlers answer."""
    manager = request.args.get("fieldManager", "")
    causes: list[dict[str, str]] = []
    if options == "PatchOptions":
        if ctype.startswith("application/apply-patch"):
            if not manager:
                causes.append(
                    {
                        "reason": "FieldValueRequired",
                        "message": "Required value: is required for apply patch",
                        "field": "fieldManager",
                    }
                )
        elif "force" in request.args:
            causes.append(
                {
                    "reason": "FieldValueForbidden",
                    "message": "Forbidden: may not be specified for non-apply patch",
                    "field": "force",
                }
            )
    limit = fieldmanager.MAX_MANAGER_LENGTH
    if len(manager.encode()) > limit:
        causes.append(
            {
                "reason": "FieldValueTooLong",
                "message": f"Too long: may not be more than {limit} bytes",
                "field": "fieldManager",
            }
        )
    for i, char in enumerate(manager):
        if not char.isprintable():
            causes.append(
                {
                    "reason": "FieldValueInvalid",
                    "message": f"Invalid value: {json.dumps(manager)}: invalid character "
                    f"U+{ord(char):04X} (at position {len(manager[:i].encode())})",
                    "field": "fieldManager",
                }
            )
    if causes:
        listed = ", ".join(f"{c['field']}: {c['message']}" for c in causes)
        if len(causes) > 1:
            listed = f"[{listed}]"
        raise ApiError(
            "Invalid",
            f'{options}.meta.k8s.io "" is invalid: {listed}',
            {"group": "meta.k8s.io", "kind": options, "causes": causes},
        )
    if not manager:
        manager = fieldmanager.manager_from_user_agent(request.headers.get("User-Agent", ""))
    return fieldmanager.Writer(manager, sub)


def _dry_run(request: Request) -> bool:
    return "All" in request.args.getlist("dryRun")


def _delete_options(request: Request) -> Obj:
    body = _body(request) if request.method == "DELETE" else {}
    options = body if isinstance(body, dict) else {}
    args = request.args
    if args.get("propagationPolicy"):
        options["propagationPolicy"] = args["propagationPolicy"]
    if args.get("orphanDependents") in ("true", "false"):
        options["orphanDependents"] = args["orphanDependents"] == "true"
    if args.get("gracePeriodSeconds") is not None and args.get("gracePeriodSeconds") != "":
        options["gracePeriodSeconds"] = int(args["gracePeriodSeconds"])
    return options


__all__ = ["ApiApp", "ApiInfo"]
