"""The stand-in's node side across control-plane restarts, and its fault switches.

Each test runs its own server process, because restarts and faults change it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from k8s_standin.node.testing import Standin, wait_for
from kubernetes import client
from kubernetes.client.rest import ApiException

# $$ is the kubelet's escape for $ in commands: $$$$ reaches the shell as $$.
PID_SCRIPT = "echo pid=$$$$; while true; do sleep 1; done"


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Any]:
    servers: list[Standin] = []

    def factory(**env: str) -> Standin:
        server = Standin(tmp_path / f"s{len(servers)}", env=env)
        servers.append(server)
        return server.start()

    yield factory
    for server in servers:
        server.stop()


def _pod(name: str, script: str = PID_SCRIPT) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "terminationGracePeriodSeconds": 2,
            "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", script]}],
        },
    }


def _running(core: client.CoreV1Api, name: str) -> Any:
    pod = core.read_namespaced_pod(name, "default")
    statuses = pod.status.container_statuses or []
    return pod if pod.status.phase == "Running" and statuses and statuses[0].ready else None


def _pid(core: client.CoreV1Api, name: str) -> int:
    for line in core.read_namespaced_pod_log(name, "default").splitlines():
        if line.startswith("pid="):
            return int(line.split("=", 1)[1])
    raise AssertionError(f"no pid in the log of {name}")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _ready_service_account(core: client.CoreV1Api) -> None:
    wait_for(
        lambda: core.read_namespaced_service_account("default", "default"),
        15,
        "the default service account",
    )


def test_running_pods_are_adopted_across_restart(make: Any) -> None:
    server = make()
    core = client.CoreV1Api(server.api_client())
    _ready_service_account(core)
    core.create_namespaced_pod("default", _pod("survivor"))
    core.create_namespaced_pod("default", _pod("crashy", "echo pid=$$$$; sleep 1; exit 1"))
    before = wait_for(lambda: _running(core, "survivor"), 60, "the pod to run")
    pid = wait_for(lambda: _pid(core, "survivor"), 20, "the pid line")
    wait_for(
        lambda: (
            core.read_namespaced_pod("crashy", "default").status.container_statuses[0].restart_count
            >= 1
        ),
        60,
        "crashy to restart once",
    )

    server.restart()
    assert _alive(pid), "stopping the control plane must not stop containers"
    core = client.CoreV1Api(server.api_client())
    wait_for(
        lambda: all(
            c.status == "True"
            for n in core.list_node().items
            for c in n.status.conditions
            if c.type == "Ready"
        ),
        60,
        "node Ready",
    )
    # Give the new kubelet a few sync periods to (wrongly) restart anything.
    wait_for(
        lambda: (
            core.read_namespaced_pod("survivor", "default")
            .status.container_statuses[0]
            .state.running
        ),
        40,
        "the adopted pod's status",
    )
    after = _running(core, "survivor")
    assert after is not None
    assert after.metadata.uid == before.metadata.uid
    assert after.status.container_statuses[0].restart_count == 0
    assert (
        after.status.container_statuses[0].container_id
        == before.status.container_statuses[0].container_id
    )
    assert _alive(pid) and _pid(core, "survivor") == pid
    # A crashing container keeps counting from where it was.
    crashy = core.read_namespaced_pod("crashy", "default").status.container_statuses[0]
    assert crashy.restart_count >= 1

    core.delete_namespaced_pod("survivor", "default")
    wait_for(lambda: not _alive(pid), 30, "the adopted process to stop on deletion")


def test_kill_pods_on_restart_fault(make: Any) -> None:
    server = make(STANDIN_KILL_PODS_ON_RESTART="1")
    core = client.CoreV1Api(server.api_client())
    _ready_service_account(core)
    core.create_namespaced_pod("default", _pod("victim"))
    wait_for(lambda: _running(core, "victim"), 60, "the pod to run")
    pid = wait_for(lambda: _pid(core, "victim"), 20, "the pid line")
    assert (
        core.read_namespaced_pod("victim", "default").status.container_statuses[0].restart_count
        == 0
    )

    server.restart()
    core = client.CoreV1Api(server.api_client())
    wait_for(lambda: not _alive(pid), 40, "the old container process to be killed")
    status = wait_for(
        lambda: (
            (
                s := core.read_namespaced_pod("victim", "default").status.container_statuses[0]
            ).restart_count
            == 1
            and s.ready
            and s
        ),
        60,
        "the container to be restarted once",
    )
    assert status.last_state.terminated is not None
    new_pid = wait_for(lambda: _pid(core, "victim"), 20, "a pid in the new log")
    assert new_pid != pid and _alive(new_pid)


def test_pvc_pending_fault_emits_warning(make: Any, tmp_path: Path) -> None:
    server = make(STANDIN_PVC_PENDING="1")
    core = client.CoreV1Api(server.api_client())
    _ready_service_account(core)
    # Before the add-on exists, the PV controller rightly complains about the class.
    wait_for(
        lambda: client.StorageV1Api(server.api_client()).read_storage_class("local-path"),
        40,
        "the local-path StorageClass",
    )
    core.create_namespaced_persistent_volume_claim(
        "default",
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "stuck"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "local-path",
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
    )
    pod = _pod("user", "sleep 3600")
    pod["spec"]["volumes"] = [{"name": "v", "persistentVolumeClaim": {"claimName": "stuck"}}]
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "v", "mountPath": str(tmp_path / "m")}]
    core.create_namespaced_pod("default", pod)

    def warning() -> Any:
        return [
            e
            for e in core.list_namespaced_event("default").items
            if e.type == "Warning"
            and e.reason == "ProvisioningFailed"
            and e.involved_object.name == "stuck"
            and e.source.component.startswith("rancher.io/local-path")
        ]

    event = wait_for(warning, 80, "a ProvisioningFailed warning on the claim")[0]
    assert "STANDIN_PVC_PENDING" in event.message
    assert (
        core.read_namespaced_persistent_volume_claim("stuck", "default").status.phase == "Pending"
    )
    assert core.read_namespaced_pod("user", "default").status.phase == "Pending"


def test_missing_ingressclass_fault(make: Any) -> None:
    server = make(STANDIN_MISSING_INGRESSCLASS="1")
    api = server.api_client()
    apps = client.AppsV1Api(api)
    wait_for(
        lambda: apps.read_namespaced_deployment("traefik", "kube-system").status.available_replicas,
        80,
        "traefik to be available",
    )
    assert client.NetworkingV1Api(api).list_ingress_class().items == []


@pytest.mark.skipif(os.geteuid() != 0, reason="volume mounts need root")
def test_emptydir_and_configmap_volumes(make: Any, tmp_path: Path) -> None:
    server = make()
    core = client.CoreV1Api(server.api_client())
    _ready_service_account(core)
    core.create_namespaced_config_map(
        "default",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "cfg"},
            "data": {"greeting": "hi there"},
        },
    )
    mnt = tmp_path / "mnt"
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "vols"},
        "spec": {
            "restartPolicy": "Never",
            "volumes": [
                {"name": "scratch", "emptyDir": {}},
                {"name": "cfg", "configMap": {"name": "cfg"}},
            ],
            "initContainers": [
                {
                    "name": "init",
                    "image": "busybox",
                    "command": ["sh", "-c", f"echo from-init > {mnt}/scratch/x"],
                    "volumeMounts": [{"name": "scratch", "mountPath": f"{mnt}/scratch"}],
                }
            ],
            "containers": [
                {
                    "name": "c",
                    "image": "busybox",
                    "command": [
                        "sh",
                        "-c",
                        f"cat {mnt}/scratch/x {mnt}/cfg/greeting; echo; echo $MY_POD",
                    ],
                    "env": [
                        {
                            "name": "MY_POD",
                            "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
                        }
                    ],
                    "volumeMounts": [
                        {"name": "scratch", "mountPath": f"{mnt}/scratch"},
                        {"name": "cfg", "mountPath": f"{mnt}/cfg", "readOnly": True},
                    ],
                }
            ],
        },
    }
    core.create_namespaced_pod("default", pod)
    wait_for(
        lambda: core.read_namespaced_pod("vols", "default").status.phase == "Succeeded",
        60,
        "the pod to succeed",
    )
    assert core.read_namespaced_pod_log("vols", "default", container="c").split() == [
        "from-init",
        "hi",
        "there",
        "vols",
    ]


@pytest.mark.parametrize("no_ipv6", [False, True])
def test_dual_stack_node_and_no_ipv6_fault(tmp_path: Path, no_ipv6: bool) -> None:
    env = {"STANDIN_NO_IPV6": "1"} if no_ipv6 else {}
    server = Standin(
        tmp_path / "dual",
        env=env,
        args=(
            "--cluster-cidr",
            "10.42.0.0/16,2001:cafe:42::/56",
            "--service-cidr",
            "10.43.0.0/16,2001:cafe:43::/112",
        ),
        node_ip="127.0.0.1,::1",
    )
    try:
        server.start()
        core = client.CoreV1Api(server.api_client())
        # The node's pod CIDRs (the IPAM controller) and its addresses (the kubelet's
        # status) are written separately: wait for both before reading them.
        node = wait_for(
            lambda: (
                (n := core.list_node().items)
                and n[0].spec.pod_cidrs
                and n[0].status.addresses
                and n[0]
            ),
            60,
            "a node with pod CIDRs and addresses",
        )
        addresses = [a.address for a in node.status.addresses if a.type == "InternalIP"]
        if no_ipv6:
            assert addresses == ["127.0.0.1"]
            assert node.spec.pod_cidrs == ["10.42.0.0/24"]
        else:
            assert addresses == ["127.0.0.1", "::1"]
            assert node.spec.pod_cidrs == ["10.42.0.0/24", "2001:cafe:42::/64"]
        dns = wait_for(
            lambda: core.read_namespaced_service("kube-dns", "kube-system"), 20, "kube-dns"
        )
        assert len(dns.spec.cluster_ips) == (1 if no_ipv6 else 2)
    finally:
        server.stop()


def test_liveness_probe_failure_restarts_container(make: Any, tmp_path: Path) -> None:
    server = make()
    core = client.CoreV1Api(server.api_client())
    _ready_service_account(core)
    flag = tmp_path / "alive"
    flag.touch()
    pod = _pod("probed", "exec sleep 3600")
    pod["spec"]["containers"][0]["livenessProbe"] = {
        "exec": {"command": ["test", "-e", str(flag)]},
        "periodSeconds": 1,
        "failureThreshold": 2,
    }
    core.create_namespaced_pod("default", pod)
    wait_for(lambda: _running(core, "probed"), 60, "the probed pod to run")
    flag.unlink()
    status = wait_for(
        lambda: (
            (
                s := core.read_namespaced_pod("probed", "default").status.container_statuses[0]
            ).restart_count
            >= 1
            and s
        ),
        30,
        "a restart after liveness failures",
    )
    assert status.last_state.terminated.exit_code == 137
    reasons = {
        e.reason
        for e in core.list_namespaced_event("default").items
        if e.involved_object.name == "probed"
    }
    assert {"Unhealthy", "Killing"} <= reasons


def _web(port: int) -> dict[str, Any]:
    server = (
        "import http.server\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        self.send_response(200)\n"
        "        self.send_header('Content-Length', '2')\n"
        "        self.end_headers()\n"
        "        self.wfile.write(b'ok')\n"
        "    def log_message(self, *args):\n"
        "        pass\n"
        f"http.server.ThreadingHTTPServer(('127.0.0.1', {port}), H).serve_forever()\n"
    )
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {
                    "name": "web",
                    "image": "python",
                    "command": ["python3", "-c", server],
                    "ports": [{"name": "http", "containerPort": port}],
                    "readinessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 1},
                }
            ],
        },
    }


def test_servicelb_serves_through_a_control_plane_restart(make: Any) -> None:
    """Like k3s: a restart of the server process (kubelet included) must not drop requests
    to a LoadBalancer Service. Ready pods stay Ready, Endpoints keep them, and the svclb
    forwarder needs no API to keep forwarding."""
    import threading
    import time

    import requests
    from k8s_standin.node.testing import free_port

    server = make()
    core = client.CoreV1Api(server.api_client())
    _ready_service_account(core)
    port = free_port()
    core.create_namespaced_pod("default", _web(port))
    core.create_namespaced_service(
        "default",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {
                "type": "LoadBalancer",
                "selector": {"app": "web"},
                "ports": [{"port": 8443, "targetPort": "http"}],
            },
        },
    )
    url = f"http://127.0.0.1:{server.hostport_offset + 8443}/"
    wait_for(lambda: requests.get(url, timeout=2).status_code == 200, 60, "the svclb path")

    failures: list[str] = []
    sent = 0
    stop = threading.Event()

    def probe() -> None:
        nonlocal sent
        while not stop.wait(0.1):
            sent += 1
            try:
                with requests.get(url, timeout=2) as resp:
                    if resp.status_code != 200 or resp.text != "ok":
                        failures.append(f"{time.monotonic():.1f} HTTP {resp.status_code}")
            except requests.RequestException as err:
                failures.append(f"{time.monotonic():.1f} {type(err).__name__}: {err}")

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    try:
        time.sleep(1)
        server.restart()
        back = time.monotonic()
        core = client.CoreV1Api(server.api_client())
        # Several kubelet, endpoints and forwarder refresh periods after the API is back.
        time.sleep(6)
        pod = core.read_namespaced_pod("web", "default")
        assert pod.status.container_statuses[0].restart_count == 0
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not failures, (
        f"{len(failures)} of {sent} requests failed (API back at "
        f"{back:.1f}): {failures[:5]}\n{server.log_tail(2000)}"
    )
    assert sent > 40


def test_a_containers_stdin_outlives_a_restart(make: Any) -> None:
    """The shim holds the container's stdin and its attach socket (node/attachio.py), so
    a restarted kubelet attaches to the same open stdin."""
    from kubernetes.stream import stream

    server = make()
    core = client.CoreV1Api(server.api_client())
    _ready_service_account(core)
    pod = _pod("listener", "while read l; do echo got $l; done")
    pod["spec"]["containers"][0]["stdin"] = True
    core.create_namespaced_pod("default", pod)
    wait_for(lambda: _running(core, "listener"), 60, "the pod to run")

    def say(api: client.CoreV1Api, line: str) -> str:
        session = stream(
            api.connect_get_namespaced_pod_attach,
            "listener",
            "default",
            stdin=True,
            stdout=True,
            stderr=True,
            tty=False,
            _preload_content=False,
        )
        session.write_stdin(line + "\n")
        seen = ""
        for _ in range(50):
            session.update(timeout=0.2)
            seen += session.read_stdout() or ""
            if seen.endswith("\n"):
                break
        # Without stdinOnce, the end of this client's stdin detaches it (and output
        # after that would not reach it): only once the answer came.
        session.close_channel(0)
        session.run_forever(timeout=10)
        assert session.returncode == 0
        return seen

    assert say(core, "one") == "got one\n"
    server.restart()
    core = client.CoreV1Api(server.api_client())

    def said_again() -> str | None:
        # Until the restarted node side serves streams again (the stored node and pod
        # statuses look ready before that).
        try:
            return say(core, "two")
        except ApiException:
            return None

    assert wait_for(said_again, 60, "an attachment after the restart") == "got two\n"
    assert core.read_namespaced_pod_log("listener", "default") == "got one\ngot two\n"
