"""The stand-in's exec, attach and port-forward (k8s_standin/streaming.py, node/streams.py),
with the kubernetes Python client as the suites use it: the channel protocols, exit codes,
stdin and its v5 close, a terminal and its size, attach's stdinOnce and output from the
moment of attaching, port-forward's port prefixes, RBAC's `create` on the WebSocket GET,
and the STANDIN_NO_STREAMING fault; and `kubectl port-forward` (SPDY, tunnelled through
WebSocket or not; k8s_standin/spdy.py), and `kubectl exec`, `cp`, `run -i` and a terminal over
SPDY, where kubectl is installed."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from k8s_standin.node.testing import Standin, wait_for
from kubectl_forward import (
    KUBECTL,
    PLAIN_SPDY,
    SPDY_REMOTE_COMMAND,
    fetch,
    in_terminal,
    port_forward,
)
from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.stream import portforward, stream
from kubernetes.stream.ws_client import WSClient

pytestmark = pytest.mark.skipif(os.name != "posix", reason="needs POSIX processes")

# Run in the container's working directory: host-mode pods share the host's filesystem.
WEB = (
    "mkdir -p www-$HOSTNAME && echo page:$HOSTNAME > www-$HOSTNAME/index.html && "
    "exec httpd -f -p $PORT -h www-$HOSTNAME"
)


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Standin]:
    server = Standin(tmp_path_factory.mktemp("k3s")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def core(standin: Standin) -> client.CoreV1Api:
    api = client.CoreV1Api(standin.api_client())
    wait_for(lambda: api.read_namespaced_service_account("default", "default"), 10, "default SA")
    return api


@pytest.fixture(scope="module")
def pod_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The web pod's working directory, a test directory rather than the host's /tmp."""
    return tmp_path_factory.mktemp("pod")


@pytest.fixture(scope="module")
def web(core: client.CoreV1Api, pod_dir: Path) -> tuple[str, int]:
    """A running busybox pod serving its name over HTTP (host network: a port of its own)."""
    from k8s_standin.node.testing import free_port

    port = free_port()
    name = f"web-{uuid.uuid4().hex[:6]}"
    container = {
        "name": "main",
        "image": "busybox:1.36",
        "command": ["sh", "-c", WEB],
        "env": [{"name": "PORT", "value": str(port)}, {"name": "GREETING", "value": "hi"}],
        "workingDir": str(pod_dir),
    }
    core.create_namespaced_pod(
        "default", {"metadata": {"name": name}, "spec": {"containers": [container]}}
    )
    wait_for(
        lambda: core.read_namespaced_pod(name, "default").status.phase == "Running" or None,
        30,
        "the web pod running",
    )
    return name, port


def run(core: client.CoreV1Api, pod: str, command: list[str], **kwargs: Any) -> Any:
    session = stream(
        core.connect_get_namespaced_pod_exec,
        pod,
        "default",
        command=command,
        stdin=kwargs.pop("stdin", False),
        stdout=True,
        stderr=kwargs.pop("stderr", True),
        tty=kwargs.pop("tty", False),
        _preload_content=False,
        **kwargs,
    )
    return session


def test_exec_output_environment_and_exit_codes(
    core: client.CoreV1Api, web: tuple[str, int], pod_dir: Path
) -> None:
    pod, _ = web
    session = run(core, pod, ["sh", "-c", 'echo "$GREETING:$HOSTNAME"; pwd; echo oops >&2'])
    session.run_forever(timeout=10)
    assert session.subprotocol == "v5.channel.k8s.io"
    assert session.read_stdout() == f"hi:{pod}\n{pod_dir}\n"
    assert session.read_stderr() == "oops\n"
    assert session.returncode == 0
    session = run(core, pod, ["sh", "-c", "exit 3"])
    session.run_forever(timeout=10)
    status = json.loads(session.read_channel(3))
    assert status["status"] == "Failure"
    assert status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    assert "exit code 3" in status["message"]


