"""The node supervisor script in real containers, under dash and busybox's ash.

rancher/k3s has only busybox, the stand-in images run Debian's dash: the script must
behave the same under both. The child here is a shell loop that, on its first start,
leaves a sibling process behind, as a distribution leaves its pods running.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import docker
import pytest
from image.specs import StandinImages

from pytest_k8sdistro.provisioners.docker import supervisor

pytestmark = pytest.mark.docker

TEST_LABELS = {"pytest-k8sdistro.test": "1"}

CHILD = (
    "[ -e /run/sibling.pid ] || { setsid sleep 1000 & echo $! >/run/sibling.pid; }; "
    "echo child up $$; trap 'echo child stopping; exit 0' TERM; "
    "while :; do [ -e /run/exit-now ] && exit 3; sleep 0.2; done"
)


@pytest.fixture(params=["dash", "busybox-ash"])
def node(request: pytest.FixtureRequest, standin_images: StandinImages) -> Iterator[Any]:
    shell = ["/bin/sh"] if request.param == "dash" else ["busybox", "sh"]
    client = docker.from_env()
    container = client.containers.run(
        standin_images.base,
        entrypoint=[*shell, "-c", supervisor.SCRIPT, supervisor.NAME],
        command=["/bin/sh", "-c", CHILD],
        labels=TEST_LABELS,
        tmpfs={"/run": ""},
        network_mode="none",
        detach=True,
    )
    try:
        yield container
    finally:
        container.remove(force=True, v=True)
        client.close()


def sh(container: Any, script: str) -> str:
    code, output = container.exec_run(["/bin/sh", "-c", script])
    assert code == 0, output
    return bytes(output).decode().strip()


def wait_for(what: str, check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def child_pid(container: Any) -> int:
    return int(wait_for("the child", lambda: sh(container, f"cat {supervisor.CHILD_PID} || :")))


def test_restart_on_request_keeps_the_container_and_siblings(node: Any) -> None:
    first = child_pid(node)
    sibling = wait_for("the sibling", lambda: sh(node, "cat /run/sibling.pid 2>/dev/null || :"))

    code, _ = node.exec_run(list(supervisor.RESTART_COMMAND))
    assert code == 0
    second = wait_for("a new child", lambda: (p := child_pid(node)) != first and p)
    # A child that exits while a restart file is present is restarted too.
    sh(node, f": >{supervisor.RESTART_FILE}; kill {second}")
    wait_for("a third child", lambda: child_pid(node) not in (first, second))

    node.reload()
    assert node.status == "running"
    sh(node, f"kill -0 {sibling}")  # the "pod" outlived two restarts
    logs = node.logs().decode()
    assert logs.count("child up") == 3
    assert logs.count("restarting /bin/sh") == 2
    assert "child stopping" in logs  # SIGTERM was forwarded, not SIGKILL


def test_sigterm_stops_cleanly_and_an_unrequested_exit_stops_the_node(node: Any) -> None:
    child_pid(node)
    started = time.monotonic()
    node.stop(timeout=20)
    assert time.monotonic() - started < 10  # not killed after the timeout
    node.reload()
    assert node.attrs["State"]["ExitCode"] == 0
    assert f"{supervisor.NAME}: stopped" in node.logs().decode()

    node.start()
    child_pid(node)
    sh(node, "touch /run/exit-now")
    wait_for("the node to stop", lambda: node.reload() or node.status == "exited")
    assert node.attrs["State"]["ExitCode"] == 3
    assert "exited with status 3; the node stops" in node.logs().decode()
