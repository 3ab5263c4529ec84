"""The server end of a SPDY/3.1 session, as far as kubectl's port-forward, exec and attach
need it.

kubectl (client-go tools/portforward) multiplexes forwarded connections as SPDY/3.1
streams, over a plain ``Upgrade: SPDY/3.1`` connection or tunnelled in WebSocket binary
messages. No maintained Python SPDY library exists (PyPI's spdy-py 0.2.0 is an
unmaintained, read-only fragment from 2021), so the framing is written here from the
SPDY Protocol Draft 3.1 (chromium.org/spdy/spdy-protocol/spdy-protocol-draft3-1):

- Frames (section 2.2): control frames ``|1|version 15|type 16|flags 8|length 24|``,
  data frames ``|0|stream-id 31|flags 8|length 24|``; FLAG_FIN (0x01) half-closes the
  sender's side of a stream.
- Header blocks (section 2.6.10): a 32-bit count, then per name a 32-bit length and the
  name, a 32-bit length and the values joined by NUL; names are lowercase. Each block is
  deflated with one zlib stream per direction for the whole session, primed with the
  protocol's dictionary (section 2.6.10.1) and ended with a sync flush.
- Flow control (section 2.6.8, and 3.1's session window on stream 0): every stream and
  the session start with a 64 KiB window; the receiver returns what it consumed with
  WINDOW_UPDATE frames.

Port-forward itself follows the kubelet's handler (kubernetes pkg/kubelet/cri/streaming/
portforward/httpstream.go at commit 0d1821e39bfb): per forwarded connection the client
opens an error stream and a data stream whose headers carry ``streamtype`` (``error`` or
``data``), ``port`` and ``requestid`` (the k8s.io/api/core/v1 constants StreamType,
PortHeader and PortForwardRequestIDHeader, lowercased as SPDY sends names). The two are
paired by request id; the pod's port is dialled once both are there; bytes are copied
both ways; a failure is written on the error stream; both streams are closed (FIN) when
the forwarding ends.

client-go's SPDY library (github.com/moby/spdystream, connection.go at commit
f0be51f30e2e) neither sends WINDOW_UPDATE nor honours it. The session therefore keeps to
the peer's window, and when that runs out before the peer ever sent a WINDOW_UPDATE or
an initial window in SETTINGS, it asks with a PING: a peer that answers the PING without
having opened the window does no flow control, and is sent to without limit from then on.
"""

from __future__ import annotations

import contextlib
import json
import logging
import select
import socket
import ssl
import struct
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger("k8s_standin.spdy")

VERSION = 3
# Control frame types (draft 3.1 section 2.6); type 0 here marks a data frame.
DATA = 0
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS = 1, 2, 3, 4
PING, GOAWAY, HEADERS, WINDOW_UPDATE = 6, 7, 8, 9
FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02
# RST_STREAM status codes (section 2.6.3).
PROTOCOL_ERROR, INVALID_STREAM, REFUSED_STREAM, CANCEL = 1, 2, 3, 5
FLOW_CONTROL_ERROR, STREAM_IN_USE, STREAM_ALREADY_CLOSED = 7, 8, 9
SETTINGS_INITIAL_WINDOW_SIZE = 7  # section 2.6.4
INITIAL_WINDOW = 64 * 1024  # section 2.6.8
MAX_FRAME_DATA = 16 * 1024  # what one data frame carries here (any size up to 2**24-1 is valid)
_MASK31 = 0x7FFFFFFF

# The header compression dictionary (section 2.6.10.1): 65 words, each after its length
# as a 32-bit big-endian number, then a run of status lines, dates and media types.
# fmt: off
_DICTIONARY_WORDS = (
    "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset",
    "accept-encoding", "accept-language", "accept-ranges", "age", "allow", "authorization",
    "cache-control", "connection", "content-base", "content-encoding", "content-language",
    "content-length", "content-location", "content-md5", "content-range", "content-type",
    "date", "etag", "expect", "expires", "from", "host", "if-match", "if-modified-since",
    "if-none-match", "if-range", "if-unmodified-since", "last-modified", "location",
    "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range", "referer",
    "retry-after", "server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent",
    "vary", "via", "warning", "www-authenticate", "method", "get", "status", "200 OK",
    "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin",
)
# fmt: on
_DICTIONARY_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417"
    "502504505203 Non-Authoritative Information204 No Content301 Moved Permanently"
    "400 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error"
    "501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct "
    "Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,"
    "image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,text/javascript,"
    "publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)


