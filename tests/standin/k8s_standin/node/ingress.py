"""Ingress controller, the process inside the stand-in's Traefik pod.

An HTTP reverse proxy that routes by Ingress rules: host (exact or `*.` wildcard)
then the longest matching path (Exact, Prefix by path segments,
ImplementationSpecific as prefix) to a ready endpoint of the backend Service. It
serves Ingresses whose class is an IngressClass with controller
`traefik.io/ingress-controller`, and class-less Ingresses. Unmatched requests get
Traefik's `404 page not found`. Ingress status gets the traefik Service's
load-balancer addresses, as Traefik publishes them.

Run: python3 -m k8s_standin.node.ingress --port 8000 [--tls-port 8443]
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import env
from .client import Client
from .endpoints import pod_ips, target_port
from .feed import run_on_changes
from .podclient import from_env
from .util import Obj, pod_ready, service_matches

CONTROLLER = "traefik.io/ingress-controller"
HOP_HEADERS = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "host",
}
log = logging.getLogger("traefik")


class Routes:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.rules: list[tuple[str, str, str, Obj, str]] = []  # host, type, path, backend, ns
        self.pods: list[Obj] = []
        self.services: dict[tuple[str, str], Obj] = {}
        self._rr = itertools.count()

    def refresh(self) -> None:
        classes = {
            c["metadata"]["name"]
            for c in self.client.list("ingressclasses")
            if c.get("spec", {}).get("controller") == CONTROLLER
        }
        rules = []
        ingresses = self.client.list("ingresses")
        for ing in ingresses:
            cls = ing["spec"].get("ingressClassName") or (
                ing["metadata"].get("annotations") or {}
            ).get("kubernetes.io/ingress.class")
            if cls and cls not in classes:
                continue
            ns = ing["metadata"]["namespace"]
            default = ing["spec"].get("defaultBackend")
            for rule in ing["spec"].get("rules") or []:
                for path in (rule.get("http") or {}).get("paths") or []:
                    rules.append(
                        (
                            rule.get("host", ""),
                            path.get("pathType", "Prefix"),
                            path.get("path", "/"),
                            path["backend"],
                            ns,
                        )
                    )
            if default:
                rules.append(("", "Prefix", "/", default, ns))
        self.rules = rules
        self.services = {
            (s["metadata"]["namespace"], s["metadata"]["name"]): s
            for s in self.client.list("services")
        }
        self.pods = [p for p in self.client.list("pods") if pod_ready(p)]
        self._publish(ingresses, classes)

    def _publish(self, ingresses: list[Obj], classes: set[str]) -> None:
        svc = self.services.get(("kube-system", "traefik")) or {}
        lb = (svc.get("status", {}).get("loadBalancer") or {}).get("ingress")
        for ing in ingresses:
            cls = ing["spec"].get("ingressClassName")
            if cls and cls not in classes:
                continue
            if lb and (ing.get("status", {}).get("loadBalancer") or {}).get("ingress") != lb:
                self.client.patch(
                    "ingresses",
                    ing["metadata"]["name"],
                    {"status": {"loadBalancer": {"ingress": lb}}},
                    namespace=ing["metadata"]["namespace"],
                    sub="status",
                )

    def match(self, host: str, path: str) -> tuple[Obj, str] | None:
        host = host.split(":", 1)[0].lower()
        best: tuple[int, Obj, str] | None = None
        for rule_host, kind, rule_path, backend, ns in self.rules:
            if rule_host and not (
                rule_host == host
                or (
                    rule_host.startswith("*.")
                    and host.endswith(rule_host[1:])
                    and host.count(".") == rule_host.count(".")
                )
            ):
                continue
            if kind == "Exact":
                ok = path == rule_path
            else:
                prefix = rule_path.rstrip("/")
                ok = not prefix or path == prefix or path.startswith(prefix + "/")
            if ok:
                score = (
                    len(rule_path) * 2
                    + (1 if kind == "Exact" else 0)
                    + (10_000 if rule_host else 0)
                )
                if best is None or score > best[0]:
                    best = (score, backend, ns)
        return (best[1], best[2]) if best else None

    def endpoint(self, backend: Obj, ns: str) -> tuple[str, int] | None:
        ref = backend.get("service") or {}
        svc = self.services.get((ns, ref.get("name", "")))
        if svc is None:
            return None
        want = ref.get("port") or {}
        sport = next(
            (
                p
                for p in svc["spec"].get("ports") or []
                if p["port"] == want.get("number")
                or (want.get("name") and p.get("name") == want.get("name"))
            ),
            None,
        )
        if sport is None:
            return None
        targets = []
        for pod in self.pods:
            if pod["metadata"]["namespace"] == ns and service_matches(
                svc["spec"].get("selector"), pod["metadata"].get("labels")
            ):
                port = target_port(sport, pod)
                ips = pod_ips(pod)
                if port and ips:
                    targets.append((ips[0], port))
        if not targets:
            return None
        return targets[next(self._rr) % len(targets)]


def handler(routes: Routes) -> type[BaseHTTPRequestHandler]:
    class Proxy(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "traefik"

        def log_message(self, format: str, *args: Any) -> None:
            log.info("%s %s", self.address_string(), format % args)

        def _plain(self, code: int, text: str) -> None:
            body = text.encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _proxy(self) -> None:
            path = self.path.split("?", 1)[0]
            found = routes.match(self.headers.get("Host", ""), path)
            if found is None:
                return self._plain(404, "404 page not found\n")
            target = routes.endpoint(*found)
            if target is None:
                return self._plain(503, "no available server\n")
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
            headers["Host"] = self.headers.get("Host", "")
            headers["X-Forwarded-For"] = self.client_address[0]
            conn = http.client.HTTPConnection(*target, timeout=30)
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
            except OSError as err:
                return self._plain(502, f"Bad Gateway: {err}\n")
            finally:
                conn.close()
            self.send_response(resp.status, resp.reason)
            for key, value in resp.getheaders():
                if key.lower() not in HOP_HEADERS and key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            return None

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _proxy

    return Proxy


class DualStackServer(ThreadingHTTPServer):
    daemon_threads = True
    address_family = socket.AF_INET6

    def server_bind(self) -> None:
        # One socket for both families where the pod has IPv6; IPv4-only falls back below.
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def serve(port: int, routes: Routes) -> ThreadingHTTPServer:
    address = env.listen_address()
    if address:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        server_cls = type(
            "Server", (ThreadingHTTPServer,), {"address_family": family, "daemon_threads": True}
        )
        server = server_cls((address, port), handler(routes))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server
    try:
        server: ThreadingHTTPServer = DualStackServer(("::", port), handler(routes))
    except OSError:
        server = ThreadingHTTPServer(("0.0.0.0", port), handler(routes))
        server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="k8s_standin.node.ingress")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--tls-port",
        type=int,
        default=0,
        help="accepted for parity with Traefik's websecure entrypoint; "
        "served as plain HTTP by the stand-in",
    )
    parser.add_argument("--resync", type=float, default=10.0)
    args = parser.parse_args(argv)
    routes = Routes(from_env("traefik"))
    routes.refresh()
    serve(args.port, routes)
    if args.tls_port:
        serve(args.tls_port, routes)
    log.info("routing ingresses on port %d", args.port)
    run_on_changes(
        routes.client,
        ("ingresses", "ingressclasses", "services", "pods"),
        routes.refresh,
        args.resync,
        "traefik",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
