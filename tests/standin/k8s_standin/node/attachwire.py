"""The link between a container's shim and the attach sessions of the streaming server.

containerd's CRI plugin keeps a container's stdio (FIFOs to its shim) and fans the output
out to the log and to every attached client (internal/cri/io/container_io.go, containerd
v2.0). Here the shim outlives the kubelet, so the shim itself holds the stdio and serves
attach clients on a Unix socket in the container's state directory, ``attach.sock``.

On that socket every message is a frame: one byte naming the stream (the channel numbers
of the WebSocket protocols: 0 stdin, 1 stdout, 2 stderr, 4 resize, 255 end of stdin; 9
the client's opening options as JSON, and the shim's empty answer once the client is
attached), four bytes of length (big-endian), the payload.
This framing is private to the stand-in: nothing outside the node speaks it.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import struct
from pathlib import Path

STDIN, STDOUT, STDERR, RESIZE, HELLO, CLOSE_STDIN = 0, 1, 2, 4, 9, 255
SOCKET_NAME = "attach.sock"
ACK_TIMEOUT_S = 10.0
_HEADER = struct.Struct(">BI")


def _short(directory: Path) -> tuple[int, str]:
    """A short path to ``directory/attach.sock`` through an open descriptor of the
    directory: a Unix socket's path is limited to 108 bytes, and pod directories of
    deep data dirs are longer."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    return fd, f"/proc/self/fd/{fd}/{SOCKET_NAME}"


def listen(directory: Path) -> socket.socket:
    fd, path = _short(directory)
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(path)
        server.listen(16)
        return server
    finally:
        os.close(fd)


def connect(directory: Path) -> socket.socket:
    fd, path = _short(directory)
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
        except OSError:
            sock.close()
            raise
        return sock
    finally:
        os.close(fd)


def frame(kind: int, payload: bytes = b"") -> bytes:
    return _HEADER.pack(kind, len(payload)) + payload


class Reader:
    """Splits what a socket delivers into frames."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._buffer += data
        frames = []
        while len(self._buffer) >= _HEADER.size:
            kind, size = _HEADER.unpack_from(self._buffer)
            end = _HEADER.size + size
            if len(self._buffer) < end:
                break
            frames.append((kind, self._buffer[_HEADER.size : end]))
            self._buffer = self._buffer[end:]
        return frames


def read_frame(sock: socket.socket, reader: Reader) -> list[tuple[int, bytes]] | None:
    """The frames one recv brings; None once the peer has closed."""
    try:
        data = sock.recv(65536)
    except OSError:
        data = b""
    if not data:
        return None
    return reader.feed(data)


class ShimAttachment:
    """streaming.Attachment: one attach client's end of the shim's socket."""

    def __init__(self, sock: socket.socket, tty: bool, stdin: bool) -> None:
        self.sock = sock
        self.tty = tty
        self._reader = Reader()
        sock.sendall(frame(HELLO, json.dumps({"stdin": stdin}).encode()))
        # Attached once the shim says so: output from then on is this client's.
        sock.settimeout(ACK_TIMEOUT_S)
        try:
            ack = sock.recv(_HEADER.size, socket.MSG_WAITALL)
        finally:
            sock.settimeout(None)
        if ack != frame(HELLO):
            raise OSError("the shim did not acknowledge the attachment")

    def fileno(self) -> int:
        return self.sock.fileno()

    def read(self) -> list[tuple[int, bytes]] | None:
        return read_frame(self.sock, self._reader)

    def write_stdin(self, data: bytes) -> None:
        with contextlib.suppress(OSError):
            self.sock.sendall(frame(STDIN, data))

    def close_stdin(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.sendall(frame(CLOSE_STDIN))

    def resize(self, width: int, height: int) -> None:
        payload = json.dumps({"Width": width, "Height": height}).encode()
        with contextlib.suppress(OSError):
            self.sock.sendall(frame(RESIZE, payload))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