def test_v4_clients_get_the_status_on_channel_3(
    core: client.CoreV1Api, web: tuple[str, int]
) -> None:
    pod, _ = web
    config = core.api_client.configuration
    query = urlencode(
        [("command", c) for c in ("sh", "-c", "echo v4; exit 5")] + [("stdout", "true")]
    )
    url = f"{config.host.replace('https://', 'wss://')}/api/v1/namespaces/default/pods/{pod}/exec"
    # Only v4 offered, as clients before v5 did.
    session = WSClient(
        config, f"{url}?{query}", {"sec-websocket-protocol": "v4.channel.k8s.io"}, True
    )
    session.run_forever(timeout=10)
    assert session.subprotocol == "v4.channel.k8s.io"
    assert session.read_stdout() == "v4\n"
    assert session.returncode == 5


def test_stdin_ends_with_the_v5_close_signal(core: client.CoreV1Api, web: tuple[str, int]) -> None:
    pod, _ = web
    session = run(core, pod, ["sh", "-c", "cat; echo end"], stdin=True)
    session.write_stdin("line one\n")
    session.close_channel(0)
    session.run_forever(timeout=10)
    assert session.read_stdout() == "line one\nend\n"
    assert session.returncode == 0


def test_a_terminal_and_its_size(core: client.CoreV1Api, web: tuple[str, int]) -> None:
    pod, _ = web
    session = run(
        core, pod, ["sh", "-c", "sleep 0.5; tty; stty size"], stdin=True, tty=True, stderr=False
    )
    session.write_channel(4, json.dumps({"Width": 100, "Height": 30}))
    session.run_forever(timeout=10)
    out = session.read_stdout()
    assert "/dev/pts/" in out and "30 100" in out, out
    assert session.returncode == 0


def test_exec_into_a_missing_container_is_refused(
    core: client.CoreV1Api, web: tuple[str, int]
) -> None:
    pod, _ = web
    with pytest.raises(ApiException) as info:
        stream(
            core.connect_get_namespaced_pod_exec,
            pod,
            "default",
            command=["true"],
            container="nope",
            stdout=True,
            stderr=True,
            stdin=False,
            tty=False,
        )
    assert "container nope is not valid" in str(info.value)


def interactive(core: client.CoreV1Api, script: str, **stdio: bool) -> str:
    """A running busybox pod whose container has the given stdin/stdinOnce/tty."""
    name = f"in-{uuid.uuid4().hex[:6]}"
    container = {"name": "main", "image": "busybox:1.36", "command": ["sh", "-c", script]}
    container.update(stdio)
    core.create_namespaced_pod(
        "default",
        {"metadata": {"name": name}, "spec": {"restartPolicy": "Never", "containers": [container]}},
    )
    wait_for(
        lambda: core.read_namespaced_pod(name, "default").status.phase == "Running" or None,
        30,
        f"{name} running",
    )
    return name


def attach(core: client.CoreV1Api, pod: str, **kwargs: Any) -> Any:
    return stream(
        core.connect_get_namespaced_pod_attach,
        pod,
        "default",
        stdin=kwargs.pop("stdin", False),
        stdout=True,
        stderr=kwargs.pop("stderr", True),
        tty=kwargs.pop("tty", False),
        _preload_content=False,
        **kwargs,
    )


def test_attach_with_stdin_once_ends_with_the_container(core: client.CoreV1Api) -> None:
    pod = interactive(core, "read l; echo got $l; echo err >&2", stdin=True, stdinOnce=True)
    session = attach(core, pod, stdin=True)
    session.write_stdin("hello\n")
    session.close_channel(0)
    session.run_forever(timeout=10)
    assert session.subprotocol == "v5.channel.k8s.io"
    assert session.read_stdout() == "got hello\n"
    assert session.read_stderr() == "err\n"
    assert session.returncode == 0  # channel 3: Success
    wait_for(
        lambda: core.read_namespaced_pod(pod, "default").status.phase == "Succeeded" or None,
        30,
        "the pod done",
    )
    # Two pipes: the log keeps each stream's order, not their order between each other.
    logged = core.read_namespaced_pod_log(pod, "default").splitlines()
    assert sorted(logged) == ["err", "got hello"]


