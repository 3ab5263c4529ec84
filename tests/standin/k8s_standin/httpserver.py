"""A werkzeug HTTPS server that can be taken down and brought back on the same port.

The API-down fault needs "connection refused" for new clients and dead sockets for
existing keep-alive and watch connections, which plain `make_server` cannot do, so
the request handler records its connections.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

log = logging.getLogger("k8s_standin.http")


class _Handler(WSGIRequestHandler):
    connections: set[socket.socket]
    lock: threading.Lock

    def setup(self) -> None:
        super().setup()
        with self.lock:
            self.connections.add(self.connection)

    def finish(self) -> None:
        with self.lock:
            self.connections.discard(self.connection)
        super().finish()

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass  # one line per request drowns the k3s-style log that tests read


class HttpsServer:
    def __init__(self, host: str, port: int, app: Any, cert: str, key: str) -> None:
        self.host, self.port, self.app = host, port, app
        self.ssl = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ssl.load_cert_chain(cert, key)
        self.ssl.set_alpn_protocols(["http/1.1"])
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        # A subclass per server so each one tracks only its own connections.
        class Handler(_Handler):
            connections: set[socket.socket] = set()  # noqa: RUF012
            lock = threading.Lock()
            # HTTP/1.1 enables chunked streaming for watches, and keep-alive.
            protocol_version = "HTTP/1.1"

        self._handler = Handler

    def start(self) -> None:
        self._server = None
        if self.host == "0.0.0.0" and socket.has_ipv6:
            # Like the real API server, listen on both families where the kernel allows:
            # a dual-stack "::" socket also accepts IPv4 (v4-mapped addresses).
            try:
                self._server = self._make("::")
            except OSError as exc:
                log.debug("no IPv6 listener (%s); IPv4 only", exc)
        if self._server is None:
            self._server = self._make(self.host)
        # Handler threads must not hold up exit (ThreadingMixIn joins non-daemons).
        self._server.daemon_threads = True  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="https")
        self._thread.start()

    def _make(self, host: str) -> BaseWSGIServer:
        try:
            return make_server(host, self.port, self.app, threaded=True,
                               request_handler=self._handler, ssl_context=self.ssl)
        except SystemExit:
            # werkzeug prints a hint and exits when the port is taken; callers need an
            # exception they can handle (the API-down fault restarts in a thread).
            raise OSError(f"cannot listen on {host}:{self.port}") from None

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._handler.lock:
            live = list(self._handler.connections)
        for conn in live:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
