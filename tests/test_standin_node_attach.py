"""The shim's attach side (node/shim.py, attachio.py, attachwire.py) without a server:
a container started through ContainerDir as the kubelet starts it, and clients on its
attach socket. stdinOnce and detaching follow containerd's CRI ContainerIO.Attach."""

from __future__ import annotations

import json
import os
import select
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from k8s_standin.node import attachwire
from k8s_standin.node.attachio import Stdio
from k8s_standin.node.runtime import ContainerDir

pytestmark = pytest.mark.skipif(os.name != "posix", reason="needs POSIX processes")


def _wait(check: Callable[[], object], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


_STARTED: list[ContainerDir] = []


@pytest.fixture(autouse=True)
def _stop_containers() -> Iterator[None]:
    """Containers run in sessions of their own: a failed test must not leave them."""
    yield
    while _STARTED:
        _STARTED.pop().kill_now()


def start(tmp_path: Path, script: str, stdio: Stdio, name: str = "c") -> ContainerDir:
    cdir = ContainerDir(tmp_path / name)
    _STARTED.append(cdir)
    log = tmp_path / ("0.log" if name == "c" else f"{name}.log")
    cdir.start(["/bin/sh", "-c", script], dict(os.environ), None, log, 0, stdio)
    _wait(lambda: (cdir.path / "pid").exists(), "the container's pid")
    return cdir


def attach(cdir: ContainerDir, stdin: bool, tty: bool = False) -> attachwire.ShimAttachment:
    return attachwire.ShimAttachment(attachwire.connect(cdir.path), tty, stdin)


def output(conn: attachwire.ShimAttachment, until: bytes = b"", timeout: float = 10.0) -> bytes:
    """stdout and stderr the client receives until the shim ends it (or ``until`` shows)."""
    conn.sock.settimeout(timeout)
    got = b""
    while until == b"" or until not in got:
        frames = conn.read()
        if frames is None:
            break
        got += b"".join(data for _, data in frames)
    return got


def log_lines(tmp_path: Path) -> list[tuple[str, str]]:
    lines = (tmp_path / "0.log").read_text().splitlines()
    return [(line.split(" ", 3)[1], line.split(" ", 3)[3]) for line in lines]


def exit_code(cdir: ContainerDir) -> int:
    _wait(lambda: (cdir.path / "exit").exists(), "the container's exit")
    return int(json.loads((cdir.path / "exit").read_text())["exitCode"])


def test_stdin_once_closes_the_containers_stdin_when_the_client_detaches(
    tmp_path: Path,
) -> None:
    cdir = start(tmp_path, "read l; echo got $l; cat; echo eof", Stdio(True, True))
    conn = attach(cdir, stdin=True)
    conn.write_stdin(b"hello\n")
    assert output(conn, until=b"got hello\n") == b"got hello\n"
    conn.close_stdin()
    # The stdin closed for good: cat sees its end; the client stays attached for output.
    assert output(conn) == b"eof\n"
    assert exit_code(cdir) == 0
    assert log_lines(tmp_path) == [("stdout", "got hello"), ("stdout", "eof")]


def test_without_stdin_once_a_client_detaches_and_stdin_stays_open(tmp_path: Path) -> None:
    cdir = start(tmp_path, "while read l; do echo got $l; done; echo eof", Stdio(True))
    first = attach(cdir, stdin=True)
    first.write_stdin(b"one\n")
    assert output(first, until=b"got one\n") == b"got one\n"
    first.close_stdin()
    assert output(first) == b""  # detached: its stream ended, the container runs on
    second = attach(cdir, stdin=True)
    second.write_stdin(b"two\n")
    assert output(second, until=b"got two\n") == b"got two\n"
    # A client going away is its stdin ending too: detached, nothing else.
    second.close()
    time.sleep(0.2)
    assert not (cdir.path / "exit").exists()
    cdir.kill_now()


def test_output_from_the_moment_of_attaching_and_all_of_it_in_the_log(tmp_path: Path) -> None:
    script = "echo before; read go; echo after; echo oops >&2"
    cdir = start(tmp_path, script, Stdio(True, True))
    _wait(lambda: "before" in (tmp_path / "0.log").read_text(), "the first line logged")
    watcher = attach(cdir, stdin=False)
    writer = attach(cdir, stdin=True)
    writer.write_stdin(b"\n")
    writer.close_stdin()
    seen = output(watcher)
    assert b"before" not in seen and b"after\n" in seen and b"oops\n" in seen
    assert exit_code(cdir) == 0
    # stdout and stderr are separate pipes: their order between each other is not kept.
    lines = log_lines(tmp_path)
    assert [line for line in lines if line[0] == "stdout"] == [
        ("stdout", "before"),
        ("stdout", "after"),
    ]
    assert [line for line in lines if line[0] == "stderr"] == [("stderr", "oops")]


def test_a_container_without_stdin_drops_what_a_client_sends(tmp_path: Path) -> None:
    cdir = start(tmp_path, "cat; echo eof", Stdio())
    # stdin from /dev/null, as before: cat ends at once.
    assert exit_code(cdir) == 0
    assert log_lines(tmp_path) == [("stdout", "eof")]
    cdir = start(tmp_path, "sleep 30", Stdio(), name="d")
    conn = attach(cdir, stdin=True)
    conn.write_stdin(b"ignored\n")
    conn.close_stdin()  # nothing to close: the client stays attached
    # Neither output nor an end comes.
    assert select.select([conn.sock], [], [], 0.3)[0] == []
    cdir.kill_now()


def test_a_terminal_merges_the_streams_and_takes_resizes(tmp_path: Path) -> None:
    script = "read l; echo got $l; stty size; echo err >&2"
    cdir = start(tmp_path, script, Stdio(True, True, True))
    conn = attach(cdir, stdin=True, tty=True)
    conn.resize(100, 40)
    time.sleep(0.1)
    conn.write_stdin(b"hi\n")
    seen = output(conn)
    # The terminal echoes the input, ends lines with CRLF, and carries stderr too.
    assert seen == b"hi\r\ngot hi\r\n40 100\r\nerr\r\n", seen
    assert exit_code(cdir) == 0
    assert {stream for stream, _ in log_lines(tmp_path)} == {"stdout"}


def test_frames_arrive_whole_however_the_bytes_are_split() -> None:
    stream = attachwire.frame(attachwire.STDOUT, b"abc") + attachwire.frame(attachwire.CLOSE_STDIN)
    reader = attachwire.Reader()
    got = [frame for i in range(len(stream)) for frame in reader.feed(stream[i : i + 1])]
    assert got == [(attachwire.STDOUT, b"abc"), (attachwire.CLOSE_STDIN, b"")]


def test_the_pod_specs_stdio_reaches_the_shim_as_flags() -> None:
    spec = {"name": "c", "stdin": True, "stdinOnce": True, "tty": True}
    stdio = Stdio.from_spec(spec)
    assert stdio.flags() == ["--stdin", "--stdin-once", "--tty"]
    assert Stdio.from_flags(stdio.flags()) == stdio
    assert Stdio.from_spec({"name": "c"}).flags() == []


def test_a_large_input_through_cat_does_not_stall(tmp_path: Path) -> None:
    # cat writes as it reads: the shim must drain the output while stdin is being written.
    cdir = start(tmp_path, "cat", Stdio(True, True))
    conn = attach(cdir, stdin=True)
    data = b"x" * 1023 + b"\n"
    received: list[bytes] = []

    def drain() -> None:
        received.append(output(conn, timeout=20))

    reader = threading.Thread(target=drain)
    reader.start()
    for _ in range(1024):  # 1 MiB, far beyond a pipe's buffer
        conn.write_stdin(data)
    conn.close_stdin()
    reader.join(timeout=30)
    assert received and len(received[0]) == 1024 * len(data)
    assert exit_code(cdir) == 0


def test_the_api_server_asks_the_kubelets_attach_path() -> None:
    from k8s_standin.streaming import Options

    opts = Options("attach", container="main", stdin=True, stdout=True, stderr=True)
    # The kubelet's own path and parameters (no command for attach).
    assert opts.kubelet_path("ns", "p") == "/attach/ns/p/main?input=1&output=1&error=1"