def _dictionary() -> bytes:
    words = b"".join(struct.pack("!I", len(w)) + w.encode() for w in _DICTIONARY_WORDS)
    return words + _DICTIONARY_TAIL.encode()


DICTIONARY = _dictionary()


class ProtocolError(Exception):
    """The peer sent something that is not SPDY/3.1: the session cannot go on."""


# -- frames ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Frame:
    """One frame as read: ``kind`` is the control type, or DATA with ``stream_id``."""

    kind: int
    flags: int
    payload: bytes
    stream_id: int = 0

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)


def control_frame(kind: int, flags: int, payload: bytes) -> bytes:
    return struct.pack("!HHI", 0x8000 | VERSION, kind, (flags << 24) | len(payload)) + payload


def data_frame(stream_id: int, data: bytes, fin: bool = False) -> bytes:
    flags = FLAG_FIN if fin else 0
    return struct.pack("!II", stream_id & _MASK31, (flags << 24) | len(data)) + data


def syn_reply(stream_id: int, block: bytes, fin: bool = False) -> bytes:
    payload = struct.pack("!I", stream_id & _MASK31) + block
    return control_frame(SYN_REPLY, FLAG_FIN if fin else 0, payload)


def syn_stream(stream_id: int, block: bytes, fin: bool = False, priority: int = 0) -> bytes:
    """SYN_STREAM (section 2.6.1): stream id, associated stream id, priority and slot."""
    head = struct.pack("!IIBB", stream_id & _MASK31, 0, (priority & 7) << 5, 0)
    return control_frame(SYN_STREAM, FLAG_FIN if fin else 0, head + block)


def rst_stream(stream_id: int, status: int) -> bytes:
    return control_frame(RST_STREAM, 0, struct.pack("!II", stream_id & _MASK31, status))


def window_update(stream_id: int, delta: int) -> bytes:
    return control_frame(WINDOW_UPDATE, 0, struct.pack("!II", stream_id & _MASK31, delta))


def ping(ping_id: int) -> bytes:
    return control_frame(PING, 0, struct.pack("!I", ping_id))


def goaway(last_stream_id: int, status: int = 0) -> bytes:
    return control_frame(GOAWAY, 0, struct.pack("!II", last_stream_id & _MASK31, status))


def settings(entries: dict[int, int]) -> bytes:
    body = b"".join(struct.pack("!II", key & 0xFFFFFF, value) for key, value in entries.items())
    return control_frame(SETTINGS, 0, struct.pack("!I", len(entries)) + body)


def parse_settings(payload: bytes) -> dict[int, int]:
    (count,) = struct.unpack_from("!I", payload)
    if len(payload) < 4 + 8 * count:
        raise ProtocolError("SETTINGS frame shorter than its entries")
    entries = {}
    for i in range(count):
        key, value = struct.unpack_from("!II", payload, 4 + 8 * i)
        entries[key & 0xFFFFFF] = value  # the top 8 bits are the entry's flags
    return entries


