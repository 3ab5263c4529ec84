"""End-to-end tests of the stand-in's node side: a real k3s-style server process,
checked with the official kubernetes client, pods running as real processes."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from k8s_standin.node.testing import Standin, wait_for
from kubernetes import client

pytestmark = pytest.mark.skipif(os.name != "posix", reason="needs POSIX processes")


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Standin]:
    server = Standin(tmp_path_factory.mktemp("k3s")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api(standin: Standin) -> Any:
    return standin.api_client()


@pytest.fixture
def ns(api: Any) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    # Pods need the namespace's default ServiceAccount, which a controller adds shortly.
    wait_for(
        lambda: core.read_namespaced_service_account("default", name),
        10,
        "the default service account",
    )
    yield name
    core.delete_namespace(name)


def deployment(name: str, script: str, replicas: int = 1, **pod: Any) -> dict[str, Any]:
    labels = {"app": name}
    container = {"name": "main", "image": "busybox:1.36", "command": ["sh", "-c", script]}
    container.update(pod.pop("container", {}))
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [container], "terminationGracePeriodSeconds": 2, **pod},
            },
        },
    }


def pods_of(core: client.CoreV1Api, ns: str, app: str) -> list[Any]:
    return [
        p
        for p in core.list_namespaced_pod(ns, label_selector=f"app={app}").items
        if not p.metadata.deletion_timestamp
    ]


def running(core: client.CoreV1Api, ns: str, app: str, count: int = 1) -> list[Any]:
    pods = [
        p
        for p in pods_of(core, ns, app)
        if p.status.phase == "Running" and all(c.ready for c in p.status.container_statuses or [])
    ]
    return pods if len(pods) == count else []


def pid_from_log(core: client.CoreV1Api, ns: str, pod: str) -> int:
    text = core.read_namespaced_pod_log(pod, ns)
    for line in text.splitlines():
        if line.startswith("pid="):
            return int(line.split("=", 1)[1])
    raise AssertionError(f"no pid line in log of {pod}: {text!r}")


# $$ is the kubelet's escape for $ in commands: $$$$ reaches the shell as $$.
PID_SCRIPT = "echo pid=$$$$; i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; done"


def test_node_registers_ready_with_k3s_markers(standin: Standin, api: Any) -> None:
    core = client.CoreV1Api(api)
    node = wait_for(
        lambda: [
            n
            for n in core.list_node().items
            if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])
        ],
        40,
        "a Ready node",
    )[0]
    labels, ann = node.metadata.labels, node.metadata.annotations
    assert labels["node-role.kubernetes.io/control-plane"] == "true"
    assert labels["kubernetes.io/hostname"] == node.metadata.name
    assert ann["flannel.alpha.coreos.com/backend-type"] == "vxlan"
    info = node.status.node_info
    assert info.kubelet_version.endswith("+k3s1")
    assert info.container_runtime_version.startswith("containerd://")
    assert "-k3s" in info.container_runtime_version
    assert {"type": "InternalIP", "address": "127.0.0.1"} in [
        {"type": a.type, "address": a.address} for a in node.status.addresses
    ]
    conflist = standin.data_dir / "agent/etc/cni/net.d/10-flannel.conflist"
    assert conflist.is_file(), "k3s writes its flannel conflist under the data dir"
    coord = client.CoordinationV1Api(api)
    wait_for(
        lambda: coord.read_namespaced_lease(node.metadata.name, "kube-node-lease"),
        40,
        "the node lease",
    )


def test_system_addons_run(standin: Standin, api: Any) -> None:
    apps = client.AppsV1Api(api)
    core = client.CoreV1Api(api)
    for name in ("coredns", "local-path-provisioner", "traefik"):
        wait_for(
            lambda n=name: (
                (apps.read_namespaced_deployment(n, "kube-system").status.available_replicas or 0)
                >= 1
            ),
            80,
            f"deployment {name}",
        )
    dns = core.read_namespaced_service("kube-dns", "kube-system")
    assert dns.spec.cluster_ip == "10.43.0.10"
    sc = client.StorageV1Api(api).read_storage_class("local-path")
    assert sc.provisioner == "rancher.io/local-path"
    assert sc.volume_binding_mode == "WaitForFirstConsumer"
    assert sc.metadata.annotations["storageclass.kubernetes.io/is-default-class"] == "true"
    ic = client.NetworkingV1Api(api).read_ingress_class("traefik")
    assert ic.spec.controller == "traefik.io/ingress-controller"
    traefik = wait_for(
        lambda: core.read_namespaced_service("traefik", "kube-system").status.load_balancer.ingress,
        60,
        "traefik's load-balancer address",
    )
    assert traefik[0].ip == "127.0.0.1"
    svclb = [
        d
        for d in apps.list_namespaced_daemon_set("kube-system").items
        if d.metadata.name.startswith("svclb-traefik-")
    ]
    assert svclb, "ServiceLB creates one DaemonSet per LoadBalancer Service"


def test_cluster_dns_answers_for_services(standin: Standin, api: Any) -> None:
    dnslib = pytest.importorskip("dnslib")
    apps = client.AppsV1Api(api)
    wait_for(
        lambda: apps.read_namespaced_deployment("coredns", "kube-system").status.available_replicas,
        80,
        "coredns",
    )

    def ask(name: str, qtype: str = "A") -> Any:
        query = dnslib.DNSRecord.question(name, qtype)
        return dnslib.DNSRecord.parse(query.send("127.0.0.1", standin.dns_port, timeout=2))

    reply = wait_for(
        lambda: ask("kube-dns.kube-system.svc.cluster.local").rr, 20, "an answer from cluster DNS"
    )
    assert str(reply[0].rdata) == "10.43.0.10"
    assert ask("kubernetes.default.svc.cluster.local").rr[0].rdata.__str__() == "10.43.0.1"
    assert ask("nope.default.svc.cluster.local").header.rcode == dnslib.RCODE.NXDOMAIN


def test_deployment_pods_are_real_processes_with_logs(api: Any, ns: str) -> None:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    apps.create_namespaced_deployment(ns, deployment("ticker", PID_SCRIPT, replicas=2))
    pods = wait_for(lambda: running(core, ns, "ticker", 2), 60, "2 running ticker pods")
    for pod in pods:
        assert pod.metadata.owner_references[0].kind == "ReplicaSet"
        assert pod.status.pod_ip == "127.0.0.1"
        assert {c.type for c in pod.status.conditions} >= {
            "PodScheduled",
            "Initialized",
            "ContainersReady",
            "Ready",
        }
        pid = wait_for(lambda p=pod: pid_from_log(core, ns, p.metadata.name), 20, "a pid line")
        os.kill(pid, 0)  # the container is a live process on this machine
        # A busybox image's sh is its /bin/sh applet link (or the node's sh without busybox).
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        assert os.path.basename(argv[0]) == b"sh" and argv[1] == b"-c"
        wait_for(
            lambda p=pod: "tick 1" in core.read_namespaced_pod_log(p.metadata.name, ns),
            20,
            "log lines served by pods/log",
        )
    dep = wait_for(
        lambda: (
            (d := apps.read_namespaced_deployment("ticker", ns)).status.available_replicas == 2
            and d
        ),
        40,
        "deployment availability",
    )
    assert {c.type: c.status for c in dep.status.conditions}["Available"] == "True"
    rs = apps.list_namespaced_replica_set(ns).items
    assert rs[0].metadata.owner_references[0].name == "ticker"
    reasons = {e.reason for e in core.list_namespaced_event(ns).items}
    assert {"Scheduled", "Pulled", "Created", "Started"} <= reasons

    # Graceful deletion: the process gets SIGTERM and the object goes away.
    victim = pods[0]
    pid = pid_from_log(core, ns, victim.metadata.name)
    core.delete_namespaced_pod(victim.metadata.name, ns)
    wait_for(lambda: not _alive(pid), 30, f"pid {pid} to exit after pod deletion")
    wait_for(lambda: running(core, ns, "ticker", 2), 60, "the ReplicaSet to replace the pod")

    # Cascading deletion removes ReplicaSets and pods, and their processes.
    pids = [pid_from_log(core, ns, p.metadata.name) for p in running(core, ns, "ticker", 2)]
    apps.delete_namespaced_deployment("ticker", ns)
    wait_for(lambda: not pods_of(core, ns, "ticker"), 60, "pods of the deleted deployment")
    wait_for(lambda: not any(_alive(p) for p in pids), 30, "processes of deleted pods to exit")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_crashing_container_restarts_with_backoff(api: Any, ns: str) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_pod(
        ns,
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "crasher"},
            "spec": {
                "containers": [
                    {
                        "name": "c",
                        "image": "busybox",
                        "command": ["sh", "-c", "echo attempt; exit 3"],
                    }
                ]
            },
        },
    )

    def restarted() -> Any:
        status = core.read_namespaced_pod("crasher", ns).status
        cs = (status.container_statuses or [None])[0]
        return cs if cs and cs.restart_count >= 2 else None

    cs = wait_for(restarted, 60, "restartCount >= 2")
    assert cs.last_state.terminated.exit_code == 3
    previous = core.read_namespaced_pod_log("crasher", ns, previous=True)
    assert "attempt" in previous
    wait_for(
        lambda: "BackOff" in {e.reason for e in core.list_namespaced_event(ns).items},
        40,
        "a BackOff event",
    )

    core.create_namespaced_pod(
        ns,
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "once"},
            "spec": {
                "restartPolicy": "Never",
                "containers": [
                    {"name": "c", "image": "busybox", "command": ["sh", "-c", "exit 7"]}
                ],
            },
        },
    )
    pod = wait_for(
        lambda: (p := core.read_namespaced_pod("once", ns)).status.phase == "Failed" and p,
        40,
        "restartPolicy Never pod to fail",
    )
    term = pod.status.container_statuses[0].state.terminated
    assert term.exit_code == 7 and pod.status.container_statuses[0].restart_count == 0


def test_endpoints_follow_readiness(api: Any, ns: str, tmp_path: Path) -> None:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    flag = tmp_path / "ready"
    probe = {"exec": {"command": ["test", "-e", str(flag)]}, "periodSeconds": 1}
    apps.create_namespaced_deployment(
        ns,
        deployment(
            "web",
            "exec sleep 3600",
            container={"readinessProbe": probe, "ports": [{"name": "http", "containerPort": 8080}]},
        ),
    )
    core.create_namespaced_service(
        ns,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": "http"}]},
        },
    )

    def subsets() -> Any:
        return core.read_namespaced_endpoints("web", ns).subsets

    not_ready = wait_for(
        lambda: (s := subsets()) and s[0].not_ready_addresses and s, 30, "a not-ready endpoint"
    )
    assert not not_ready[0].addresses
    assert not_ready[0].ports[0].port == 8080
    flag.touch()
    ready = wait_for(lambda: (s := subsets()) and s[0].addresses and s, 40, "a ready endpoint")
    assert ready[0].addresses[0].ip == "127.0.0.1"
    assert ready[0].addresses[0].target_ref.kind == "Pod"


def test_local_path_binds_on_first_consumer(
    standin: Standin, api: Any, ns: str, tmp_path: Path
) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_persistent_volume_claim(
        ns,
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "64Mi"}},
            },
        },
    )
    wait_for(
        lambda: "WaitForFirstConsumer" in {e.reason for e in core.list_namespaced_event(ns).items},
        40,
        "WaitForFirstConsumer",
    )
    assert core.read_namespaced_persistent_volume_claim("data", ns).status.phase == "Pending"

    mount = str(tmp_path / "mnt")

    def pod(name: str, script: str) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name},
            "spec": {
                "restartPolicy": "Never",
                "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}],
                "containers": [
                    {
                        "name": "c",
                        "image": "busybox",
                        "command": ["sh", "-c", script],
                        "volumeMounts": [{"name": "d", "mountPath": mount}],
                    }
                ],
            },
        }

    core.create_namespaced_pod(ns, pod("writer", f"echo hello-from-writer > {mount}/f"))
    wait_for(
        lambda: core.read_namespaced_pod("writer", ns).status.phase == "Succeeded",
        40,
        "the writer pod to succeed",
    )
    pvc = core.read_namespaced_persistent_volume_claim("data", ns)
    assert pvc.status.phase == "Bound"
    pv = client.CoreV1Api(api).read_persistent_volume(pvc.spec.volume_name)
    path = Path(pv.spec.host_path.path)
    assert path.parent == standin.data_dir / "storage"
    assert (path / "f").read_text() == "hello-from-writer\n"
    assert not Path(mount, "f").exists(), "the volume is mounted in the pod's namespace only"

    core.create_namespaced_pod(ns, pod("reader", f"cat {mount}/f"))
    wait_for(
        lambda: core.read_namespaced_pod("reader", ns).status.phase == "Succeeded",
        30,
        "the reader pod",
    )
    assert core.read_namespaced_pod_log("reader", ns).strip() == "hello-from-writer"

    # pvc-protection: a deleted claim stays while a running pod uses it.
    core.create_namespaced_pod(ns, pod("holder", "sleep 3600"))
    wait_for(
        lambda: core.read_namespaced_pod("holder", ns).status.phase == "Running",
        30,
        "the holder pod",
    )
    for name in ("writer", "reader"):
        core.delete_namespaced_pod(name, ns)
    deleted = core.delete_namespaced_persistent_volume_claim("data", ns)
    assert deleted.metadata.deletion_timestamp is not None
    time.sleep(2)
    held = core.read_namespaced_persistent_volume_claim("data", ns)
    assert held.metadata.finalizers == ["kubernetes.io/pvc-protection"]
    core.delete_namespaced_pod("holder", ns, grace_period_seconds=0)
    wait_for(
        lambda: (
            not [
                c
                for c in core.list_namespaced_persistent_volume_claim(ns).items
                if c.metadata.name == "data"
            ]
        ),
        30,
        "the claim to be released",
    )
    wait_for(
        lambda: (
            not [
                p
                for p in core.list_persistent_volume().items
                if p.metadata.name == pv.metadata.name
            ]
        ),
        60,
        "the PV to be deleted",
    )
    wait_for(lambda: not path.exists(), 20, "the volume directory to be removed")


def test_ingress_routes_by_host_and_path(
    standin: Standin, api: Any, ns: str, tmp_path: Path
) -> None:
    import requests
    from k8s_standin.node.testing import free_port

    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    port = free_port()
    server = (
        "import http.server, os\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        body = ('hello from ' + os.environ['HOSTNAME'] + ' ' + self.path).encode()\n"
        "        self.send_response(200)\n"
        "        self.send_header('Content-Length', str(len(body)))\n"
        "        self.end_headers()\n"
        "        self.wfile.write(body)\n"
        f"http.server.HTTPServer(('127.0.0.1', {port}), H).serve_forever()\n"
    )
    apps.create_namespaced_deployment(
        ns,
        deployment(
            "echo",
            "",
            container={
                "command": ["python3", "-c", server],
                "ports": [{"name": "http", "containerPort": port}],
                "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 1},
            },
        ),
    )
    core.create_namespaced_service(
        ns,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "echo"},
            "spec": {"selector": {"app": "echo"}, "ports": [{"port": 80, "targetPort": "http"}]},
        },
    )
    client.NetworkingV1Api(api).create_namespaced_ingress(
        ns,
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "echo"},
            "spec": {
                "ingressClassName": "traefik",
                "rules": [
                    {
                        "host": "echo.example",
                        "http": {
                            "paths": [
                                {
                                    "path": "/app",
                                    "pathType": "Prefix",
                                    "backend": {
                                        "service": {"name": "echo", "port": {"number": 80}}
                                    },
                                }
                            ]
                        },
                    }
                ],
            },
        },
    )
    url = f"http://127.0.0.1:{standin.ingress_port}"

    def get(path: str, host: str = "echo.example") -> requests.Response:
        return requests.get(url + path, headers={"Host": host}, timeout=5)

    resp = wait_for(lambda: (r := get("/app/x")).status_code == 200 and r, 40, "the ingress route")
    assert resp.text.startswith("hello from echo-") and resp.text.endswith("/app/x")
    assert get("/other").status_code == 404
    assert get("/app", host="other.example").status_code == 404
    assert get("/application").status_code == 404, "Prefix matches whole path segments"
    # Through ServiceLB: the svclb pod's hostPort (shifted in host mode) forwards to traefik.
    lb = f"http://127.0.0.1:{standin.hostport_offset + 80}/app/lb"
    via_lb = wait_for(
        lambda: requests.get(lb, headers={"Host": "echo.example"}, timeout=5),
        40,
        "the svclb forwarder",
    )
    assert via_lb.status_code == 200 and via_lb.text.endswith("/app/lb")
    ing = wait_for(
        lambda: (
            client.NetworkingV1Api(api)
            .read_namespaced_ingress("echo", ns)
            .status.load_balancer.ingress
        ),
        40,
        "ingress status address",
    )
    assert ing[0].ip == "127.0.0.1"


def test_unschedulable_pod_gets_failed_scheduling(api: Any, ns: str) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_pod(
        ns,
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "nowhere"},
            "spec": {
                "nodeSelector": {"disktype": "unicorn"},
                "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "1"]}],
            },
        },
    )
    event = wait_for(
        lambda: [e for e in core.list_namespaced_event(ns).items if e.reason == "FailedScheduling"],
        40,
        "FailedScheduling",
    )[0]
    assert event.type == "Warning" and "0/1 nodes are available" in event.message
    pod = core.read_namespaced_pod("nowhere", ns)
    assert pod.status.phase == "Pending" and not pod.spec.node_name
    cond = {c.type: c for c in pod.status.conditions}["PodScheduled"]
    assert cond.status == "False" and cond.reason == "Unschedulable"