def test_attach_follows_output_from_the_moment_it_attached(core: client.CoreV1Api) -> None:
    pod = interactive(core, "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done")
    wait_for(
        lambda: "tick 1" in core.read_namespaced_pod_log(pod, "default") or None,
        10,
        "the first ticks logged",
    )
    session = attach(core, pod)
    session.update(timeout=1.5)
    session.update(timeout=1.5)
    seen = session.read_stdout()
    session.close()
    ticks = [int(line.split()[1]) for line in seen.splitlines()]
    assert ticks and ticks[0] > 1 and ticks == list(range(ticks[0], ticks[0] + len(ticks))), seen
    core.delete_namespaced_pod(pod, "default", grace_period_seconds=0)


def test_attach_to_a_terminal(core: client.CoreV1Api) -> None:
    pod = interactive(core, "read l; echo got $l >&2", stdin=True, stdinOnce=True, tty=True)
    # Asked without a terminal: the container's own setting decides, stderr goes there.
    session = attach(core, pod, stdin=True)
    session.write_stdin("hi\n")
    session.run_forever(timeout=10)
    assert session.read_stdout() == "hi\r\ngot hi\r\n"
    assert session.read_stderr() == ""
    assert session.returncode == 0


def test_attach_to_a_completed_pod_is_refused(core: client.CoreV1Api) -> None:
    name = f"done-{uuid.uuid4().hex[:6]}"
    container = {"name": "main", "image": "busybox:1.36", "command": ["true"]}
    core.create_namespaced_pod(
        "default",
        {"metadata": {"name": name}, "spec": {"restartPolicy": "Never", "containers": [container]}},
    )
    wait_for(
        lambda: core.read_namespaced_pod(name, "default").status.phase == "Succeeded" or None,
        30,
        "the pod done",
    )
    with pytest.raises(ApiException) as info:
        attach(core, name)
    assert "400" in str(info.value) and "completed pod" in str(info.value)


def test_attach_to_a_container_that_is_not_running_is_refused(core: client.CoreV1Api) -> None:
    name = f"half-{uuid.uuid4().hex[:6]}"
    containers = [
        {"name": "done", "image": "busybox:1.36", "command": ["true"]},
        {"name": "main", "image": "busybox:1.36", "command": ["sleep", "60"]},
    ]
    core.create_namespaced_pod(
        "default",
        {"metadata": {"name": name}, "spec": {"restartPolicy": "Never", "containers": containers}},
    )

    def done_exited() -> bool | None:
        statuses = core.read_namespaced_pod(name, "default").status.container_statuses or []
        return any(s.name == "done" and s.state.terminated for s in statuses) or None

    wait_for(done_exited, 30, "the first container done")
    with pytest.raises(ApiException) as info:
        attach(core, name, container="done")
    assert f"container done not found in pod {name}_default" in str(info.value)
    core.delete_namespaced_pod(name, "default", grace_period_seconds=0)


def test_port_forward_carries_http(core: client.CoreV1Api, web: tuple[str, int]) -> None:
    pod, port = web
    forward = portforward(
        core.connect_get_namespaced_pod_portforward, pod, "default", ports=str(port)
    )
    sock = forward.socket(port)
    sock.settimeout(10)
    sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    sock.close()
    assert answer.startswith(b"HTTP/1.") and answer.endswith(f"page:{pod}\n".encode()), answer
    assert forward.error(port) is None


def test_port_forward_to_a_closed_port_reports_on_the_error_channel(
    core: client.CoreV1Api, web: tuple[str, int]
) -> None:
    pod, _ = web
    from k8s_standin.node.testing import free_port

    closed = free_port()
    forward = portforward(
        core.connect_get_namespaced_pod_portforward, pod, "default", ports=str(closed)
    )
    deadline = time.monotonic() + 10
    while forward.error(closed) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert f"error forwarding port {closed}" in (forward.error(closed) or "")


needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
KUBECTL_PATHS = pytest.mark.parametrize(
    "env", [{}, PLAIN_SPDY], ids=["spdy-over-websocket", "plain-spdy"]
)


@needs_kubectl
@KUBECTL_PATHS
def test_kubectl_port_forward_gets_the_page(
    standin: Standin, core: client.CoreV1Api, web: tuple[str, int], env: dict[str, str]
) -> None:
    pod, port = web
    # More than SPDY's 64 KiB window: kubectl's SPDY library does no flow control.
    session = run(
        core, pod, ["sh", "-c", "head -c 300000 /dev/zero | tr '\\0' x > www-$HOSTNAME/big"]
    )
    session.run_forever(timeout=10)
    assert session.returncode == 0
    with port_forward(standin.kubeconfig, f"pod/{pod}", port, env=env) as local:
        assert fetch(local) == f"page:{pod}\n".encode()
        # Each connection is a new pair of streams on the same session.
        assert fetch(local) == f"page:{pod}\n".encode()
        big = fetch(local, "/big")
    assert big == b"x" * 300000


@pytest.mark.parametrize(
    ("versions", "code", "message"),
    [
        ("v9.example", 403, "unable to negotiate protocol"),
        ("", 400, "X-Stream-Protocol-Version is required"),
    ],
    ids=["unknown-version", "no-version"],
)
def test_a_spdy_upgrade_negotiates_the_stream_protocol(
    core: client.CoreV1Api, web: tuple[str, int], versions: str, code: int, message: str
) -> None:
    # httpstream.Handshake: the one version is portforward.k8s.io.
    pod, _ = web
    api = core.api_client
    headers = {"Connection": "Upgrade", "Upgrade": "SPDY/3.1"}
    if versions:
        headers["X-Stream-Protocol-Version"] = versions
    answer = api.rest_client.pool_manager.request(
        "POST",
        f"{api.configuration.host}/api/v1/namespaces/default/pods/{pod}/portforward",
        headers=headers,
        preload_content=True,
    )
    assert answer.status == code and message in answer.data.decode(), answer.data
    if code == 403:
        assert answer.headers["X-Accepted-Stream-Protocol-Versions"] == "portforward.k8s.io"


def _account_client(standin: Standin, core: client.CoreV1Api, name: str) -> client.CoreV1Api:
    core.create_namespaced_service_account("default", {"metadata": {"name": name}})
    answer = core.create_namespaced_service_account_token(
        name, "default", {"spec": {"expirationSeconds": 600}}
    )
    admin = standin.api_client().configuration
    config = copy.copy(admin)
    config.cert_file = config.key_file = None
    config.api_key = {"authorization": f"Bearer {answer.status.token}"}
    return client.CoreV1Api(client.ApiClient(config))


def test_rbac_asks_create_for_the_websocket_get(
    standin: Standin, core: client.CoreV1Api, web: tuple[str, int]
) -> None:
    pod, _ = web
    rbac = client.RbacAuthorizationV1Api(core.api_client)
    name = f"execer-{uuid.uuid4().hex[:6]}"
    account = _account_client(standin, core, name)
    rules = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]
    rbac.create_namespaced_role(
        "default",
        {
            "metadata": {"name": name},
            "rules": [*rules, {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["get"]}],
        },
    )
    rbac.create_namespaced_role_binding(
        "default",
        {
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": "default"}],
        },
    )
    with pytest.raises(ApiException) as info:
        run(account, pod, ["true"])
    assert "403" in str(info.value) and "cannot create resource" in str(info.value)
    rbac.patch_namespaced_role(
        name,
        "default",
        {
            "rules": [
                *rules,
                {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["get", "create"]},
            ]
        },
    )
    session = run(account, pod, ["echo", "allowed"])
    session.run_forever(timeout=10)
    assert session.read_stdout() == "allowed\n"