class FrameReader:
    """Frames out of a byte stream that arrives in pieces of any size."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames = []
        while len(self._buffer) >= 8:
            first, second = struct.unpack_from("!II", self._buffer)
            length = second & 0xFFFFFF
            if len(self._buffer) < 8 + length:
                break
            payload = bytes(self._buffer[8 : 8 + length])
            del self._buffer[: 8 + length]
            flags = second >> 24
            if first & 0x80000000:
                version = (first >> 16) & 0x7FFF
                if version != VERSION:
                    raise ProtocolError(f"unsupported SPDY version {version}")
                frames.append(Frame(first & 0xFFFF, flags, payload))
            else:
                frames.append(Frame(DATA, flags, payload, first & _MASK31))
        return frames


# -- header blocks --------------------------------------------------------------------
Headers = dict[str, list[str]]


def pack_headers(headers: Iterable[tuple[str, str]]) -> bytes:
    """The uncompressed name/value block; repeated names become one NUL-joined value."""
    grouped: Headers = {}
    for name, value in headers:
        grouped.setdefault(name.lower(), []).append(value)
    out = bytearray(struct.pack("!I", len(grouped)))
    for name, values in grouped.items():
        raw_name, raw_value = name.encode(), "\x00".join(values).encode()
        out += struct.pack("!I", len(raw_name)) + raw_name
        out += struct.pack("!I", len(raw_value)) + raw_value
    return bytes(out)


def unpack_headers(raw: bytes) -> Headers:
    def take(offset: int) -> tuple[bytes, int]:
        if offset + 4 > len(raw):
            raise ProtocolError("header block cut short")
        (length,) = struct.unpack_from("!I", raw, offset)
        end = offset + 4 + length
        if end > len(raw):
            raise ProtocolError("header block cut short")
        return raw[offset + 4 : end], end

    if len(raw) < 4:
        raise ProtocolError("header block cut short")
    (count,) = struct.unpack_from("!I", raw)
    headers: Headers = {}
    offset = 4
    for _ in range(count):
        name, offset = take(offset)
        value, offset = take(offset)
        headers.setdefault(name.decode().lower(), []).extend(value.decode().split("\x00"))
    return headers


class HeaderCompressor:
    """This side's header blocks: one deflate stream for the session."""

    def __init__(self) -> None:
        self._z = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS, zdict=DICTIONARY)

    def compress(self, headers: Iterable[tuple[str, str]]) -> bytes:
        # The sync flush ends each block on a byte boundary, so the peer can inflate it
        # whole without the blocks that follow.
        return self._z.compress(pack_headers(headers)) + self._z.flush(zlib.Z_SYNC_FLUSH)


class HeaderDecompressor:
    """The peer's header blocks: every block must go through, in order, to keep the
    shared inflate state, even those of streams that are refused."""

    def __init__(self) -> None:
        self._z = zlib.decompressobj(zlib.MAX_WBITS, zdict=DICTIONARY)

    def decompress(self, block: bytes) -> Headers:
        try:
            return unpack_headers(self._z.decompress(block))
        except zlib.error as err:
            raise ProtocolError(f"header block does not inflate: {err}") from None


# -- the session ----------------------------------------------------------------------
class Transport(Protocol):
    """The byte stream the session runs on: a socket, or a WebSocket tunnel."""

    def fileno(self) -> int: ...

    def pending(self) -> bool:
        """Bytes already read from the socket but not yet returned by read()."""

    def read(self) -> bytes | None:
        """What arrived (possibly nothing yet); None once the peer has gone."""

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


def tls_pending(sock: socket.socket) -> bool:
    """TLS records already decrypted sit in the SSL object, invisible to select()."""
    return isinstance(sock, ssl.SSLSocket) and sock.pending() > 0


class SocketTransport:
    """A plain upgraded connection (``Upgrade: SPDY/3.1``), TLS or not."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def fileno(self) -> int:
        return self.sock.fileno()

    def pending(self) -> bool:
        return tls_pending(self.sock)

    def read(self) -> bytes | None:
        try:
            data = self.sock.recv(65536)
        except OSError:
            return None
        return data or None

    def write(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


@dataclass
class Stream:
    id: int
    headers: Headers
    send_window: int
    remote_closed: bool = False  # the peer sent FIN
    local_closed: bool = False  # this side sent FIN
    reset: bool = False
    unacked: int = 0  # bytes received and consumed, not yet returned by WINDOW_UPDATE
    outgoing: bytearray = field(default_factory=bytearray)
    fin_queued: bool = False
    inbound: bytearray = field(default_factory=bytearray)  # data before the pod is dialled

    def header(self, name: str) -> str:
        values = self.headers.get(name, [])
        return values[0] if values else ""


@dataclass
class Pair:
    """One forwarded connection: its error and data streams and the pod's socket."""

    request_id: str
    error: Stream | None = None
    data: Stream | None = None
    conn: socket.socket | None = None
    done: bool = False


Dial = Callable[[int], socket.socket]


def forward_error(port: int, err: Exception) -> str:
    return f"error forwarding port {port} to pod: {err}"


