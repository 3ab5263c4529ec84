"""The stand-in's SPDY/3.1 port-forward session (k8s_standin/spdy.py): framing, header
blocks, and a session on a socketpair forwarding to a local TCP echo server, driven by a
small client written here the way client-go's port-forwarder drives a kubelet."""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from k8s_standin import spdy

TIMEOUT_S = 10.0


# -- framing and header blocks ---------------------------------------------------------
def test_the_dictionary_is_the_protocols() -> None:
    # Draft 3.1 section 2.6.10.1: 1423 bytes; a zlib stream primed with it names it by
    # its Adler-32, which every SPDY/3 peer therefore agrees on.
    assert len(spdy.DICTIONARY) == 1423
    assert zlib.adler32(spdy.DICTIONARY) == 0xE3C6A7C2
    assert spdy.DICTIONARY.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert spdy.DICTIONARY.endswith(b"utf-,*,enq=0.")


def test_header_blocks_round_trip_through_one_zlib_stream() -> None:
    deflate, inflate = spdy.HeaderCompressor(), spdy.HeaderDecompressor()
    blocks = [
        [("streamType", "error"), ("Port", "8080"), ("requestID", "0")],
        [("streamtype", "data"), ("port", "8080"), ("requestid", "0")],
        [("set-cookie", "a=1"), ("set-cookie", "b=2")],
        [],
    ]
    # Later blocks lean on the earlier ones' history: each is inflated in order.
    compressed = [deflate.compress(block) for block in blocks]
    assert [inflate.decompress(c) for c in compressed] == [
        {"streamtype": ["error"], "port": ["8080"], "requestid": ["0"]},
        {"streamtype": ["data"], "port": ["8080"], "requestid": ["0"]},
        {"set-cookie": ["a=1", "b=2"]},
        {},
    ]
    # A block deflated by a fresh stream with the dictionary (as Go's zlib writer starts)
    # inflates too.
    fresh = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS, zdict=spdy.DICTIONARY)
    raw = spdy.pack_headers([("port", "1")])
    assert spdy.HeaderDecompressor().decompress(
        fresh.compress(raw) + fresh.flush(zlib.Z_SYNC_FLUSH)
    ) == {"port": ["1"]}


def test_a_cut_header_block_is_a_protocol_error() -> None:
    with pytest.raises(spdy.ProtocolError):
        spdy.unpack_headers(struct.pack("!II", 1, 10) + b"abc")


def test_frames_are_read_from_pieces_of_any_size() -> None:
    stream = (
        spdy.syn_stream(1, b"block", fin=True)
        + spdy.data_frame(1, b"x" * 300, fin=True)
        + spdy.ping(7)
        + spdy.window_update(0, 4096)
        + spdy.settings({spdy.SETTINGS_INITIAL_WINDOW_SIZE: 1 << 20})
    )
    reader = spdy.FrameReader()
    frames = [frame for i in range(len(stream)) for frame in reader.feed(stream[i : i + 1])]
    assert [f.kind for f in frames] == [
        spdy.SYN_STREAM,
        spdy.DATA,
        spdy.PING,
        spdy.WINDOW_UPDATE,
        spdy.SETTINGS,
    ]
    syn, data, ping, update, settings = frames
    assert syn.fin and syn.payload[10:] == b"block"
    assert data.stream_id == 1 and data.fin and data.payload == b"x" * 300
    assert struct.unpack("!I", ping.payload) == (7,)
    assert struct.unpack("!II", update.payload) == (0, 4096)
    assert spdy.parse_settings(settings.payload) == {spdy.SETTINGS_INITIAL_WINDOW_SIZE: 1 << 20}
    # The control bit and version 3 lead every control frame (section 2.2.1).
    assert stream[:4] == b"\x80\x03\x00\x01"


def test_another_version_is_refused() -> None:
    frame = struct.pack("!HHI", 0x8002, spdy.PING, 4) + struct.pack("!I", 1)
    with pytest.raises(spdy.ProtocolError, match="version 2"):
        spdy.FrameReader().feed(frame)


