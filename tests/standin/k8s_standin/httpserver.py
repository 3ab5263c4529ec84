"""A werkzeug HTTPS server that can be taken down and brought back on the same port.

The API-down fault needs "connection refused" for new clients and dead sockets for
existing keep-alive and watch connections, which plain `make_server` cannot do, so
the request handler records its connections.
"""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import ssl
import threading
from typing import Any

from werkzeug.exceptions import InternalServerError
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

    def run_wsgi(self) -> None:
        """werkzeug's run_wsgi with HTTP/1.1 keep-alive.

        werkzeug (2.1 and later) sends `Connection: close` on every response, because
        http.server cannot skip a body the application left unread before the next
        request line. Reading the whole body first (API bodies are small) removes
        that problem, so connections stay open the way clients of a real API server
        expect: one TLS handshake per connection, not per request.
        """
        if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.environ = environ = self.make_environ()
        # The verified client certificate, for the API's x509 authenticator.
        getpeercert = getattr(self.connection, "getpeercert", None)
        environ["standin.peer_cert"] = getpeercert() if getpeercert else None
        if environ.get("wsgi.input_terminated"):  # chunked request body
            body = environ["wsgi.input"].read()
            environ.pop("HTTP_TRANSFER_ENCODING", None)
        else:
            length = environ.get("CONTENT_LENGTH") or "0"
            body = self.rfile.read(int(length)) if length.isdigit() else b""
        environ["wsgi.input"] = io.BytesIO(body)
        environ["wsgi.input_terminated"] = True
        environ["CONTENT_LENGTH"] = str(len(body))
        status: list[str] = []
        headers: list[tuple[str, str]] = []
        sent = False
        chunked = False

        def start_response(code: str, hdrs: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if exc_info and sent:
                raise exc_info[1].with_traceback(exc_info[2])
            status[:] = [code]
            headers[:] = hdrs
            return write

        def write(data: bytes) -> None:
            nonlocal sent, chunked
            if not sent:
                sent = True
                code, _, msg = status[0].partition(" ")
                self.send_response(int(code), msg)
                keys = set()
                for key, value in headers:
                    self.send_header(key, value)  # sets close_connection on "close"
                    keys.add(key.lower())
                if not (
                    "content-length" in keys
                    or self.command == "HEAD"
                    or 100 <= int(code) < 200
                    or int(code) in (204, 304)
                ):
                    if self.request_version == "HTTP/1.1":
                        chunked = True
                        self.send_header("Transfer-Encoding", "chunked")
                    else:  # HTTP/1.0: the end of the body is the end of the connection
                        self.close_connection = True
                if self.close_connection:
                    self.send_header("Connection", "close")
                self.end_headers()
            if data:
                if chunked:
                    self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                else:
                    self.wfile.write(data)
            self.wfile.flush()

        result = None
        try:
            result = self.server.app(environ, start_response)
            takeover = environ.get("standin.takeover")
            if takeover is not None:
                # An upgraded connection (exec, port-forward): the app owns the socket
                # from here, and it is never used for another request.
                self.close_connection = True
                takeover(self.connection)
                return
            for data in result:
                write(data)
            if not sent:
                write(b"")
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
        except (ConnectionError, TimeoutError, ssl.SSLError) as err:
            self.close_connection = True
            self.connection_dropped(err, environ)
        except Exception:
            self.close_connection = True
            if sent:
                log.exception("error while streaming %s %s", self.command, self.path)
            else:
                log.exception("error handling %s %s", self.command, self.path)
                status.clear()
                for data in InternalServerError()(environ, start_response):
                    write(data)
        finally:
            if hasattr(result, "close"):
                result.close()


class _HandshakeInHandler(ssl.SSLContext):
    """Accepted sockets handshake on their first read, in their handler thread.

    The default handshakes inside accept(), on the one thread that accepts every
    connection: a client that connects and never sends its hello then stops the whole
    server, as a real API server never does."""

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:  # type: ignore[override]
        kwargs["do_handshake_on_connect"] = False
        return super().wrap_socket(*args, **kwargs)


class HttpsServer:
    def __init__(
        self, host: str, port: int, app: Any, cert: str, key: str, client_ca: str | None = None
    ) -> None:
        self.host, self.port, self.app = host, port, app
        self.ssl = _HandshakeInHandler(ssl.PROTOCOL_TLS_SERVER)
        self.ssl.load_cert_chain(cert, key)
        if client_ca:
            # --client-ca-file: a certificate is asked for, not required (tokens and
            # anonymous requests come without one); one that is sent must verify.
            self.ssl.load_verify_locations(client_ca)
            self.ssl.verify_mode = ssl.CERT_OPTIONAL
        self.ssl.set_alpn_protocols(["http/1.1"])
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

        # A subclass per server so each one tracks only its own connections.
        class Handler(_Handler):
            connections: set[socket.socket] = set()  # noqa: RUF012
            lock = threading.Lock()
            # HTTP/1.1: chunked streaming for watches, and keep-alive (run_wsgi).
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
        self._thread = threading.Thread(
            target=self._server.serve_forever, daemon=True, name="https"
        )
        self._thread.start()

    def _make(self, host: str) -> BaseWSGIServer:
        try:
            return make_server(
                host,
                self.port,
                self.app,
                threaded=True,
                request_handler=self._handler,
                ssl_context=self.ssl,
            )
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