class Session:
    """One SPDY/3.1 connection's server end: frames, header compression, streams the
    client opens, and flow control both ways. What the streams mean is a subclass's:
    `_accept` vets a new stream, `_opened` takes it once replied to, `_consume` takes
    its data, `_on_remote_fin` and `_on_reset` its end."""

    #: Named in log lines.
    purpose = "SPDY"

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.reader = FrameReader()
        self.inflate = HeaderDecompressor()
        self.deflate = HeaderCompressor()
        self.streams: dict[int, Stream] = {}
        self.peer_initial_window = INITIAL_WINDOW
        self.session_send_window = INITIAL_WINDOW
        self.session_unacked = 0
        self.peer_flow_control = False  # the peer has sent WINDOW_UPDATE or a window
        self.unlimited = False  # the peer answered a window probe without opening it
        self.probe_id: int | None = None
        self.next_ping_id = 2  # the server's PINGs have even ids (section 2.6.5)
        self.last_stream_id = 0
        self.gone_away = False
        self.ended = False

    # -- what a subclass makes of the streams ----------------------------------------------
    def _accept(self, stream: Stream) -> str:
        """Why a new stream is refused; "" takes it."""
        return ""

    def _opened(self, stream: Stream) -> None:
        """A stream taken and replied to."""

    def _consume(self, stream: Stream, data: bytes) -> None:
        """Data the client sent on a stream; by default read and dropped."""
        self._acknowledge(stream, len(data))

    def _on_remote_fin(self, stream: Stream) -> None:
        """The client will send no more on ``stream``."""

    def _on_reset(self, stream: Stream) -> None:
        """The client reset ``stream``."""

    def _client_ready(self, timeout: float) -> bool:
        """Whether the client's side has something to read within ``timeout``."""
        if self.transport.pending():
            return True
        return bool(select.select([self.transport.fileno()], [], [], timeout)[0])

    def _on_transport(self) -> None:
        data = self.transport.read()
        if data is None:
            self.ended = True
            return
        for frame in self.reader.feed(data):
            self._on_frame(frame)

    # -- frames from the client ---------------------------------------------------------
    def _on_frame(self, frame: Frame) -> None:
        if len(frame.payload) < _MIN_PAYLOAD.get(frame.kind, 0):
            raise ProtocolError(f"control frame of type {frame.kind} too short")
        handler = {
            DATA: self._on_data,
            SYN_STREAM: self._on_syn_stream,
            RST_STREAM: self._on_rst_stream,
            SETTINGS: self._on_settings,
            PING: self._on_ping,
            GOAWAY: self._on_goaway,
            HEADERS: self._on_headers,
            WINDOW_UPDATE: self._on_window_update,
        }.get(frame.kind)
        # Unknown control frames (and SYN_REPLY: this side opens no streams) are ignored,
        # as section 2.2.1 asks.
        if handler is not None:
            handler(frame)

    def _on_syn_stream(self, frame: Frame) -> None:
        stream_id = struct.unpack_from("!I", frame.payload)[0] & _MASK31
        headers = self.inflate.decompress(frame.payload[10:])
        if stream_id in self.streams or stream_id % 2 == 0 or stream_id <= self.last_stream_id:
            self._write(rst_stream(stream_id, PROTOCOL_ERROR))
            return
        self.last_stream_id = stream_id
        stream = Stream(stream_id, headers, self.peer_initial_window)
        stream.remote_closed = frame.fin
        problem = self._accept(stream)
        if problem or self.gone_away:
            # httpStreamReceived refuses it; the SPDY connection then resets the stream.
            log.info("refused %s stream %d: %s", self.purpose, stream_id, problem or "GOAWAY")
            self._write(rst_stream(stream_id, REFUSED_STREAM if self.gone_away else CANCEL))
            return
        self.streams[stream_id] = stream
        self._write(syn_reply(stream_id, self.deflate.compress([])))
        self._opened(stream)

    def _on_data(self, frame: Frame) -> None:
        stream = self.streams.get(frame.stream_id)
        if stream is None:
            if frame.stream_id > self.last_stream_id:
                self._write(rst_stream(frame.stream_id, INVALID_STREAM))
            return
        if stream.remote_closed or stream.reset:
            return  # late data for a stream that ended: dropped
        if frame.payload:
            self._consume(stream, frame.payload)
        if frame.fin:
            stream.remote_closed = True
            self._on_remote_fin(stream)

    def _on_rst_stream(self, frame: Frame) -> None:
        stream_id = struct.unpack_from("!I", frame.payload)[0] & _MASK31
        stream = self.streams.get(stream_id)
        if stream is None:
            return
        stream.reset = stream.remote_closed = stream.local_closed = True
        stream.outgoing.clear()
        self._on_reset(stream)

    def _on_settings(self, frame: Frame) -> None:
        window = parse_settings(frame.payload).get(SETTINGS_INITIAL_WINDOW_SIZE)
        if window is None:
            return
        # A new initial window moves every open stream's window by the difference
        # (section 2.6.8).
        delta = window - self.peer_initial_window
        self.peer_initial_window = window
        self.peer_flow_control = True
        for stream in self.streams.values():
            stream.send_window += delta
        self._flush_all()

    def _on_ping(self, frame: Frame) -> None:
        (ping_id,) = struct.unpack_from("!I", frame.payload)
        if ping_id % 2:
            self._write(ping(ping_id))  # the client's: echoed back
            return
        if ping_id == self.probe_id:
            self.probe_id = None
            if not self.peer_flow_control:
                log.info("the SPDY client does no flow control: its windows are not kept to")
                self.unlimited = True
                self._flush_all()

    def _on_goaway(self, frame: Frame) -> None:
        self.gone_away = True

    def _on_headers(self, frame: Frame) -> None:
        stream_id = struct.unpack_from("!I", frame.payload)[0] & _MASK31
        self.inflate.decompress(frame.payload[4:])  # kept in step; nothing in it is used
        stream = self.streams.get(stream_id)
        if stream is not None and frame.fin and not stream.remote_closed:
            stream.remote_closed = True
            self._on_remote_fin(stream)

    def _on_window_update(self, frame: Frame) -> None:
        stream_id, delta = struct.unpack_from("!II", frame.payload)
        stream_id, delta = stream_id & _MASK31, delta & _MASK31
        self.peer_flow_control = True
        if stream_id == 0:
            self.session_send_window += delta
            self._flush_all()
            return
        stream = self.streams.get(stream_id)
        if stream is not None:
            stream.send_window += delta
            self._flush(stream)

    # -- sending --------------------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        self.transport.write(data)

    def _send(self, stream: Stream, data: bytes, fin: bool = False) -> None:
        if stream.local_closed or stream.reset:
            return
        stream.outgoing += data
        stream.fin_queued = stream.fin_queued or fin
        self._flush(stream)

    def _flush_all(self) -> None:
        for stream in list(self.streams.values()):
            self._flush(stream)

    def _flush(self, stream: Stream) -> None:
        while stream.outgoing and not stream.reset:
            room = min(stream.send_window, self.session_send_window)
            if self.unlimited:
                room = MAX_FRAME_DATA
            if room <= 0:
                self._probe()
                return
            chunk = bytes(stream.outgoing[: min(room, MAX_FRAME_DATA)])
            del stream.outgoing[: len(chunk)]
            last = stream.fin_queued and not stream.outgoing
            self._write(data_frame(stream.id, chunk, fin=last))
            stream.send_window -= len(chunk)
            self.session_send_window -= len(chunk)
            stream.local_closed = last
        if stream.fin_queued and not stream.local_closed and not stream.reset:
            self._write(data_frame(stream.id, b"", fin=True))
            stream.local_closed = True

    def _probe(self) -> None:
        """The window ran out: a peer that never opened one is asked whether it keeps
        any (see the module docstring)."""
        if self.peer_flow_control or self.unlimited or self.probe_id is not None:
            return
        self.probe_id = self.next_ping_id
        self.next_ping_id += 2
        self._write(ping(self.probe_id))

    def _acknowledge(self, stream: Stream, size: int) -> None:
        """Give back window once half of it has been consumed: the client can always
        send, with fewer WINDOW_UPDATEs than one per frame."""
        stream.unacked += size
        self.session_unacked += size
        if stream.unacked >= INITIAL_WINDOW // 2 and not stream.remote_closed:
            self._write(window_update(stream.id, stream.unacked))
            stream.unacked = 0
        if self.session_unacked >= INITIAL_WINDOW // 2:
            self._write(window_update(0, self.session_unacked))
            self.session_unacked = 0


