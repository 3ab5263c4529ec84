"""Reaching into pods: exec, attach and port-forward over WebSocket, and port-forward over
SPDY/3.1 as kubectl speaks it.

What a kubelet's streaming server speaks (k8s.io/kubelet pkg/kubelet/cri/streaming,
k8s.io/apimachinery pkg/util/httpstream/wsstream and pkg/util/remotecommand):

- exec: the channel protocols ``v5.channel.k8s.io`` and ``v4.channel.k8s.io`` (client-go's
  websocket executor and the kubernetes Python client offer both, v5 first). Every
  WebSocket message starts with its channel: 0 stdin, 1 stdout, 2 stderr, 3 error (a
  metav1.Status once the command ended: Success, or Failure with reason NonZeroExitCode
  and the exit code in ``details.causes``, type ExitCode), 4 resize (``{"Width": w,
  "Height": h}``). v5 adds channel 255: ``[255, n]`` from the client closes stream n,
  how `kubectl exec -i` and `kubectl cp` end stdin.
- attach: the same channel protocols and channels as exec, joined to the container's own
  stdio (held by its shim on the node) instead of a new process. The terminal is the
  container's ``tty`` setting; once the attachment ends (the container stopped, or the
  client's stdin ended where that detaches it) channel 3 carries a Success Status, as
  the kubelet's ServeAttach writes (pkg/kubelet/cri/streaming/remotecommand/attach.go
  at kubernetes commit 05c351a9037b).
- port-forward: ``v4.channel.k8s.io`` (or no protocol) with the ports in the query; port i
  has data channel 2i and error channel 2i+1, and the first message on each carries the
  port as two little-endian bytes (portforward/websocket.go). One TCP connection to the
  pod per port and WebSocket, made on localhost inside the pod's network namespace.
- port-forward over SPDY/3.1 (spdy.py), the way kubectl 1.31+ asks for it: a WebSocket
  with the protocol ``SPDY/3.1+portforward.k8s.io`` whose binary messages carry the SPDY
  byte stream (KEP-4006; apiserver pkg/util/proxy/streamtunnel.go), or, when that is
  refused, ``Upgrade: SPDY/3.1`` with ``X-Stream-Protocol-Version: portforward.k8s.io``
  (apimachinery httpstream.Handshake and spdy.NewResponseUpgrader). The ports are named
  per stream, not in the query.

- exec and attach over SPDY/3.1 (spdy.RemoteCommandSession), kubectl's way when its
  WebSocket upgrade fails: ``Upgrade: SPDY/3.1`` with ``X-Stream-Protocol-Version:
  v4.channel.k8s.io``; one stream per stdio named by its ``streamtype`` header, the
  error stream carrying the same Status as channel 3, the resize stream a run of JSON
  TerminalSize objects, and stdin ended by its FIN.

The WebSocket framing is wsproto's (sans-IO, so the server keeps its own sockets); the
handshake answer is computed here because werkzeug has already parsed the request.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import logging
import os
import pty
import select
import signal
import socket
import ssl
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Request, Response
from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Message, Ping, TextMessage
from wsproto.utilities import generate_accept_token

from . import spdy
from .errors import ApiError
from .faults import Faults

log = logging.getLogger("k8s_standin.streaming")
Obj = dict[str, Any]

CHANNEL_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
PORT_FORWARD_PROTOCOLS = ("v4.channel.k8s.io", "")
#: The one SPDY port-forward protocol (portforward.ProtocolV1Name), and its name when
#: tunnelled through WebSocket (k8s.io/apimachinery pkg/util/portforward's
#: WebsocketsSPDYTunnelingPrefix "SPDY/3.1+").
SPDY_PORT_FORWARD = "portforward.k8s.io"
SPDY_TUNNEL_PROTOCOL = "SPDY/3.1+" + SPDY_PORT_FORWARD
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
#: exec and attach over SPDY: the stream protocol, and its streams by the channel each
#: stands for here (k8s.io/api/core/v1 StreamType* constants).
SPDY_CHANNEL_PROTOCOL = "v4.channel.k8s.io"
SPDY_CHANNELS = {
    "stdin": STDIN,
    "stdout": STDOUT,
    "stderr": STDERR,
    "error": ERROR,
    "resize": RESIZE,
}
#: How long the kubelet waits for a SPDY client's streams (remotecommand
#: DefaultStreamCreationTimeout).
STREAM_CREATION_TIMEOUT_S = 30.0
CLONE_NEWNET = 0x40000000
#: environ key: a callable that takes over the connection once the app returned
#: (httpserver.py calls it with the socket instead of writing a response).
TAKEOVER = "standin.takeover"


class StreamError(Exception):
    """The container cannot be reached (not running, no such container)."""


@dataclass
class ExecSpec:
    argv: list[str]
    env: dict[str, str]
    cwd: str | None = None


class Attachment(Protocol):
    """A running container's stdio, as the node's runtime lends it to one client."""

    tty: bool

    def fileno(self) -> int: ...

    def read(self) -> list[tuple[int, bytes]] | None:
        """(channel, data) of the container's output; None once it ended."""

    def write_stdin(self, data: bytes) -> None: ...

    def close_stdin(self) -> None: ...

    def resize(self, width: int, height: int) -> None: ...

    def close(self) -> None: ...