# -- a client ----------------------------------------------------------------------------
@dataclass
class Received:
    data: bytearray = field(default_factory=bytearray)
    fin: bool = False
    replied: bool = False
    reset: int | None = None


class Client:
    """The client end, on one socket: opens streams, sends within the server's windows,
    and (when ``flow_control``) gives window back as it reads, checking that the server
    never sends past it."""

    def __init__(self, sock: socket.socket, flow_control: bool = True) -> None:
        self.sock = sock
        self.flow_control = flow_control
        self.deflate, self.inflate = spdy.HeaderCompressor(), spdy.HeaderDecompressor()
        self.reader = spdy.FrameReader()
        self.streams: dict[int, Received] = {}
        self.send_windows: dict[int, int] = {}
        self.session_window = spdy.INITIAL_WINDOW
        self.window_updates = 0
        self.pings: list[int] = []
        self.goaway = False
        self.next_id = 1

    def open(self, kind: str, port: int, request_id: str | None = "0") -> int:
        stream_id, self.next_id = self.next_id, self.next_id + 2
        headers = [("streamType", kind), ("port", str(port))]
        if request_id is not None:
            headers.append(("requestID", request_id))
        self.sock.sendall(spdy.syn_stream(stream_id, self.deflate.compress(headers)))
        self.streams[stream_id] = Received()
        self.send_windows[stream_id] = spdy.INITIAL_WINDOW
        return stream_id

    def forward(self, port: int, request_id: str | None = "0") -> tuple[int, int]:
        """What client-go does per connection: an error stream it closes at once, then
        the data stream, each waited for until replied."""
        error = self.open("error", port, request_id)
        self.wait(lambda: self.streams[error].replied)
        self.sock.sendall(spdy.data_frame(error, b"", fin=True))
        data = self.open("data", port, request_id)
        self.wait(lambda: self.streams[data].replied or self.streams[data].fin)
        return error, data

    def send(self, stream_id: int, payload: bytes, fin: bool = False) -> None:
        """Within the server's windows, reading (and so getting WINDOW_UPDATEs) between."""
        view = memoryview(payload)
        while view:
            self.wait(lambda: min(self.send_windows[stream_id], self.session_window) > 0)
            size = min(len(view), self.send_windows[stream_id], self.session_window, 8192)
            self.sock.sendall(spdy.data_frame(stream_id, bytes(view[:size])))
            self.send_windows[stream_id] -= size
            self.session_window -= size
            view = view[size:]
        if fin:
            self.sock.sendall(spdy.data_frame(stream_id, b"", fin=True))

    def wait(self, done: Callable[[], bool], timeout: float = TIMEOUT_S) -> None:
        """Read and handle frames until ``done()``."""
        self.sock.settimeout(timeout)
        while not done():
            readable, _, _ = select.select([self.sock], [], [], timeout)
            if not readable:
                pytest.fail("the server sent nothing in time")
            chunk = self.sock.recv(65536)
            if not chunk:
                pytest.fail("the server closed the connection")
            for frame in self.reader.feed(chunk):
                self.on_frame(frame)

    def tell(self, frame: bytes) -> None:
        """A frame in answer to one read: the server may have closed meanwhile (after
        GOAWAY, once its last stream ended), which is no failure of this client."""
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.sock.sendall(frame)

    def on_frame(self, frame: spdy.Frame) -> None:
        if frame.kind == spdy.DATA:
            received = self.streams[frame.stream_id]
            received.data += frame.payload
            received.fin = received.fin or frame.fin
            if self.flow_control and frame.payload:
                # Given back at once, so what is outstanding is at most one frame.
                assert len(frame.payload) <= spdy.INITIAL_WINDOW
                self.tell(spdy.window_update(frame.stream_id, len(frame.payload)))
                self.tell(spdy.window_update(0, len(frame.payload)))
        elif frame.kind == spdy.SYN_REPLY:
            (stream_id,) = struct.unpack_from("!I", frame.payload)
            assert self.inflate.decompress(frame.payload[4:]) == {}
            self.streams[stream_id].replied = True
            self.streams[stream_id].fin = frame.fin
        elif frame.kind == spdy.RST_STREAM:
            stream_id, status = struct.unpack("!II", frame.payload)
            self.streams[stream_id].reset = status
        elif frame.kind == spdy.WINDOW_UPDATE:
            stream_id, delta = struct.unpack("!II", frame.payload)
            self.window_updates += 1
            if stream_id == 0:
                self.session_window += delta
            else:
                self.send_windows[stream_id] += delta
        elif frame.kind == spdy.GOAWAY:
            self.goaway = True
        elif frame.kind == spdy.PING:
            (ping_id,) = struct.unpack("!I", frame.payload)
            self.pings.append(ping_id)
            if ping_id % 2 == 0:
                self.tell(spdy.ping(ping_id))  # the server's: answered