class PortForwardSession(Session):
    """kubelet's port-forward over one SPDY/3.1 connection; ``run`` returns when the
    client has gone (or said GOAWAY and every forwarding ended)."""

    purpose = "port-forward"

    def __init__(
        self,
        transport: Transport,
        dial: Dial,
        describe_error: Callable[[int, Exception], str] = forward_error,
    ) -> None:
        super().__init__(transport)
        self.dial = dial
        self.describe_error = describe_error
        self.pairs: dict[str, Pair] = {}
        self.by_conn: dict[socket.socket, Pair] = {}

    # -- the loop ---------------------------------------------------------------------
    def run(self) -> None:
        try:
            while not self.ended:
                from_client, pods = self._wait()
                if from_client:
                    self._on_transport()
                for conn in pods:
                    pair = self.by_conn.get(conn)
                    if pair is not None and not self.ended:
                        self._on_pod(pair)
                self._sweep()
                if self.gone_away and not self.pairs:
                    self.ended = True
        except ProtocolError as err:
            log.info("SPDY session ended: %s", err)
            with contextlib.suppress(OSError):
                self.transport.write(goaway(self.last_stream_id, 1))
        except OSError as err:
            log.info("SPDY session ended: %s", err)
        finally:
            for pair in list(self.pairs.values()):
                self._close_conn(pair)
            self.transport.close()

    def _sweep(self) -> None:
        """Forget forwardings that ended and have nothing left to send: what the client
        still sends on their streams is dropped (their ids are below last_stream_id)."""
        for request_id, pair in list(self.pairs.items()):
            streams = [s for s in (pair.error, pair.data) if s is not None]
            if pair.done and all(s.local_closed or s.reset for s in streams):
                del self.pairs[request_id]
                for stream in streams:
                    self.streams.pop(stream.id, None)

    def _wait(self) -> tuple[bool, list[socket.socket]]:
        """Whether the client sent something, and which pod connections did."""
        if self.transport.pending():
            return True, []
        # A pod connection is read only while its stream has room: the client's window
        # (or a bound on what waits here) holds the pod back, as TCP would.
        pods = {
            conn.fileno(): conn
            for conn, pair in self.by_conn.items()
            if pair.data is not None and len(pair.data.outgoing) < INITIAL_WINDOW
        }
        client = self.transport.fileno()
        readable, _, _ = select.select([client, *pods], [], [])
        return client in readable, [pods[fd] for fd in readable if fd != client]

    def _on_pod(self, pair: Pair) -> None:
        assert pair.conn is not None and pair.data is not None
        try:
            data = pair.conn.recv(65536)
        except OSError:
            data = b""
        if data:
            self._send(pair.data, data)
            return
        # The pod's side ended: this forwarding is over (the kubelet's PortForward
        # returns once the runtime's copy ended), and both streams are closed.
        self._finish(pair)

    # -- forwarding -----------------------------------------------------------------------
    def _accept(self, stream: Stream) -> str:
        return _check_stream_headers(stream)

    def _on_reset(self, stream: Stream) -> None:
        pair = self.pairs.get(stream.header("requestid"))
        if pair is not None and pair.data is stream:
            # kubectl resets the data stream once the pod's side finished, or to drop it.
            self._finish(pair)

    def _opened(self, stream: Stream) -> None:
        self._pair(stream)

    def _pair(self, stream: Stream) -> None:
        request_id = _request_id(stream)
        pair = self.pairs.setdefault(request_id, Pair(request_id))
        kind = stream.header("streamtype")
        if (pair.error if kind == "error" else pair.data) is not None:
            if pair.error is not None:
                message = f"error processing stream for request {request_id}: "
                self._send(pair.error, f"{message}{kind} stream already assigned".encode())
            return
        if kind == "error":
            pair.error = stream
        else:
            pair.data = stream
        if pair.error is not None and pair.data is not None:
            self._start(pair)

    def _start(self, pair: Pair) -> None:
        assert pair.error is not None and pair.data is not None
        port = int(pair.data.header("port"))
        try:
            pair.conn = self.dial(port)
        except OSError as err:
            self._send(pair.error, self.describe_error(port, err).encode())
            self._finish(pair)
            return
        self.by_conn[pair.conn] = pair
        if pair.data.inbound:
            self._to_pod(pair, bytes(pair.data.inbound))
            pair.data.inbound.clear()
        if pair.data.remote_closed:
            self._on_remote_fin(pair.data)

    def _consume(self, stream: Stream, data: bytes) -> None:
        pair = self.pairs.get(stream.header("requestid"))
        if pair is not None and pair.data is stream and not pair.done:
            if pair.conn is None:
                stream.inbound += data  # acknowledged once it reached the pod
            else:
                self._to_pod(pair, data)
            return
        # The error stream's (nothing is expected on it) or a finished forwarding's.
        self._acknowledge(stream, len(data))

    def _to_pod(self, pair: Pair, data: bytes) -> None:
        assert pair.conn is not None and pair.data is not None
        try:
            pair.conn.sendall(data)
        except OSError:
            self._finish(pair)
            return
        self._acknowledge(pair.data, len(data))

    def _on_remote_fin(self, stream: Stream) -> None:
        """The client will send no more on ``stream``: for data, the pod's side of the
        connection is half-closed, so a server reading until EOF sees it."""
        pair = self.pairs.get(stream.header("requestid"))
        if pair is None or pair.data is not stream or pair.conn is None:
            return
        with contextlib.suppress(OSError):
            pair.conn.shutdown(socket.SHUT_WR)

    def _finish(self, pair: Pair) -> None:
        """The forwarding ended: the pod's connection closes, the data stream and then
        the error stream get their FIN (httpStreamHandler.portForward's deferred Close)."""
        if pair.done:
            return
        pair.done = True
        self._close_conn(pair)
        for stream in (pair.data, pair.error):
            if stream is not None:
                self._send(stream, b"", fin=True)

    def _close_conn(self, pair: Pair) -> None:
        if pair.conn is not None:
            self.by_conn.pop(pair.conn, None)
            with contextlib.suppress(OSError):
                pair.conn.close()
            pair.conn = None