class Channels(Protocol):
    """Numbered channels to one client: a WebSocket's, or a SPDY session's streams
    (spdy.RemoteCommandSession) under the same numbers."""

    closed: bool

    def fileno(self) -> int: ...

    def pending(self) -> bool:
        """Whether something is there to receive before the socket says so."""

    def receive(self) -> Iterator[bytes]:
        """Whole messages, each its channel byte first; closed is set once the client
        has gone."""

    def send(self, channel: int, data: bytes = b"") -> None: ...

    def close(self) -> None: ...


class Runtime(Protocol):
    """The node side: how to run a command in a container, how to attach to it and
    where its network is."""

    def exec_spec(self, pod: Obj, container: str, command: list[str]) -> ExecSpec: ...

    def attach(self, pod: Obj, container: str, stdin: bool) -> Attachment: ...

    def netns(self, pod: Obj) -> str | None: ...


_LOCAL: dict[str, Runtime] = {}


def register(node_name: str, runtime: Runtime) -> None:
    """The API server's own node: its streams are served in this process."""
    _LOCAL[node_name] = runtime


def local(node_name: str) -> Runtime | None:
    return _LOCAL.get(node_name)


# -- options ------------------------------------------------------------------------
_TRUE = ("1", "t", "T", "true", "TRUE", "True")  # strconv.ParseBool


@dataclass
class Options:
    kind: str  # "exec", "attach", "portforward"
    container: str = ""
    command: list[str] = field(default_factory=list)
    stdin: bool = False
    stdout: bool = False
    stderr: bool = False
    tty: bool = False
    ports: list[int] = field(default_factory=list)

    @classmethod
    def from_api(cls, kind: str, args: MultiDict[str, str], pod: Obj) -> Options:
        """PodExecOptions / PodAttachOptions / PodPortForwardOptions from the API query,
        checked as the pods REST storage and ValidatePodExecOptions do."""
        if kind == "portforward":
            # Optional here: SPDY clients name the ports in their streams' headers.
            return cls(kind, ports=_ports(args.getlist("ports"), "ports", required=False))
        opts = cls(
            kind,
            container=args.get("container", ""),
            command=args.getlist("command"),
            stdin=args.get("stdin", "") in _TRUE,
            stdout=args.get("stdout", "") in _TRUE,
            stderr=args.get("stderr", "") in _TRUE,
            tty=args.get("tty", "") in _TRUE,
        )
        opts.container = container_of(pod, opts.container)
        if not (opts.stdin or opts.stdout or opts.stderr):
            raise ApiError("BadRequest", "you must specify at least 1 of stdin, stdout, stderr")
        if kind == "exec" and not opts.command:
            raise ApiError("BadRequest", "you must specify at least one command for the container")
        return opts

    @classmethod
    def from_kubelet(cls, kind: str, args: MultiDict[str, str], container: str) -> Options:
        """The kubelet's query (remotecommand.NewOptions, portforward.NewV4Options)."""
        if kind == "portforward":
            return cls(kind, ports=_ports(args.getlist("port"), "port", required=False))
        return cls(
            kind,
            container=container,
            command=args.getlist("command"),
            stdin=args.get("input", "") in _TRUE,
            stdout=args.get("output", "") in _TRUE,
            stderr=args.get("error", "") in _TRUE,
            tty=args.get("tty", "") in _TRUE,
        )

    def kubelet_path(self, ns: str, name: str) -> str:
        """Where the API server asks the kubelet (streamLocation, streamParams)."""
        from urllib.parse import quote, urlencode

        if self.kind == "portforward":
            query = urlencode([("port", str(p)) for p in self.ports])
            return f"/portForward/{quote(ns)}/{quote(name)}?{query}"
        params = [("command", c) for c in self.command]
        for key, on in (
            ("input", self.stdin),
            ("output", self.stdout),
            ("error", self.stderr),
            ("tty", self.tty),
        ):
            if on:
                params.append((key, "1"))
        return f"/{self.kind}/{quote(ns)}/{quote(name)}/{quote(self.container)}?{urlencode(params)}"