class WindowKeeper(Client):
    """A client that gives window back only after a whole window has arrived, checking
    that the server keeps to it meanwhile."""

    outstanding: int = 0

    def on_frame(self, frame: spdy.Frame) -> None:
        if frame.kind == spdy.DATA and frame.payload:
            self.outstanding += len(frame.payload)
            assert self.outstanding <= spdy.INITIAL_WINDOW, "sent past the window"
            received = self.streams[frame.stream_id]
            received.data += frame.payload
            received.fin = received.fin or frame.fin
            if self.outstanding == spdy.INITIAL_WINDOW:
                self.tell(spdy.window_update(frame.stream_id, self.outstanding))
                self.tell(spdy.window_update(0, self.outstanding))
                self.outstanding = 0
            return
        super().on_frame(frame)


@contextlib.contextmanager
def echo_server() -> Iterator[int]:
    """A TCP server on loopback echoing each connection until its EOF, then closing."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = listener.accept()
                threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


@contextlib.contextmanager
def session(flow_control: bool = True, keeper: bool = False) -> Iterator[Client]:
    """A PortForwardSession on one end of a socketpair, dialling loopback."""
    ours, theirs = socket.socketpair()

    def dial(port: int) -> socket.socket:
        return socket.create_connection(("127.0.0.1", port), timeout=5)

    server = spdy.PortForwardSession(spdy.SocketTransport(theirs), dial)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield (WindowKeeper if keeper else Client)(ours, flow_control)
    finally:
        ours.close()
        thread.join(TIMEOUT_S)
        assert not thread.is_alive(), "the session did not end with its connection"


def closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])


# -- sessions ------------------------------------------------------------------------------
def test_a_forwarded_connection_reaches_the_port_and_ends_with_it() -> None:
    with echo_server() as port, session() as client:
        error, data = client.forward(port)
        client.send(data, b"hello through spdy\n")
        client.wait(lambda: client.streams[data].data == b"hello through spdy\n")
        # The client's FIN half-closes the pod's connection; the echo server then ends
        # it, and both streams get their FIN.
        client.send(data, b"", fin=True)
        client.wait(lambda: client.streams[data].fin and client.streams[error].fin)
        assert client.streams[error].data == b""


def test_connections_are_paired_by_request_id() -> None:
    with echo_server() as port, session() as client:
        first = client.forward(port, "0")
        second = client.forward(port, "1")
        client.send(second[1], b"two")
        client.send(first[1], b"one")
        client.wait(lambda: client.streams[first[1]].data == b"one")
        client.wait(lambda: client.streams[second[1]].data == b"two")


def test_streams_without_a_request_id_are_paired_by_stream_id() -> None:
    # Clients from before the requestID header: error stream n goes with data stream n+2.
    with echo_server() as port, session() as client:
        _, data = client.forward(port, request_id=None)
        client.send(data, b"old client")
        client.wait(lambda: client.streams[data].data == b"old client")


def test_a_refused_dial_is_told_on_the_error_stream() -> None:
    port = closed_port()
    with session() as client:
        error, data = client.forward(port)
        client.wait(lambda: client.streams[error].fin and client.streams[data].fin)
        message = client.streams[error].data.decode()
        assert message.startswith(f"error forwarding port {port} to pod: "), message
        assert "refused" in message.lower(), message


def test_a_stream_without_a_port_is_reset() -> None:
    with session() as client:
        stream_id = 1
        client.next_id = 3
        block = client.deflate.compress([("streamtype", "data")])
        client.sock.sendall(spdy.syn_stream(stream_id, block))
        client.streams[stream_id] = Received()
        client.wait(lambda: client.streams[stream_id].reset is not None)
        assert client.streams[stream_id].reset == spdy.CANCEL
        # The session goes on: the header state stayed in step.
        with echo_server() as port:
            _, data = client.forward(port, "7")
            client.send(data, b"still")
            client.wait(lambda: client.streams[data].data == b"still")


def test_pings_are_answered() -> None:
    with session() as client:
        client.sock.sendall(spdy.ping(5))
        client.wait(lambda: 5 in client.pings)


def echo_all(client: Client, port: int, payload: bytes) -> None:
    """Forward to the echo server on ``port``, send ``payload`` and half-close; all of it
    comes back, and then the server's FIN."""
    _, data = client.forward(port)
    client.send(data, payload, fin=True)
    client.wait(lambda: client.streams[data].fin)
    assert bytes(client.streams[data].data) == payload


