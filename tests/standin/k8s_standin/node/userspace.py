"""Userspace service proxy, for nodes where iptables cannot program the nat table.

The fallback kube-proxy mode the brief of the stand-in asks for: every ClusterIP is
added to `lo` as a /32 (/128) so it is a local address of the node (what IPVS
mode does with its dummy interface; this kernel has no dummy driver), and a
listener per ClusterIP:port relays TCP connections and UDP datagrams to a ready
endpoint, round-robin. NodePorts listen on all addresses.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import subprocess
import threading
import time

from .util import log

Key = tuple[str, int, str]  # (address, port, "tcp"|"udp")
Backend = tuple[str, int]
UDP_IDLE_SECONDS = 30.0


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := src.recv(65536):
            dst.sendall(data)
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


class Listener:
    def __init__(self, key: Key) -> None:
        self.key = key
        address, port, proto = key
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
        self.sock = socket.socket(family, kind)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((address, port))
        if proto == "tcp":
            self.sock.listen(128)
        self.backends: list[Backend] = []
        self._rr = itertools.count()
        self._sessions: dict[tuple[str, int], tuple[socket.socket, list[float]]] = {}
        self.closed = False
        target = self._accept if proto == "tcp" else self._datagrams
        threading.Thread(target=target, daemon=True, name=f"proxy {key}").start()

    def pick(self) -> Backend | None:
        backends = self.backends
        return backends[next(self._rr) % len(backends)] if backends else None

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(OSError):
            self.sock.close()

    def _accept(self) -> None:
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(conn,), daemon=True).start()

    def _relay(self, conn: socket.socket) -> None:
        backend = self.pick()
        if backend is None:
            conn.close()  # no endpoints: refuse, as kube-proxy's REJECT does
            return
        try:
            upstream = socket.create_connection(backend, timeout=5)
        except OSError:
            conn.close()
            return
        upstream.settimeout(None)
        back = threading.Thread(target=_pipe, args=(upstream, conn), daemon=True)
        back.start()
        _pipe(conn, upstream)
        back.join()
        conn.close()
        upstream.close()

    def _datagrams(self) -> None:
        while not self.closed:
            try:
                data, client = self.sock.recvfrom(65536)
            except OSError:
                return
            session = self._sessions.get(client[:2])
            if session is None:
                backend = self.pick()
                if backend is None:
                    continue
                family = socket.AF_INET6 if ":" in backend[0] else socket.AF_INET
                upstream = socket.socket(family, socket.SOCK_DGRAM)
                upstream.connect(backend)
                session = (upstream, [time.monotonic()])
                self._sessions[client[:2]] = session
                threading.Thread(target=self._replies, args=(client, session), daemon=True).start()
            session[1][0] = time.monotonic()
            with contextlib.suppress(OSError):
                session[0].send(data)

    def _replies(self, client: tuple[str, int], session: tuple[socket.socket, list[float]]) -> None:
        upstream, seen = session
        upstream.settimeout(5)
        while not self.closed and time.monotonic() - seen[0] < UDP_IDLE_SECONDS:
            try:
                data = upstream.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            with contextlib.suppress(OSError):
                self.sock.sendto(data, client)
        self._sessions.pop(client[:2], None)
        upstream.close()


class UserspaceProxy:
    def __init__(self) -> None:
        self.listeners: dict[Key, Listener] = {}
        self.addresses: set[str] = set()

    def sync(self, wanted: dict[Key, list[Backend]], cluster_ips: set[str]) -> None:
        for ip in cluster_ips - self.addresses:
            prefix = 128 if ":" in ip else 32
            subprocess.run(
                ["ip", "addr", "replace", f"{ip}/{prefix}", "dev", "lo"],
                capture_output=True,
                check=False,
            )
            self.addresses.add(ip)
        for ip in self.addresses - cluster_ips:
            prefix = 128 if ":" in ip else 32
            subprocess.run(
                ["ip", "addr", "del", f"{ip}/{prefix}", "dev", "lo"],
                capture_output=True,
                check=False,
            )
            self.addresses.discard(ip)
        for key in set(self.listeners) - set(wanted):
            self.listeners.pop(key).close()
        for key, backends in wanted.items():
            listener = self.listeners.get(key)
            if listener is None:
                try:
                    listener = self.listeners[key] = Listener(key)
                except OSError as err:
                    log.warning("userspace proxy cannot listen on %s: %s", key, err)
                    continue
            listener.backends = backends