def test_no_streaming_fault_fails_the_upgrade(tmp_path: Any) -> None:
    server = Standin(tmp_path, env={"STANDIN_NO_STREAMING": "1"}).start()
    try:
        api = client.CoreV1Api(server.api_client())
        wait_for(lambda: api.read_namespaced_service_account("default", "default"), 10, "SA")
        api.create_namespaced_pod(
            "default",
            {
                "metadata": {"name": "idle"},
                "spec": {
                    "containers": [
                        {"name": "main", "image": "busybox:1.36", "command": ["sleep", "60"]}
                    ]
                },
            },
        )
        wait_for(
            lambda: api.read_namespaced_pod("idle", "default").status.phase == "Running" or None,
            30,
            "the pod running",
        )
        with pytest.raises(ApiException) as info:
            run(api, "idle", ["true"])
        assert "400" in str(info.value) and "streaming server not available" in str(info.value)
        if KUBECTL is not None:
            for env in ({}, PLAIN_SPDY):
                done = _kubectl(server.kubeconfig, "port-forward", "idle", ":80", env=env)
                assert done.returncode != 0, done
                assert "error upgrading connection" in done.stderr, done.stderr
    finally:
        server.stop()


def test_streams_of_an_agents_pod_go_through_its_kubelet(tmp_path: Any) -> None:
    """The API server proxies the upgrade to the agent's kubelet (/exec, /portForward)."""
    from k8s_standin.node.testing import free_port

    server = Standin(tmp_path / "server", args=("--disable", "traefik"), node_name="server-1")
    agent = Standin(tmp_path / "agent", join=server, node_name="agent-1")
    try:
        server.start()
        agent.start()
        core = client.CoreV1Api(server.api_client())
        wait_for(lambda: core.read_namespaced_service_account("default", "default"), 15, "SA")
        port = free_port()
        container = {
            "name": "main",
            "image": "busybox:1.36",
            "command": ["sh", "-c", WEB],
            "env": [{"name": "PORT", "value": str(port)}],
            "workingDir": str(tmp_path),
        }
        core.create_namespaced_pod(
            "default",
            {
                "metadata": {"name": "far"},
                "spec": {"nodeName": "agent-1", "containers": [container]},
            },
        )
        wait_for(
            lambda: core.read_namespaced_pod("far", "default").status.phase == "Running" or None,
            60,
            "the agent's pod running",
        )
        if "not serving on :10250" in agent.log_tail(20000):
            pytest.skip("the agent's kubelet could not listen on 10250 (taken on this host)")
        session = run(core, "far", ["sh", "-c", 'echo "far:$HOSTNAME"; exit 4'])
        session.run_forever(timeout=10)
        assert session.read_stdout() == "far:far\n"
        assert session.returncode == 4
        forward = portforward(
            core.connect_get_namespaced_pod_portforward, "far", "default", ports=str(port)
        )
        sock = forward.socket(port)
        sock.settimeout(10)
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        assert answer.endswith(b"page:far\n"), answer
        if KUBECTL is not None:
            # The upgrade-aware proxy passes the SPDY and tunnelled upgrades on as well.
            for env in ({}, PLAIN_SPDY):
                with port_forward(server.kubeconfig, "pod/far", port, env=env) as local:
                    assert fetch(local) == b"page:far\n"
        reader = {
            "name": "main",
            "image": "busybox:1.36",
            "command": ["sh", "-c", "read l; echo far got $l"],
            "stdin": True,
            "stdinOnce": True,
        }
        core.create_namespaced_pod(
            "default",
            {
                "metadata": {"name": "far-in"},
                "spec": {"nodeName": "agent-1", "containers": [reader]},
            },
        )
        wait_for(
            lambda: core.read_namespaced_pod("far-in", "default").status.phase == "Running" or None,
            60,
            "the agent's second pod running",
        )
        session = stream(
            core.connect_get_namespaced_pod_attach,
            "far-in",
            "default",
            stdin=True,
            stdout=True,
            stderr=True,
            tty=False,
            _preload_content=False,
        )
        session.write_stdin("x\n")
        session.close_channel(0)
        session.run_forever(timeout=10)
        assert session.read_stdout() == "far got x\n"
        assert session.returncode == 0
    finally:
        agent.stop()
        server.stop()