class RemoteCommandSession(Session):
    """kubelet's exec and attach over one SPDY/3.1 connection, stream protocol
    v4.channel.k8s.io (kubernetes pkg/kubelet/cri/streaming/remotecommand/httpstream.go at
    commit 0d1821e39bfb): the client opens a stream per stdio it asked for, named by its
    ``streamtype`` header (``error``, ``stdin``, ``stdout``, ``stderr``, ``resize``), and
    the command starts once all of them are there.

    The streams are then offered as the numbered channels of the WebSocket protocol, so
    that one loop serves both: ``receive`` yields stdin's data as channel messages, its
    FIN as a close message, and each JSON TerminalSize on the resize stream as a message
    of its own; ``send`` writes on the stream of a channel; ``close`` ends every stream
    and the connection, after what is queued for the client has gone out."""

    purpose = "remote command"

    def __init__(self, transport: Transport, channels: dict[str, int], close: int) -> None:
        super().__init__(transport)
        self.channels = channels  # stream type -> channel
        self.close_channel = close
        self.by_channel: dict[int, Stream] = {}
        self.inbox: list[bytes] = []
        self.resizes = bytearray()
        self.closed = False

    def wait_for_streams(self, wanted: set[str], timeout: float) -> bool:
        """Whether the client opened a stream of each wanted type within ``timeout``
        (the kubelet's stream creation timeout; it gives up without a word)."""
        deadline = time.monotonic() + timeout
        while not self.ended:
            opened = {t for t, ch in self.channels.items() if ch in self.by_channel}
            if wanted <= opened:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if self._client_ready(remaining):
                self._on_transport()
        return False

    # -- the channel side -------------------------------------------------------------
    def fileno(self) -> int:
        return self.transport.fileno()

    def pending(self) -> bool:
        return bool(self.inbox) or self.transport.pending()

    def receive(self) -> Iterator[bytes]:
        """The channel messages the client's frames carried: read what has arrived
        without waiting for more."""
        if self._client_ready(0):
            try:
                self._on_transport()
            except ProtocolError as err:
                log.info("SPDY session ended: %s", err)
                self.ended = True
        if self.ended:
            self.closed = True
        messages, self.inbox = self.inbox, []
        yield from messages

    def send(self, channel: int, data: bytes = b"") -> None:
        stream = self.by_channel.get(channel)
        if stream is not None and data:
            self._send(stream, data)

    def close(self, linger: float = 10.0) -> None:
        """FIN on every stream, GOAWAY once what is queued has gone (a client without
        flow control is found out by the window probe meanwhile), then the connection
        once the client has closed it or ``linger`` seconds passed. The client closes
        when it has read everything; closing first, with its terminal input or resizes
        still unread here, would reset the connection, and a reset can lose what the
        client had not read yet, the exit status among it."""
        for stream in self.streams.values():
            self._send(stream, b"", fin=True)
        deadline = time.monotonic() + linger
        said_goaway = False
        while not self.ended:
            if not said_goaway and not any(s.outgoing for s in self.streams.values()):
                with contextlib.suppress(OSError):
                    self._write(goaway(self.last_stream_id))
                said_goaway = True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            if self._client_ready(remaining):
                try:
                    self._on_transport()
                except (ProtocolError, OSError):
                    break
        self.transport.close()
        self.closed = True

    # -- the streams ------------------------------------------------------------------
    def _opened(self, stream: Stream) -> None:
        kind = stream.header("streamtype")
        channel = self.channels.get(kind)
        if channel is None:
            # Taken and replied to, then ignored, as waitForStreams does.
            log.info("unexpected stream type: %r", kind)
            return
        self.by_channel[channel] = stream

    def _consume(self, stream: Stream, data: bytes) -> None:
        self._acknowledge(stream, len(data))
        if stream is self.by_channel.get(self.channels["stdin"]):
            self.inbox.append(bytes([self.channels["stdin"]]) + data)
        elif stream is self.by_channel.get(self.channels["resize"]):
            self.resizes += data
            self._take_resizes()
        # Anything the client writes on its output or error streams is dropped.

    def _take_resizes(self) -> None:
        """Each whole JSON object on the resize stream (handleResizeEvents decodes them
        one after another from the stream)."""
        decoder = json.JSONDecoder()
        text = self.resizes.decode("utf-8", "replace")
        at = 0
        while True:
            while at < len(text) and text[at].isspace():
                at += 1
            try:
                size, end = decoder.raw_decode(text, at)
            except ValueError:
                break
            self.inbox.append(bytes([self.channels["resize"]]) + json.dumps(size).encode())
            at = end
        self.resizes = bytearray(text[at:].encode())

    def _on_remote_fin(self, stream: Stream) -> None:
        stdin = self.channels["stdin"]
        if stream is self.by_channel.get(stdin):
            self.inbox.append(bytes([self.close_channel, stdin]))

    def _on_reset(self, stream: Stream) -> None:
        self._on_remote_fin(stream)