def _ports(values: list[str], name: str, required: bool = True) -> list[int]:
    ports: list[int] = []
    for value in values:
        for part in value.split(","):
            try:
                port = int(part.strip())
            except ValueError:
                raise ApiError("BadRequest", f"unable to parse {name} {part!r}") from None
            if not 0 < port < 65536:
                raise ApiError("BadRequest", f"port {port} must be > 0 and < 65536")
            ports.append(port)
    if not ports and required:
        raise ApiError("BadRequest", f'query parameter "{name}" is required')
    return ports


def container_of(pod: Obj, name: str) -> str:
    containers = [c["name"] for c in pod.get("spec", {}).get("containers") or []]
    pod_name = pod["metadata"]["name"]
    if not name:
        if len(containers) == 1:
            return containers[0]
        raise ApiError(
            "BadRequest",
            f"a container name must be specified for pod {pod_name}, choose one of: "
            f"[{' '.join(containers)}]",
        )
    if name not in containers:
        raise ApiError("BadRequest", f"container {name} is not valid for pod {pod_name}")
    return str(name)


def check_running(pod: Obj, kind: str) -> None:
    """pods/exec and pods/attach on a finished pod (pod.go streamLocation)."""
    phase = pod.get("status", {}).get("phase", "")
    if phase in ("Succeeded", "Failed"):
        verb = {"exec": "exec into", "attach": "attach to"}.get(kind, "forward to")
        raise ApiError(
            "BadRequest",
            f"cannot {verb} a container in a completed pod; current phase is {phase}",
        )


# -- serving ------------------------------------------------------------------------
def _text(code: int, message: str) -> Response:
    return Response(message + "\n", code, mimetype="text/plain")


def serve(request: Request, pod: Obj, opts: Options, runtime: Runtime) -> Response:
    """Answer a streaming request for ``pod`` on this node: the WebSocket (or, for
    port-forward, SPDY) handshake, then the session on the taken-over connection."""
    if Faults.from_env().no_streaming:
        # A kubelet whose runtime has no streaming server: the upgrade fails.
        return _text(400, "unable to upgrade connection: streaming server not available")
    upgrade = request.headers.get("Upgrade", "").lower()
    if "spdy/3.1" in upgrade:
        if opts.kind == "portforward":
            return _serve_spdy(request, pod, runtime)
        return _serve_spdy_remote(request, pod, opts, runtime)
    if upgrade != "websocket":
        return _text(400, "Upgrade request required")
    offered = _header_values(request, "Sec-WebSocket-Protocol") or [""]
    if opts.kind == "portforward" and SPDY_TUNNEL_PROTOCOL in offered:
        # kubectl's SPDY-over-WebSocket (KEP-4006): taken before the channel protocols,
        # as the API server's tunnelling handler is.
        return _serve_tunnel(request, pod, runtime)
    allowed = PORT_FORWARD_PROTOCOLS if opts.kind == "portforward" else CHANNEL_PROTOCOLS
    # wsstream handshake: the first of the client's protocols the server supports.
    protocol = next((p for p in offered if p in allowed), None)
    if protocol is None:
        return _text(
            400,
            f"requested protocol(s) are not supported: {offered}; supports {list(allowed)}",
        )
    head = _websocket_head(request, protocol)
    if opts.kind == "portforward":
        if not opts.ports:
            # portforward.NewV4Options: the WebSocket protocol names them in the query.
            return _text(400, 'query parameter "port" is required')
        netns = runtime.netns(pod)

        def session(sock: socket.socket) -> None:
            sock.sendall(head.encode())
            _port_forward(WebSocket(sock), opts.ports, netns)

    elif opts.kind == "attach":
        attachment = _attach_to(runtime, pod, opts)

        def session(sock: socket.socket) -> None:
            try:
                sock.sendall(head.encode())
            except OSError:
                attachment.close()
                return
            _attach(WebSocket(sock), attachment, opts, half_close=protocol.startswith("v5."))

    else:
        spec = runtime.exec_spec(pod, opts.container, opts.command)

        def session(sock: socket.socket) -> None:
            sock.sendall(head.encode())
            _exec(WebSocket(sock), spec, opts, half_close=protocol.startswith("v5."))

    request.environ[TAKEOVER] = session
    return Response(b"", 101)


