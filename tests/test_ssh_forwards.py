"""The SSH path under a flaky connection: port forwards (127.0.0.1 only, started again when ssh

A stand-in for ``ssh -N -L ...`` (a small Python program that listens on each local
port it is given, as ssh does) lets the test end the forwarding process the way a
dropped connection would, without a machine.
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from pytest_k8sdistro.errors import ProvisionError
from pytest_k8sdistro.provisioners.machine import forward

FAKE_SSH = textwrap.dedent(
    """\
    import socket, sys, time
    listeners = []
    args = sys.argv[1:]
    if "--fail" in args:
        print("bind: Address already in use", file=sys.stderr)
        sys.exit(255)
    for flag, value in zip(args, args[1:]):
        if flag == "-L":
            bind, port = value.split(":")[:2]
            server = socket.socket()
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind((bind, int(port)))
            server.listen()
            listeners.append(server)
    while True:
        time.sleep(1)
    """
)


def listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def fake_ssh(tmp_path: Path) -> list[str]:
    script = tmp_path / "ssh.py"
    script.write_text(FAKE_SSH)
    return [sys.executable, str(script)]


def test_forwards_bind_loopback_and_come_back_when_ssh_ends(tmp_path: Path) -> None:
    made = forward.Forwards(fake_ssh(tmp_path), "ci@machine", "10.0.0.5", (80, 8080))
    try:
        argv = made._argv
        bound = [value for flag, value in itertools.pairwise(argv) if flag == "-L"]
        assert sorted(bound) == sorted(
            f"127.0.0.1:{local}:10.0.0.5:{port}" for port, local in made.ports.items()
        )
        local = made.ports[8080]
        assert listening(local)
        first = made.process.pid
        made.process.send_signal(signal.SIGKILL)  # the connection drops
        deadline = time.monotonic() + 10
        while not (made.restarts and listening(local)):
            assert time.monotonic() < deadline, "the forward was not started again"
            time.sleep(0.1)
        assert made.process.pid != first and made.ports[8080] == local
    finally:
        made.stop()
    assert not made.alive()
    time.sleep(forward.RESTART_PAUSE_S + 0.5)
    assert not made.alive(), "a stopped forward was started again"
    assert not listening(local)


def test_a_forward_that_cannot_listen_is_an_error_with_what_ssh_said(tmp_path: Path) -> None:
    with pytest.raises(ProvisionError, match="Address already in use"):
        forward.Forwards([*fake_ssh(tmp_path), "--fail"], "ci@machine", "10.0.0.5", (80,))


def test_the_lease_is_tried_again_when_ssh_itself_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """ssh's exit 255 (a busy machine dropping the key exchange) is retried; the holder's
    own failures are not."""
    from pytest_k8sdistro.provisioners.machine import lease

    monkeypatch.setattr(lease, "CONNECT_PAUSE_S", 0.0)
    answers = iter(["exit 255", f"echo {lease.HELD_LINE}; exec cat >/dev/null"])

    def spawn(argv: object) -> Any:
        return lease.local_process(["sh", "-c", next(answers)])

    taken = lease.Lease.take(spawn, sudo=False, where="vm")
    assert taken is not None and taken.alive
    taken.release()

    failing = iter(["exit 255"] * lease.CONNECT_ATTEMPTS)
    with pytest.raises(ProvisionError, match="the connection failed 3 times"):
        lease.Lease.take(
            lambda argv: lease.local_process(["sh", "-c", next(failing)]), sudo=False, where="vm"
        )
    with pytest.raises(ProvisionError, match="needs util-linux's flock"):
        lease.Lease.take(
            lambda argv: lease.local_process(["sh", "-c", "exit 1"]), sudo=False, where="vm"
        )


FLAKY_SSH = """#!/bin/sh
# Stand-in ssh: refuses the handshake as many times as the file counts, then runs the
# command (the last argument) locally.
count=$(cat "$0.count" 2>/dev/null || echo 0)
if [ "$count" -lt "$(cat "$0.fail")" ]; then
    echo $((count + 1)) > "$0.count"
    echo "kex_exchange_identification: read: Connection reset by peer" >&2
    exit 255
fi
for last; do :; done
exec sh -c "$last"
"""


def flaky_target(tmp_path: Path, failures: int, monkeypatch: pytest.MonkeyPatch) -> Any:
    from pytest_k8sdistro.provisioners.machine import ssh

    fake = tmp_path / "ssh"
    fake.write_text(FLAKY_SSH)
    fake.chmod(0o755)
    (tmp_path / "ssh.fail").write_text(str(failures))
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    monkeypatch.setattr(ssh, "CONNECT_PAUSE_S", 0.0)
    return ssh.SshTarget(ssh.SshAddress(host="machine", user="ci"))


def test_a_command_whose_connection_failed_before_the_login_is_run_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = flaky_target(tmp_path, 2, monkeypatch)
    result = target.execute(["echo", "ran"], timeout=30)
    assert (result.rc, result.stdout) == (0, "ran\n")
    source = tmp_path / "payload"
    source.write_bytes(b"all of it\n")
    (tmp_path / "ssh.count").write_text("0")
    target.upload(source, str(tmp_path / "copied"))  # stdin rewound for the try that runs
    assert (tmp_path / "copied").read_bytes() == b"all of it\n"


def test_three_failed_handshakes_are_an_error_and_the_remote_failures_are_not_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = flaky_target(tmp_path, 3, monkeypatch)
    with pytest.raises(ProvisionError, match="kex_exchange_identification"):
        target.execute(["true"], timeout=30)
    assert (tmp_path / "ssh.count").read_text().strip() == "3"
    (tmp_path / "ssh.fail").write_text("0")
    (tmp_path / "ssh.count").write_text("0")
    runs = tmp_path / "runs"
    # A command that ran and exited 255 is not run again: only a refused handshake is.
    with pytest.raises(ProvisionError):
        target.execute(["sh", "-c", f"echo x >> {runs}; exit 255"], timeout=30)
    assert runs.read_text() == "x\n"