# The fixed fields each control frame starts with (draft 3.1 section 2.6).
_MIN_PAYLOAD = {
    SYN_STREAM: 10,
    SYN_REPLY: 4,
    RST_STREAM: 8,
    SETTINGS: 4,
    PING: 4,
    GOAWAY: 8,
    HEADERS: 4,
    WINDOW_UPDATE: 8,
}


def _check_stream_headers(stream: Stream) -> str:
    """What httpStreamReceived checks: a port in 1..65535 and a known stream type."""
    port = stream.header("port")
    if not port:
        return '"port" header is required'
    if not port.isdigit() or not 0 < int(port) < 65536:
        return f"unable to parse {port!r} as a port"
    kind = stream.header("streamtype")
    if not kind:
        return '"streamType" header is required'
    if kind not in ("error", "data"):
        return f"invalid stream type {kind!r}"
    return ""


def _request_id(stream: Stream) -> str:
    """The pair's key; clients older than the requestID header are paired by stream id
    (error stream n, data stream n+2), as httpStreamHandler.requestID does."""
    request_id = stream.header("requestid")
    if request_id:
        return request_id
    offset = 0 if stream.header("streamtype") == "error" else 2
    request_id = str(stream.id - offset)
    stream.headers["requestid"] = [request_id]
    return request_id


__all__ = [
    "DICTIONARY",
    "Frame",
    "FrameReader",
    "HeaderCompressor",
    "HeaderDecompressor",
    "PortForwardSession",
    "ProtocolError",
    "RemoteCommandSession",
    "Session",
    "SocketTransport",
    "Transport",
    "pack_headers",
    "unpack_headers",
]