def _attach_to(runtime: Runtime, pod: Obj, opts: Options) -> Attachment:
    """The container's stdio for an attach; its own tty setting decides, and with a
    terminal there is no stderr stream (remotecommand NewOptions bypasses it)."""
    attachment = runtime.attach(pod, opts.container, opts.stdin)
    opts.tty = attachment.tty
    opts.stderr = opts.stderr and not opts.tty
    return attachment


def _header_values(request: Request, name: str) -> list[str]:
    """The comma-separated values of a header, in the client's order of preference."""
    return [v.strip() for v in request.headers.get(name, "").split(",") if v.strip()]


def _websocket_head(request: Request, protocol: str) -> str:
    key = request.headers.get("Sec-WebSocket-Key", "")
    return (
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {generate_accept_token(key.encode()).decode()}\r\n"
        + (f"Sec-WebSocket-Protocol: {protocol}\r\n" if protocol else "")
        + "\r\n"
    )


def _port_forward_session(
    transport: spdy.Transport, pod: Obj, runtime: Runtime
) -> spdy.PortForwardSession:
    netns = runtime.netns(pod)
    meta = pod["metadata"]

    def describe(port: int, err: Exception) -> str:
        # httpStreamHandler.portForward's message.
        uid = meta.get("uid", "")
        return f"error forwarding port {port} to pod {meta['name']}, uid {uid}: {err}"

    return spdy.PortForwardSession(transport, lambda port: connect_in(netns, port), describe)


def _spdy_upgrade(request: Request, protocol: str) -> Response | str:
    """``Upgrade: SPDY/3.1``: httpstream.Handshake on X-Stream-Protocol-Version, with
    ``protocol`` the one this server accepts; the refusal, or the head of
    spdy.NewResponseUpgrader's 101 (apimachinery pkg/util/httpstream/httpstream.go at
    commit 04791b490660, httpstream/spdy/upgrade.go at 4a0608cb77f6)."""
    if "upgrade" not in request.headers.get("Connection", "").lower():
        return _text(400, "unable to upgrade: missing upgrade headers in request")
    offered = _header_values(request, "X-Stream-Protocol-Version")
    if not offered:
        return _text(400, "unable to upgrade: X-Stream-Protocol-Version is required")
    if protocol not in offered:
        response = _text(
            403,
            f"unable to upgrade: unable to negotiate protocol: client supports "
            f"[{' '.join(offered)}], server accepts [{protocol}]",
        )
        response.headers["X-Accepted-Stream-Protocol-Versions"] = protocol
        return response
    return (
        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
        f"X-Stream-Protocol-Version: {protocol}\r\n\r\n"
    )


def _serve_spdy(request: Request, pod: Obj, runtime: Runtime) -> Response:
    """Port-forward over plain SPDY/3.1."""
    head = _spdy_upgrade(request, SPDY_PORT_FORWARD)
    if isinstance(head, Response):
        return head

    def session(sock: socket.socket) -> None:
        sock.sendall(head.encode())
        _port_forward_session(spdy.SocketTransport(sock), pod, runtime).run()

    request.environ[TAKEOVER] = session
    return Response(b"", 101)