def _kubectl(kubeconfig: Path, *args: str, env: dict[str, str], stdin: str | None = None) -> Any:
    assert KUBECTL is not None
    return subprocess.run(
        [KUBECTL, "--kubeconfig", str(kubeconfig), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **env},
    )


def _over_spdy(standin: Standin, *args: str, stdin: str | None = None) -> Any:
    """kubectl with its exec and attach over SPDY/3.1."""
    return _kubectl(standin.kubeconfig, *args, env=SPDY_REMOTE_COMMAND, stdin=stdin)


@needs_kubectl
def test_kubectl_exec_over_spdy(standin: Standin, web: tuple[str, int]) -> None:
    pod, _ = web
    script = 'echo "$GREETING:$HOSTNAME"; echo oops >&2; exit 7'
    done = _over_spdy(standin, "exec", pod, "--", "sh", "-c", script)
    assert done.returncode == 7, done
    assert done.stdout == f"hi:{pod}\n", done
    assert "oops\n" in done.stderr and "command terminated with exit code 7" in done.stderr
    # stdin ends with the stdin stream's FIN.
    done = _over_spdy(standin, "exec", "-i", pod, "--", "sh", "-c", "cat; echo end", stdin="in\n")
    assert (done.returncode, done.stdout) == (0, "in\nend\n"), done
    # More than SPDY's 64 KiB window, to a client that does no flow control.
    done = _over_spdy(standin, "exec", pod, "--", "sh", "-c", "head -c 300000 /dev/zero")
    assert done.returncode == 0 and done.stdout == "\0" * 300000, done.stderr


@needs_kubectl
def test_kubectl_cp_over_spdy(
    standin: Standin, web: tuple[str, int], pod_dir: Path, tmp_path: Path
) -> None:
    pod, _ = web
    source = tmp_path / "up.txt"
    source.write_text("over spdy\n")
    done = _over_spdy(standin, "cp", str(source), f"default/{pod}:{pod_dir}/spdy-up.txt")
    assert done.returncode == 0, done
    back = tmp_path / "back.txt"
    done = _over_spdy(standin, "cp", f"default/{pod}:{pod_dir}/spdy-up.txt", str(back))
    assert done.returncode == 0, done
    assert back.read_text() == "over spdy\n"


@needs_kubectl
def test_kubectl_run_and_attach_over_spdy(standin: Standin, core: client.CoreV1Api) -> None:
    # run -i attaches to the new pod's container; the end of stdin (its stream's FIN)
    # closes the container's, so `read` returns and the container ends with its code.
    name = f"reader-{uuid.uuid4().hex[:6]}"
    done = _over_spdy(
        standin,
        *("run", "-i", "--rm", "--restart=Never", "--image=busybox:1.36", name),
        *("--", "sh", "-c", "read l; echo got $l; exit 3"),
        stdin="hello\n",
    )
    assert done.returncode == 3, done
    assert "got hello\n" in done.stdout, done


@needs_kubectl
def test_kubectl_exec_with_a_terminal_over_spdy(standin: Standin, web: tuple[str, int]) -> None:
    # -t: no stderr stream, a resize stream carrying kubectl's own terminal size. That
    # size comes after the command started (as with a real runtime), so it is waited for.
    pod, _ = web
    script = (
        "for i in $(seq 100); do s=$(stty size 2>/dev/null); "
        "[ \"$s\" = '33 101' ] && break; sleep 0.1; done; "
        "echo size $s; tty; exit 4"
    )
    command = ["exec", "-it", pod, "--", "sh", "-c", script]
    code, shown = in_terminal(standin.kubeconfig, command, env=SPDY_REMOTE_COMMAND, size=(33, 101))
    assert code == 4, shown
    assert b"size 33 101\r\n/dev/pts/" in shown, shown
