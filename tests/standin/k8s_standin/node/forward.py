"""TCP forwarder, the process inside ServiceLB (svclb) pods.

klipper-lb DNATs a node's hostPort to the Service; this process listens on the
port and relays each connection to a ready endpoint of the Service, looked up
from the API, so it works with or without kube-proxy rules.

Run: python3 -m k8s_standin.node.forward --listen PORT --service NS/NAME --port SVCPORT
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import logging
import socket
import threading
import time

from . import env
from .client import Client
from .endpoints import pod_ips, target_port
from .podclient import from_env

log = logging.getLogger("svclb")


class Backends:
    """Ready endpoints of one Service port, refreshed at most once a second."""

    def __init__(self, client: Client, namespace: str, name: str, port: int) -> None:
        self.client, self.namespace, self.name, self.port = client, namespace, name, port
        self._cache: list[tuple[str, int]] = []
        self._at = 0.0
        self._rr = itertools.count()

    def pick(self) -> tuple[str, int] | None:
        if time.monotonic() - self._at > 1.0:
            self._cache = self._lookup()
            self._at = time.monotonic()
        if not self._cache:
            return None
        return self._cache[next(self._rr) % len(self._cache)]

    def _lookup(self) -> list[tuple[str, int]]:
        svc = self.client.get_or_none("services", self.name, self.namespace)
        if svc is None:
            return []
        sport = next((p for p in svc["spec"].get("ports") or [] if p["port"] == self.port), None)
        if sport is None:
            return []
        out = []
        selector = svc["spec"].get("selector") or {}
        for pod in self.client.list("pods", self.namespace):
            labels = pod["metadata"].get("labels") or {}
            ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                        for c in pod.get("status", {}).get("conditions") or [])
            if selector and all(labels.get(k) == v for k, v in selector.items()) and ready:
                port = target_port(sport, pod)
                out += [(ip, port) for ip in pod_ips(pod)[:1] if port]
        return out


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := src.recv(65536):
            dst.sendall(data)
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


def _handle(conn: socket.socket, backends: Backends) -> None:
    target = backends.pick()
    if target is None:
        conn.close()
        return
    try:
        upstream = socket.create_connection(target, timeout=5)
    except OSError as err:
        log.warning("connect %s: %s", target, err)
        conn.close()
        return
    upstream.settimeout(None)
    back = threading.Thread(target=_pipe, args=(upstream, conn), daemon=True)
    back.start()
    _pipe(conn, upstream)
    back.join()
    conn.close()
    upstream.close()


def listen(port: int, address: str | None = None) -> list[socket.socket]:
    socks = []
    pairs = [(socket.AF_INET6, "::"), (socket.AF_INET, "0.0.0.0")] if not address else \
        [(socket.AF_INET6 if ":" in address else socket.AF_INET, address)]
    for family, addr in pairs:
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((addr, port))
            sock.listen(64)
            socks.append(sock)
        except OSError as err:
            log.info("not listening on [%s]:%d: %s", addr, port, err)
    return socks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="k8s_standin.node.forward")
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--service", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    namespace, name = args.service.split("/", 1)
    backends = Backends(from_env("svclb"), namespace, name, args.port)
    socks = listen(args.listen, env.listen_address())
    if not socks:
        return 1
    log.info("forwarding :%d to service %s port %d", args.listen, args.service, args.port)

    def accept(sock: socket.socket) -> None:
        while True:
            conn, _ = sock.accept()
            threading.Thread(target=_handle, args=(conn, backends), daemon=True).start()

    threads = [threading.Thread(target=accept, args=(s,), daemon=True) for s in socks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