@pytest.mark.parametrize("size", [200 * 1024])
def test_more_than_a_window_both_ways_with_window_updates(size: int) -> None:
    payload = bytes(range(256)) * (size // 256)
    with echo_server() as port, session() as client:
        # The server must give window back as it consumes, or this stops at 64 KiB.
        echo_all(client, port, payload)
        assert client.window_updates >= 2 * (size // spdy.INITIAL_WINDOW)


def test_the_server_keeps_to_the_clients_window() -> None:
    payload = b"w" * (3 * spdy.INITIAL_WINDOW + 1000)
    with echo_server() as port, session(keeper=True) as client:
        # WindowKeeper fails if more than its window arrives between its updates; the
        # last 1000 bytes come once it has given the third window back. The server may
        # probe it once (it had not opened a window yet when the first one ran out).
        echo_all(client, port, payload)
        # Its WINDOW_UPDATE comes before its answer to any probe: the windows stay kept.
        assert client.window_updates > 0


def test_a_client_without_flow_control_still_gets_everything() -> None:
    # client-go's spdystream sends no WINDOW_UPDATE: once the window ran out, the server
    # probes with a PING and, answered without any window, stops counting.
    payload = b"z" * (2 * spdy.INITIAL_WINDOW + 12345)
    with echo_server() as port, session(flow_control=False) as client:
        echo_all(client, port, payload)
        assert [p for p in client.pings if p % 2 == 0] == [2]


def test_the_session_ends_after_goaway_once_forwarding_ended() -> None:
    with echo_server() as port, session() as client:
        error, data = client.forward(port)
        client.sock.sendall(spdy.goaway(data))
        client.send(data, b"last", fin=True)
        client.wait(lambda: client.streams[data].fin and client.streams[error].fin)
        client.sock.settimeout(TIMEOUT_S)
        rest = b""
        # Closed with this client's last WINDOW_UPDATEs unread, the socket may be reset.
        with contextlib.suppress(ConnectionResetError):
            while chunk := client.sock.recv(65536):
                rest += chunk
        assert rest == b"", "the session closes the connection once nothing is forwarded"


# -- exec and attach: streams by type, offered as channels ----------------------------------
CHANNELS = {"stdin": 0, "stdout": 1, "stderr": 2, "error": 3, "resize": 4}
CLOSE = 255


@contextlib.contextmanager
def remote_command() -> Iterator[tuple[Client, spdy.RemoteCommandSession]]:
    """A RemoteCommandSession on one end of a socketpair, driven from this thread."""
    ours, theirs = socket.socketpair()
    server = spdy.RemoteCommandSession(spdy.SocketTransport(theirs), CHANNELS, CLOSE)
    try:
        yield Client(ours), server
    finally:
        ours.close()
        theirs.close()


@contextlib.contextmanager
def closing(server: spdy.RemoteCommandSession, client: Client) -> Iterator[None]:
    """The server closes in a thread of its own while the block reads, as kubectl would;
    then the client closes, which the server must be waiting for, not its linger."""
    closer = threading.Thread(target=server.close)
    closer.start()
    yield
    client.wait(lambda: client.goaway)
    client.sock.shutdown(socket.SHUT_WR)
    closer.join(2.0)
    assert not closer.is_alive(), "the server did not end with the client's close"


def open_typed(client: Client, kind: str) -> int:
    """A stream as client-go's v4 streamer opens one: named by its type alone."""
    stream_id, client.next_id = client.next_id, client.next_id + 2
    block = client.deflate.compress([("streamType", kind)])
    client.sock.sendall(spdy.syn_stream(stream_id, block))
    client.streams[stream_id] = Received()
    client.send_windows[stream_id] = spdy.INITIAL_WINDOW
    return stream_id


def received(server: spdy.RemoteCommandSession, count: int) -> list[bytes]:
    messages: list[bytes] = []
    while len(messages) < count:
        assert select.select([server.fileno()], [], [], TIMEOUT_S)[0], messages
        messages += server.receive()
    return messages


def test_a_remote_command_waits_for_its_streams_and_offers_them_as_channels() -> None:
    with remote_command() as (client, server):
        ids = {kind: open_typed(client, kind) for kind in ("error", "stdin", "stdout", "resize")}
        assert server.wait_for_streams({"error", "stdin", "stdout", "resize"}, TIMEOUT_S)
        client.wait(lambda: all(client.streams[i].replied for i in ids.values()))
        client.send(ids["stdin"], b"typed")
        # TerminalSize objects one after another, one cut across two frames.
        client.send(ids["resize"], b'{"Width":80,"Height":24}{"Width":1')
        client.send(ids["resize"], b'00,"Height":30}')
        client.send(ids["stdin"], b"", fin=True)
        assert received(server, 4) == [
            b"\x00typed",
            b'\x04{"Width": 80, "Height": 24}',
            b'\x04{"Width": 100, "Height": 30}',
            bytes([CLOSE, 0]),
        ]
        server.send(1, b"output")
        server.send(2, b"no stderr stream was opened: dropped")
        server.send(3, b'{"metadata":{},"status":"Success"}')
        with closing(server, client):
            out, error = client.streams[ids["stdout"]], client.streams[ids["error"]]
            client.wait(lambda: out.fin and error.fin)
            # Typed after the end: read and dropped, so closing resets nothing.
            client.send(ids["stdin"], b"late")
        assert out.data == b"output"
        assert error.data == b'{"metadata":{},"status":"Success"}'
        assert server.closed


def test_a_remote_command_without_all_its_streams_gives_up() -> None:
    with remote_command() as (client, server):
        open_typed(client, "error")
        open_typed(client, "stdout")
        assert not server.wait_for_streams({"error", "stdout", "stdin"}, 0.3)


def test_a_stream_of_an_unknown_type_is_taken_and_ignored() -> None:
    # waitForStreams: the upgrader has replied to it already; it is logged and not used.
    with remote_command() as (client, server):
        odd = open_typed(client, "video")
        error = open_typed(client, "error")
        assert server.wait_for_streams({"error"}, TIMEOUT_S)
        client.wait(lambda: client.streams[odd].replied and client.streams[error].replied)
        client.send(odd, b"ignored")
        server.send(3, b"status")
        with closing(server, client):
            client.wait(lambda: client.streams[error].fin)
        assert client.streams[error].data == b"status"
        assert client.streams[odd].data == b""


def test_a_closing_remote_command_flushes_past_a_window_to_a_client_without_flow_control() -> None:
    # client-go's spdystream never gives window back: the probe finds that out while the
    # session is closing, and everything still goes out before the connection does.
    ours, theirs = socket.socketpair()
    server = spdy.RemoteCommandSession(spdy.SocketTransport(theirs), CHANNELS, CLOSE)
    client = Client(ours, flow_control=False)
    out = open_typed(client, "stdout")
    error = open_typed(client, "error")
    assert server.wait_for_streams({"stdout", "error"}, TIMEOUT_S)
    payload = bytes(range(256)) * 1024  # 256 KiB, four windows
    server.send(1, payload)
    try:
        with closing(server, client):
            client.wait(lambda: client.streams[out].fin and client.streams[error].fin)
        assert bytes(client.streams[out].data) == payload
    finally:
        ours.close()
        theirs.close()