def _serve_spdy_remote(request: Request, pod: Obj, opts: Options, runtime: Runtime) -> Response:
    """exec and attach over SPDY/3.1, how kubectl speaks them when its WebSocket upgrade
    fails (or KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false): stream protocol v4, the newest the
    kubelet's SPDY side knows (remotecommand SupportedStreamingProtocols)."""
    head = _spdy_upgrade(request, SPDY_CHANNEL_PROTOCOL)
    if isinstance(head, Response):
        return head
    # The streams the client opens for what it asked (client-go's v4 streamer: no
    # stderr stream with a terminal, a resize stream with one), and the error stream.
    asked = {"error": True, "stdin": opts.stdin, "stdout": opts.stdout}
    asked |= {"stderr": opts.stderr and not opts.tty, "resize": opts.tty}
    wanted = {kind for kind, on in asked.items() if on}
    if opts.kind == "attach":
        attachment = _attach_to(runtime, pod, opts)

        def serve_streams(channels: spdy.RemoteCommandSession) -> None:
            _attach(channels, attachment, opts, half_close=True)

        def give_up() -> None:
            attachment.close()

    else:
        spec = runtime.exec_spec(pod, opts.container, opts.command)

        def serve_streams(channels: spdy.RemoteCommandSession) -> None:
            _exec(channels, spec, opts, half_close=True)

        def give_up() -> None:
            pass

    def session(sock: socket.socket) -> None:
        channels = spdy.RemoteCommandSession(spdy.SocketTransport(sock), SPDY_CHANNELS, CLOSE)
        try:
            sock.sendall(head.encode())
            ready = channels.wait_for_streams(wanted, STREAM_CREATION_TIMEOUT_S)
        except (OSError, spdy.ProtocolError) as err:
            log.info("%s over SPDY ended before it began: %s", opts.kind, err)
            ready = False
        if not ready:
            log.info("%s over SPDY: the client did not create its streams", opts.kind)
            give_up()
            channels.close(linger=0)
            return
        serve_streams(channels)

    request.environ[TAKEOVER] = session
    return Response(b"", 101)


def _serve_tunnel(request: Request, pod: Obj, runtime: Runtime) -> Response:
    """SPDY tunnelled through WebSocket: the SPDY bytes travel as the payload of binary
    messages, with no channel byte (client-go tools/portforward/tunneling_connection.go
    at commit 2bb08438fd2b); the handshake answers the tunnelling protocol
    (apiserver pkg/util/proxy/streamtunnel.go at commit 2443b3fa6944)."""
    head = _websocket_head(request, SPDY_TUNNEL_PROTOCOL)

    def session(sock: socket.socket) -> None:
        sock.sendall(head.encode())
        _port_forward_session(_Tunnel(WebSocket(sock)), pod, runtime).run()

    request.environ[TAKEOVER] = session
    return Response(b"", 101)


class _Tunnel:
    """spdy.Transport over a WebSocket: one binary message per write; messages read are
    joined into the byte stream (a frame may span messages, or a message hold several)."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws

    def fileno(self) -> int:
        return self.ws.sock.fileno()

    def pending(self) -> bool:
        return spdy.tls_pending(self.ws.sock)

    def read(self) -> bytes | None:
        if self.ws.closed:
            return None
        data = b"".join(self.ws.receive())
        return None if not data and self.ws.closed else data

    def write(self, data: bytes) -> None:
        self.ws.send_binary(data)

    def close(self) -> None:
        self.ws.close()


def proxy(request: Request, host: str, port: int, path: str) -> Response:
    """The API server's upgrade-aware proxy to a kubelet (proxy/upgradeaware.go): the
    client's upgrade request goes to the kubelet, and after a 101 the bytes are copied
    both ways; any other answer is the client's answer."""
    context = ssl.create_default_context()
    # Kubelets here serve self-signed certificates (as for pod logs): not verified.
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        raw = socket.create_connection((host, port), timeout=30)
        backend = context.wrap_socket(raw, server_hostname=host)
    except OSError as err:
        raise ApiError(
            "InternalError", f"error dialing backend: dial tcp {host}:{port}: {err}"
        ) from None
    # The method as the client sent it: SPDY upgrades are POSTs, WebSocket ones GETs.
    lines = [f"{request.method} {path} HTTP/1.1", f"Host: {host}:{port}", "Content-Length: 0"]
    for name in (
        "Upgrade",
        "Connection",
        "Sec-WebSocket-Key",
        "Sec-WebSocket-Version",
        "Sec-WebSocket-Protocol",
        "X-Stream-Protocol-Version",
    ):
        if name in request.headers:
            lines.append(f"{name}: {request.headers[name]}")
    backend.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = backend.recv(65536)
        if not chunk:
            backend.close()
            raise ApiError("InternalError", "the kubelet closed the connection")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if status != 101:
        body = rest
        with contextlib.suppress(OSError):
            backend.settimeout(5)
            while chunk := backend.recv(65536):
                body += chunk
        backend.close()
        return Response(body, status, mimetype="text/plain")

    def session(sock: socket.socket) -> None:
        backend.settimeout(None)
        sock.sendall(head + b"\r\n\r\n" + rest)
        _splice(sock, backend)

    request.environ[TAKEOVER] = session
    return Response(b"", 101)


