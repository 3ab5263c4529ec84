"""The shim's side of attach: the container's stdin it keeps open, and the fan-out of
the container's output to the clients attached at the moment (attachwire.py describes
the socket).

As containerd's CRI ContainerIO.Attach does (internal/cri/io/container_io.go,
containerd v2.0): a client gets output from the moment it attached, never the history
(the log file has that); a client's stdin is copied to the container's only when the
container was created with ``stdin: true`` (otherwise it is dropped, without an error);
and when a client's stdin ends (it closed it, or went away), a container with
``stdinOnce: true`` and no terminal has its stdin closed for good while the client keeps
receiving output until the container stops; in every other case that client is detached
and the container's stdin stays open for the next one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import struct
import termios
import threading
from dataclasses import dataclass

from . import attachwire
from .attachwire import CLOSE_STDIN, HELLO, RESIZE, STDIN


@dataclass
class Stdio:
    """What the pod spec asked of the container's stdio (Container.stdin, stdinOnce, tty)."""

    stdin: bool = False
    stdin_once: bool = False
    tty: bool = False

    def flags(self) -> list[str]:
        return [
            flag
            for flag, on in (
                ("--stdin", self.stdin),
                ("--stdin-once", self.stdin_once),
                ("--tty", self.tty),
            )
            if on
        ]

    @classmethod
    def from_flags(cls, flags: list[str]) -> Stdio:
        return cls("--stdin" in flags, "--stdin-once" in flags, "--tty" in flags)

    @classmethod
    def from_spec(cls, container: dict[str, object]) -> Stdio:
        return cls(
            bool(container.get("stdin")),
            bool(container.get("stdinOnce")),
            bool(container.get("tty")),
        )


class Attachments:
    """The attached clients of one container, and its stdin."""

    def __init__(self, stdio: Stdio, stdin_fd: int | None, terminal: int | None) -> None:
        self.stdio = stdio
        self._stdin_fd = stdin_fd  # None once closed (stdinOnce), or without stdin
        self._terminal = terminal  # the pty's master, for resizes
        self._clients: list[socket.socket] = []
        self._lock = threading.Lock()  # the clients
        # Apart from the clients' lock: a write to a full stdin pipe must never hold up
        # the output (the process may be blocked writing it, waiting for us).
        self._stdin_lock = threading.Lock()
        self._server: socket.socket | None = None

    def serve(self, server: socket.socket) -> None:
        """Accept clients on ``server`` in a thread of its own."""
        self._server = server
        threading.Thread(target=self._accept, name="attach-accept", daemon=True).start()

    def _accept(self) -> None:
        assert self._server is not None
        while True:
            try:
                sock, _ = self._server.accept()
            except OSError:
                return
            try:
                # The acknowledgement goes first, so the client knows that every output
                # from now on reaches it.
                sock.sendall(attachwire.frame(HELLO))
            except OSError:
                sock.close()
                continue
            with self._lock:
                self._clients.append(sock)
            threading.Thread(target=self._client, args=(sock,), daemon=True).start()

    def broadcast(self, kind: int, data: bytes) -> None:
        message = attachwire.frame(kind, data)
        with self._lock:
            clients = list(self._clients)
        for sock in clients:
            try:
                sock.sendall(message)
            except OSError:
                self._detach(sock)

    def finish(self) -> None:
        """The container stopped: every attached client's streams end."""
        if self._server is not None:
            with contextlib.suppress(OSError):
                self._server.close()
        with self._lock:
            clients, self._clients = self._clients, []
        for sock in clients:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self._close_stdin()

    def _client(self, sock: socket.socket) -> None:
        reader = attachwire.Reader()
        wants_stdin = False
        while True:
            frames = attachwire.read_frame(sock, reader)
            if frames is None:
                # Gone: its stdin ended with it, and nothing more can reach it.
                self._stdin_ended(sock, wants_stdin)
                self._detach(sock)
                return
            for kind, payload in frames:
                if kind == HELLO:
                    wants_stdin = bool(json.loads(payload or b"{}").get("stdin"))
                elif kind == STDIN and wants_stdin:
                    self._write_stdin(payload)
                elif kind == RESIZE:
                    self._resize(payload)
                elif kind == CLOSE_STDIN and wants_stdin:
                    wants_stdin = False
                    if not self._stdin_ended(sock, True):
                        self._detach(sock)
                        return

    def _stdin_ended(self, sock: socket.socket, had_stdin: bool) -> bool:
        """A client's stdin ended; True when it stays attached for output."""
        if not (had_stdin and self.stdio.stdin):
            return True
        if self.stdio.stdin_once and not self.stdio.tty:
            self._close_stdin()
            return True
        return False

    def _write_stdin(self, data: bytes) -> None:
        with self._stdin_lock:
            fd = self._stdin_fd
            if fd is None or not data:
                return
            with contextlib.suppress(OSError):  # the process closed its end: dropped
                os.write(fd, data)

    def _close_stdin(self) -> None:
        with self._stdin_lock:
            fd, self._stdin_fd = self._stdin_fd, None
        # A terminal's master is also its output: the pump closes that one.
        if fd is not None and fd != self._terminal:
            with contextlib.suppress(OSError):
                os.close(fd)

    def _resize(self, payload: bytes) -> None:
        if self._terminal is None:
            return
        try:
            size = json.loads(payload)
            winsize = struct.pack("HHHH", int(size["Height"]), int(size["Width"]), 0, 0)
            fcntl.ioctl(self._terminal, termios.TIOCSWINSZ, winsize)
        except (ValueError, KeyError, TypeError, OSError):
            pass

    def _detach(self, sock: socket.socket) -> None:
        with self._lock:
            if sock in self._clients:
                self._clients.remove(sock)
        with contextlib.suppress(OSError):
            sock.close()
