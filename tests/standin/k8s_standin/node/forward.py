"""TCP forwarder, the process inside ServiceLB (svclb) pods.

klipper-lb's entry script reads SRC_PORT, DEST_PROTO, DEST_PORT and DEST_IPS (the
Service's ClusterIPs) once at start, DNATs the hostPort to them and never talks to
the API again, so a control-plane restart cannot disturb it. With pod networking
(netns mode) this process does the same in userspace: it relays each connection to
DEST_IPS:DEST_PORT of the connection's family, and kube-proxy's rules pick the
endpoint. In host mode ClusterIPs do not exist, so it keeps a list of the Service's
ready endpoints, refreshed from the API in the background like an informer cache:
an unreachable API leaves the last list in place instead of emptying it.

Run: python3 -m k8s_standin.node.forward --listen PORT --service NS/NAME --port SVCPORT
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import logging
import os
import socket
import threading
import time

from . import env
from .client import Client
from .endpoints import pod_ips, target_port
from .podclient import from_env

log = logging.getLogger("svclb")


class ClusterIPs:
    """klipper-lb: DEST_IPS:DEST_PORT, fixed at start; no API involved."""

    def __init__(self, ips: list[str], port: int) -> None:
        self.ips, self.port = ips, port

    def pick(self, v6: bool = False) -> tuple[str, int] | None:
        same = [ip for ip in self.ips if (":" in ip) == v6]
        return ((same or self.ips)[0], self.port) if self.ips else None


class Backends:
    """Ready endpoints of one Service port (host mode), refreshed about once a second
    off the connection path; a failed refresh keeps the last list."""

    def __init__(self, client: Client, namespace: str, name: str, port: int) -> None:
        self.client, self.namespace, self.name, self.port = client, namespace, name, port
        self._cache: list[tuple[str, int]] = []
        self._rr = itertools.count()
        self._lock = threading.Lock()
        self._first = threading.Event()

    def start(self, period: float = 1.0) -> Backends:
        def loop() -> None:
            while True:
                self.refresh()
                time.sleep(period)

        threading.Thread(target=loop, daemon=True, name="svclb-backends").start()
        return self

    def refresh(self) -> None:
        try:
            found = self._lookup()
        except Exception as err:  # API down or restarting: keep what we had
            log.info("endpoint refresh failed, keeping %d: %s", len(self._cache), err)
        else:
            with self._lock:
                self._cache = found
        self._first.set()

    def pick(self, v6: bool = False) -> tuple[str, int] | None:
        self._first.wait(5)
        with self._lock:
            cache = list(self._cache)
        if not cache:
            return None
        return cache[next(self._rr) % len(cache)]

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
            ready = any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in pod.get("status", {}).get("conditions") or []
            )
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


def _handle(conn: socket.socket, backends: Backends | ClusterIPs) -> None:
    target = backends.pick(conn.family == socket.AF_INET6)
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
    pairs = (
        [(socket.AF_INET6, "::"), (socket.AF_INET, "0.0.0.0")]
        if not address
        else [(socket.AF_INET6 if ":" in address else socket.AF_INET, address)]
    )
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
    dest_ips = [ip for ip in os.environ.get("DEST_IPS", "").split(",") if ip]
    backends: Backends | ClusterIPs
    if env.pod_network() != "host" and dest_ips:
        backends = ClusterIPs(dest_ips, int(os.environ.get("DEST_PORT") or args.port))
    else:
        backends = Backends(from_env("svclb"), namespace, name, args.port).start()
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