def _readable(socks: list[socket.socket], timeout: float | None) -> list[socket.socket]:
    ready = [s for s in socks if spdy.tls_pending(s)]
    if ready:
        return ready
    readable, _, _ = select.select(socks, [], [], timeout)
    return readable


def _splice(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes both ways until either side ends; one thread owns both sockets."""
    try:
        while True:
            for sock in _readable([a, b], None):
                try:
                    data = sock.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    return
                (b if sock is a else a).sendall(data)
    except OSError:
        return
    finally:
        with contextlib.suppress(OSError):
            b.close()


class WebSocket:
    """The server end of a WebSocket on a taken-over socket, framed by wsproto."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.conn = Connection(ConnectionType.SERVER)
        self.closed = False
        self.eof = False  # the client closed the TCP connection
        self._parts: list[bytes] = []

    def fileno(self) -> int:
        return self.sock.fileno()

    def pending(self) -> bool:
        return spdy.tls_pending(self.sock)

    def send(self, channel: int, data: bytes = b"") -> None:
        self.send_binary(bytes([channel]) + data)

    def send_binary(self, data: bytes) -> None:
        if self.conn.state is ConnectionState.OPEN:
            self.sock.sendall(self.conn.send(BytesMessage(data)))

    def close(self, linger: float = 2.0) -> None:
        """Send the close frame, then wait a little for the client's own: the server
        closes the TCP connection only once both have passed (RFC 6455 section 7.1.1).
        Closing at once can fail the client's reply, and some clients (the Python
        kubernetes client) then raise although the command ended well."""
        if self.conn.state is ConnectionState.OPEN:
            with contextlib.suppress(OSError):
                self.sock.sendall(self.conn.send(CloseConnection(1000)))
        deadline = time.monotonic() + linger
        while self.conn.state is ConnectionState.LOCAL_CLOSING and not self.eof:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not _readable([self.sock], remaining):
                break
            for _ in self.receive():
                pass  # what the client sent after our close frame is dropped
        self.closed = True

    def receive(self) -> Iterator[bytes]:
        """Read what the socket has and yield the complete messages (text frames as
        their UTF-8 bytes: the Python client sends stdin as text unless binary)."""
        try:
            data = self.sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            self.closed = self.eof = True
        self.conn.receive_data(data or None)
        for event in self.conn.events():
            if isinstance(event, Ping):
                with contextlib.suppress(OSError):
                    self.sock.sendall(self.conn.send(event.response()))
            elif isinstance(event, CloseConnection):
                if self.conn.state is ConnectionState.REMOTE_CLOSING:
                    with contextlib.suppress(OSError):
                        self.sock.sendall(self.conn.send(event.response()))
                self.closed = True
            elif isinstance(event, Message):
                part = event.data.encode() if isinstance(event, TextMessage) else event.data
                self._parts.append(part)
                if event.message_finished:
                    message, self._parts = b"".join(self._parts), []
                    if message:
                        yield message


def status_of(code: int, command: list[str]) -> Obj:
    """What the kubelet writes on the error channel when the command ended
    (remotecommand/exec.go ServeExec)."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": (
            "command terminated with non-zero exit code: error executing command "
            f"[{' '.join(command)}], exit code {code}"
        ),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def _exec(ws: Channels, spec: ExecSpec, opts: Options, half_close: bool) -> None:
    """Run the command with its stdio on the client's channels; ``half_close``: the
    client can end stdin alone (WebSocket v5's close message, SPDY's FIN)."""
    master = None
    if opts.tty:
        master, slave = pty.openpty()
        stdio: dict[str, Any] = {"stdin": slave, "stdout": slave, "stderr": slave}

        def controlling_tty() -> None:
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        preexec: Callable[[], None] | None = controlling_tty
    else:
        stdio = {
            "stdin": subprocess.PIPE if opts.stdin else subprocess.DEVNULL,
            "stdout": subprocess.PIPE if opts.stdout else subprocess.DEVNULL,
            "stderr": subprocess.PIPE if opts.stderr else subprocess.DEVNULL,
        }
        preexec = None
    try:
        proc = subprocess.Popen(
            spec.argv,
            env=spec.env,
            cwd=spec.cwd,
            start_new_session=True,
            preexec_fn=preexec,
            **stdio,
        )
    except OSError as err:
        # The runtime's answer for a missing executable: exit code 126/127 territory;
        # containerd reports it as an error on the status channel.
        ws.send(
            ERROR,
            json.dumps(
                {
                    "metadata": {},
                    "status": "Failure",
                    "message": f"failed to exec in container: {err}",
                }
            ).encode(),
        )
        ws.close()
        return
    finally:
        if master is not None:
            os.close(slave)
    outputs: dict[int, int] = {}  # fd -> channel
    stdin_fd: int | None = None
    if master is not None:
        outputs[master] = STDOUT
        stdin_fd = master if opts.stdin else None
    else:
        if proc.stdout is not None:
            outputs[proc.stdout.fileno()] = STDOUT
        if proc.stderr is not None:
            outputs[proc.stderr.fileno()] = STDERR
        stdin_fd = proc.stdin.fileno() if proc.stdin is not None else None
    try:
        while outputs and not ws.closed:
            if ws.pending():
                ready = [ws.fileno()]
            else:
                ready = select.select([ws.fileno(), *outputs], [], [])[0]
            for fd in ready:
                if fd == ws.fileno():
                    for message in ws.receive():
                        stdin_fd = _exec_input(message, proc, stdin_fd, master, half_close)
                    continue
                try:
                    data = os.read(fd, 65536)
                except OSError:  # EIO: the pty's last holder closed it
                    data = b""
                if data:
                    ws.send(outputs[fd], data)
                else:
                    del outputs[fd]
        if ws.closed:
            # The client went away: the exec'd process goes too (containerd kills it).
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        code = proc.wait()
        if code < 0:
            code = 128 - code
        ws.send(ERROR, json.dumps(status_of(code, opts.command)).encode())
    except OSError as err:
        log.info("exec stream ended: %s", err)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if master is not None:
            with contextlib.suppress(OSError):
                os.close(master)
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        ws.close()


def _exec_input(
    message: bytes,
    proc: subprocess.Popen[bytes],
    stdin_fd: int | None,
    master: int | None,
    half_close: bool,
) -> int | None:
    channel, data = message[0], message[1:]
    if channel == STDIN and stdin_fd is not None and data:
        try:
            os.write(stdin_fd, data)
        except OSError:
            return None
    elif channel == RESIZE and master is not None:
        try:
            size = json.loads(data)
            winsize = struct.pack("HHHH", int(size["Height"]), int(size["Width"]), 0, 0)
            fcntl.ioctl(master, termios.TIOCSWINSZ, winsize)
        except (ValueError, KeyError, TypeError, OSError):
            pass
    elif channel == CLOSE and half_close and data[:1] == bytes([STDIN]):
        if master is not None:
            # End of input on a terminal: the line discipline's EOF character.
            with contextlib.suppress(OSError):
                os.write(master, b"\x04")
            return None
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        return None
    return stdin_fd


def _attach(ws: Channels, attachment: Attachment, opts: Options, half_close: bool) -> None:
    wanted = {STDOUT: opts.stdout, STDERR: opts.stderr}
    ended = False
    try:
        while not ws.closed and not ended:
            if ws.pending():
                ready = [ws.fileno()]
            else:
                ready = select.select([ws.fileno(), attachment.fileno()], [], [])[0]
            if ws.fileno() in ready:
                for message in ws.receive():
                    _attach_input(message, attachment, opts, half_close)
            if attachment.fileno() in ready:
                frames = attachment.read()
                if frames is None:
                    ended = True
                    continue
                for channel, data in frames:
                    if wanted.get(channel):
                        ws.send(channel, data)
        if ended:
            ws.send(ERROR, json.dumps({"metadata": {}, "status": "Success"}).encode())
    except OSError as err:
        log.info("attach stream ended: %s", err)
    finally:
        # Closing our end is the client's stdin ending, wherever it was: the runtime
        # then applies stdinOnce.
        attachment.close()
        ws.close()


def _attach_input(message: bytes, attachment: Attachment, opts: Options, half_close: bool) -> None:
    channel, data = message[0], message[1:]
    if channel == STDIN and opts.stdin and data:
        attachment.write_stdin(data)
    elif channel == RESIZE and opts.tty:
        try:
            size = json.loads(data)
            attachment.resize(int(size["Width"]), int(size["Height"]))
        except (ValueError, KeyError, TypeError):
            pass
    elif channel == CLOSE and half_close and data[:1] == bytes([STDIN]) and opts.stdin:
        attachment.close_stdin()


def connect_in(netns: str | None, port: int) -> socket.socket:
    """A TCP connection to localhost:port in the network namespace at ``netns`` (None:
    this one), as containerd's portforward dials inside the sandbox's namespace."""
    result: dict[str, Any] = {}

    def dial() -> None:
        try:
            if netns is not None:
                libc = ctypes.CDLL(None, use_errno=True)
                fd = os.open(netns, os.O_RDONLY)
                try:
                    if libc.setns(fd, CLONE_NEWNET) != 0:
                        err = ctypes.get_errno()
                        raise OSError(err, os.strerror(err))
                finally:
                    os.close(fd)
            errors = []
            for host in ("127.0.0.1", "::1"):
                try:
                    result["sock"] = socket.create_connection((host, port), timeout=10)
                    return
                except OSError as err:
                    errors.append(f"{host}: {err}")
            result["error"] = "; ".join(errors)
        except OSError as err:
            result["error"] = str(err)

    # setns changes only the calling thread's namespace: a thread of its own, which
    # ends here; the socket stays in the namespace it was made in.
    thread = threading.Thread(target=dial, name="portforward-dial")
    thread.start()
    thread.join()
    if "sock" not in result:
        raise OSError(
            f"failed to connect to localhost:{port} inside namespace {netns or 'of the node'}: "
            f"{result.get('error')}"
        )
    sock: socket.socket = result["sock"]
    sock.settimeout(None)
    return sock


def _port_forward(ws: WebSocket, ports: list[int], netns: str | None) -> None:
    conns: dict[int, socket.socket] = {}  # port index -> connection to the pod
    try:
        for index, port in enumerate(ports):
            prefix = struct.pack("<H", port)
            ws.send(2 * index, prefix)
            ws.send(2 * index + 1, prefix)
        for index, port in enumerate(ports):
            try:
                conns[index] = connect_in(netns, port)
            except OSError as err:
                ws.send(2 * index + 1, f"error forwarding port {port} to pod: {err}".encode())
        by_sock = {sock: index for index, sock in conns.items()}
        while by_sock and not ws.closed:
            for sock in _readable([ws.sock, *by_sock], None):
                if sock is ws.sock:
                    for message in ws.receive():
                        channel, data = message[0], message[1:]
                        target = conns.get(channel // 2)
                        if channel % 2 == 0 and target is not None and data:
                            with contextlib.suppress(OSError):
                                target.sendall(data)
                    continue
                try:
                    data = sock.recv(65536)
                except OSError:
                    data = b""
                if data:
                    ws.send(2 * by_sock[sock], data)
                else:
                    # The pod's side ended: this port's forwarding is over
                    # (containerd returns once either direction finished).
                    del by_sock[sock]
    except OSError as err:
        log.info("port-forward stream ended: %s", err)
    finally:
        for sock in conns.values():
            with contextlib.suppress(OSError):
                sock.close()
        ws.close()


__all__ = [
    "Attachment",
    "ExecSpec",
    "Options",
    "Runtime",
    "StreamError",
    "check_running",
    "proxy",
    "register",
    "serve",
]
