"""The real kubectl against the k3s stand-in image, started by its image contract.

One node container per module (`k3s server`, as the plugin starts rancher/k3s); every
test runs kubectl commands and checks what kubectl prints. The image is built from the
sources of this checkout under a tag of its own, so images other checkouts run are never
replaced.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import tarfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest
from docker.models.containers import Container
from image.builder import own_image
from kubectl_forward import (
    KUBECTL,
    PLAIN_SPDY,
    SPDY_REMOTE_COMMAND,
    fetch,
    in_terminal,
    port_forward,
)

pytestmark = [
    pytest.mark.docker,
    # One cluster for the module: under `--dist loadgroup` xdist keeps these on one worker.
    pytest.mark.xdist_group("kubectl-battery"),
    pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed"),
]

TEST_LABELS = {"pytest-k8sdistro.test": "1"}
# As tests/test_standin_image.py starts nodes: --privileged fails where the bounding set
# lacks CAP_SYS_RESOURCE.
NODE_RUN_OPTIONS: dict[str, object] = {
    "cap_add": ["ALL"],
    "cap_drop": ["SYS_RESOURCE"],
    "security_opt": ["seccomp=unconfined", "apparmor=unconfined"],
    "tmpfs": {"/run": "", "/var/run": ""},
}
START_TIMEOUT_S = 90.0
NS = "battery"


@dataclass(frozen=True)
class Cluster:
    kubeconfig: Path

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        """kubectl's stdout; a failure (when `check`) shows its stderr."""
        assert KUBECTL is not None
        done = subprocess.run(
            [KUBECTL, "--kubeconfig", str(self.kubeconfig), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and done.returncode != 0:
            pytest.fail(f"kubectl {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
        return done.stdout if check else done.stdout + done.stderr

    def json(self, *args: str) -> dict[str, object]:
        return dict(json.loads(self.kubectl(*args, "-o", "json")))

    def run(
        self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """kubectl's whole outcome, for commands expected to fail."""
        assert KUBECTL is not None
        return subprocess.run(
            [KUBECTL, "--kubeconfig", str(self.kubeconfig), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**os.environ, **(env or {})},
        )


def _image(client: docker.DockerClient) -> str:
    """The default k3s stand-in, built from these sources under a tag of its own."""
    return own_image(client, "k3s", "battery", TEST_LABELS)


def _kubeconfig(node: Container, dest: Path) -> None:
    stream, _ = node.get_archive("/etc/rancher/k3s/k3s.yaml")
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.next()
        assert member is not None
        data = tar.extractfile(member)
        assert data is not None
        text = data.read().decode()
    node.reload()
    address = node.attrs["NetworkSettings"]["IPAddress"]
    # The container's address is among the serving certificate's names, as k3s adds the
    # node IP to its SANs.
    dest.write_text(text.replace("127.0.0.1", address))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    client = docker.from_env()
    image = _image(client)
    node = client.containers.run(
        image,
        ["server"],
        detach=True,
        labels=TEST_LABELS,
        hostname=f"battery-{uuid.uuid4().hex[:6]}",
        **NODE_RUN_OPTIONS,  # type: ignore[arg-type]
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            node.reload()
            logs = node.logs().decode(errors="replace")
            if node.status != "running" or time.monotonic() > deadline:
                pytest.fail(f"k3s stand-in not up ({node.status}):\n{logs[-3000:]}")
            if "k3s is up and running" in logs:
                code, _ = node.exec_run(["test", "-f", "/etc/rancher/k3s/k3s.yaml"])
                if code == 0:
                    break
            time.sleep(0.5)
        config = tmp_path_factory.mktemp("battery") / "kubeconfig"
        _kubeconfig(node, config)
        cluster = Cluster(config)
        eventually(lambda: "Ready" in cluster.kubectl("get", "nodes", check=False), 60)
        cluster.kubectl("create", "namespace", NS)
        eventually(lambda: "default" in cluster.kubectl("get", "sa", "-n", NS, check=False), 30)
        yield cluster
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            node.remove(force=True, v=True)
        # The image is this run's (its tag hashes these sources); never forced, so one
        # another worker still runs stays.
        with contextlib.suppress(docker.errors.APIError):
            client.images.remove(image, force=False)
        client.close()


def eventually(check: Callable[[], object], timeout: float, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what or check}")
        time.sleep(0.5)


def run_pod(cluster: Cluster, name: str, *args: str, env: tuple[str, ...] = ()) -> str:
    """`kubectl run NAME --restart=Never ARGS`, waited until it ended; returns its log."""
    flags = [f"--env={e}" for e in env]
    cluster.kubectl("run", name, "-n", NS, "--image=busybox", "--restart=Never", *flags, *args)

    def ended() -> str:
        return (
            cluster.kubectl(
                "get", "pod", name, "-n", NS, "-o", "jsonpath={.status.phase}", check=False
            ).strip()
            in ("Succeeded", "Failed")
            and "done"
        )

    eventually(ended, 60, f"pod {name} to end")
    return cluster.kubectl("logs", name, "-n", NS)


WEB = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: battery}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: httpd
        image: busybox
        command: [sh, -c, 'mkdir -p /tmp/www && echo hello-web > /tmp/www/index.html &&
          exec httpd -f -p 8080 -h /tmp/www']
        readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
"""


@pytest.fixture(scope="module")
def web(cluster: Cluster) -> str:
    """A Deployment applied with `apply -f` and exposed with `kubectl expose`."""
    assert "deployment.apps/web created" in cluster.kubectl("apply", "-f", "-", stdin=WEB)
    out = cluster.kubectl("rollout", "status", "deployment/web", "-n", NS, "--timeout=90s")
    assert 'deployment "web" successfully rolled out' in out
    # One unnamed port: the case kubectl describe used to panic on.
    exposed = cluster.kubectl(
        "expose", "deployment", "web", "-n", NS, "--port=80", "--target-port=8080"
    )
    assert "service/web exposed" in exposed
    return "web"


# --- everyday operations ------------------------------------------------------------------


def test_get_and_describe_nodes(cluster: Cluster) -> None:
    assert re.search(r"\sReady\s+control-plane", cluster.kubectl("get", "nodes"))
    described = cluster.kubectl("describe", "nodes")
    assert "Container Runtime Version:  containerd://" in described
    assert "Ready            True" in described or re.search(r"Ready\s+True", described)


def test_namespace_create_get_delete(cluster: Cluster) -> None:
    assert "namespace/scratch created" in cluster.kubectl("create", "namespace", "scratch")
    assert re.search(r"scratch\s+Active", cluster.kubectl("get", "namespace", "scratch"))
    assert 'namespace "scratch" deleted' in cluster.kubectl("delete", "namespace", "scratch")
    gone = cluster.kubectl("get", "namespace", "scratch", check=False)
    assert "NotFound" in gone


def test_describe_service_with_an_unnamed_port(cluster: Cluster, web: str) -> None:
    def endpoints() -> str:
        out = cluster.kubectl("describe", "svc", web, "-n", NS)
        return out if re.search(r"Endpoints:\s+\d+\.\d+\.\d+\.\d+:8080", out) else ""

    described = str(eventually(endpoints, 30, "the Service's endpoints in describe"))
    assert re.search(r"Port:\s+<unset>\s+80/TCP", described)
    assert re.search(r"TargetPort:\s+8080/TCP", described)
    assert re.search(r"Session Affinity:\s+None", described)
    assert re.search(r"IP Family Policy:\s+SingleStack", described)
    assert re.search(r"Internal Traffic Policy:\s+Cluster", described)


def test_service_objects_carry_upstream_defaults(cluster: Cluster, web: str) -> None:
    spec = cluster.json("get", "svc", web, "-n", NS)["spec"]
    assert isinstance(spec, dict)
    assert spec["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 8080}]
    assert spec["sessionAffinity"] == "None" and spec["ipFamilies"] == ["IPv4"]
    assert spec["ipFamilyPolicy"] == "SingleStack"
    assert spec["internalTrafficPolicy"] == "Cluster"
    slices = cluster.json(
        "get", "endpointslices", "-n", NS, "-l", f"kubernetes.io/service-name={web}"
    )
    items = slices["items"]
    assert isinstance(items, list) and items
    assert items[0]["ports"] == [{"name": "", "port": 8080, "protocol": "TCP"}]


@pytest.mark.parametrize(
    ("verb", "args", "printed"),
    [
        ("label", ("tier=front",), "deployment.apps/web labeled"),
        ("annotate", ("owner=battery",), "deployment.apps/web annotated"),
    ],
)
def test_label_and_annotate(
    cluster: Cluster, web: str, verb: str, args: tuple[str, ...], printed: str
) -> None:
    assert printed in cluster.kubectl(verb, "deployment", web, "-n", NS, *args)
    meta = cluster.json("get", "deployment", web, "-n", NS)["metadata"]
    assert isinstance(meta, dict)
    key, value = args[0].split("=")
    assert meta["labels" if verb == "label" else "annotations"][key] == value


def test_scale(cluster: Cluster, web: str) -> None:
    assert "deployment.apps/web scaled" in cluster.kubectl(
        "scale", "deployment", web, "-n", NS, "--replicas=2"
    )
    cluster.kubectl("rollout", "status", "deployment/web", "-n", NS, "--timeout=60s")
    assert re.search(r"web\s+2/2", cluster.kubectl("get", "deployment", web, "-n", NS))


# --- typed creates: protobuf request bodies (the kinds the stand-in decodes) ---------------


@pytest.mark.parametrize(
    ("args", "printed", "check"),
    [
        (
            ("namespace", "typed-ns"),
            "namespace/typed-ns created",
            ("namespace", "typed-ns", "{.status.phase}", "Active"),
        ),
        (
            ("configmap", "typed", "--from-literal=a=b"),
            "configmap/typed created",
            ("configmap", "typed", "{.data.a}", "b"),
        ),
        (
            ("secret", "docker-registry", "typed-pull", "--docker-server=r.example",
             "--docker-username=u", "--docker-password=p"),
            "secret/typed-pull created",
            ("secret", "typed-pull", "{.type}", "kubernetes.io/dockerconfigjson"),
        ),
        (
            ("service", "nodeport", "typed-np", "--tcp=80:8080", "--node-port=30123"),
            "service/typed-np created",
            ("service", "typed-np", "{.spec.type} {.spec.ports[0].nodePort}", "NodePort 30123"),
        ),
        (
            ("service", "loadbalancer", "typed-lb", "--tcp=80:8080"),
            "service/typed-lb created",
            ("service", "typed-lb", "{.spec.type} {.spec.ports[0].targetPort}",
             "LoadBalancer 8080"),
        ),
        (
            ("service", "externalname", "typed-ext", "--external-name=example.com"),
            "service/typed-ext created",
            ("service", "typed-ext", "{.spec.type} {.spec.externalName}",
             "ExternalName example.com"),
        ),
    ],
    ids=["namespace", "configmap", "docker-registry", "nodeport", "loadbalancer", "externalname"],
)  # fmt: skip
def test_kubectl_create_sends_protobuf(
    cluster: Cluster, args: tuple[str, ...], printed: str, check: tuple[str, str, str, str]
) -> None:
    assert printed in cluster.kubectl("create", *args, "-n", NS)
    kind, name, path, expected = check
    got = cluster.kubectl("get", kind, name, "-n", NS, "-o", f"jsonpath={path}")
    assert got == expected


def _spec(cluster: Cluster, kind: str, name: str) -> Any:
    return cluster.json("get", kind, name, "-n", NS)["spec"]


def test_create_deployment_sends_protobuf(cluster: Cluster) -> None:
    """`--replicas=0` is a pointer sent as zero: it must not be defaulted to 1."""
    out = cluster.kubectl(
        "create", "deployment", "typed-web", "-n", NS, "--image=busybox", "--port=8080",
        "--replicas=0", "--", "sleep", "3600",
    )  # fmt: skip
    assert "deployment.apps/typed-web created" in out
    spec = _spec(cluster, "deployment", "typed-web")
    assert spec["replicas"] == 0
    assert spec["selector"] == {"matchLabels": {"app": "typed-web"}}
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }
    assert spec["template"]["metadata"]["labels"] == {"app": "typed-web"}
    (container,) = spec["template"]["spec"]["containers"]
    assert container["name"] == "busybox" and container["image"] == "busybox"
    assert container["command"] == ["sleep", "3600"]
    assert container["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    assert "args" not in container and "workingDir" not in container


def test_create_service_clusterip_sends_protobuf(cluster: Cluster) -> None:
    out = cluster.kubectl(
        "create", "service", "clusterip", "typed-svc", "-n", NS, "--tcp=5678:8080"
    )
    assert "service/typed-svc created" in out
    spec = _spec(cluster, "service", "typed-svc")
    assert spec["type"] == "ClusterIP" and spec["selector"] == {"app": "typed-svc"}
    assert spec["ports"] == [
        {"name": "5678-8080", "port": 5678, "protocol": "TCP", "targetPort": 8080}
    ]
    assert re.fullmatch(r"10\.43\.\d+\.\d+", spec["clusterIP"])
    cluster.kubectl(
        "create", "service", "clusterip", "typed-headless", "-n", NS, "--clusterip=None"
    )
    assert _spec(cluster, "service", "typed-headless")["clusterIP"] == "None"


def test_create_ingress_sends_protobuf(cluster: Cluster) -> None:
    out = cluster.kubectl(
        "create", "ingress", "typed-ing", "-n", NS, "--class=traefik",
        "--rule=example.com/=web:80", "--rule=foo.com/bar*=svc:http,tls=my-cert",
    )  # fmt: skip
    assert "ingress.networking.k8s.io/typed-ing created" in out
    spec = _spec(cluster, "ingress", "typed-ing")
    assert spec["ingressClassName"] == "traefik"
    assert spec["tls"] == [{"hosts": ["foo.com"], "secretName": "my-cert"}]
    exact, prefix = (rule["http"]["paths"] for rule in spec["rules"])
    assert [rule["host"] for rule in spec["rules"]] == ["example.com", "foo.com"]
    assert exact == [
        {
            "path": "/",
            "pathType": "Exact",
            "backend": {"service": {"name": "web", "port": {"number": 80}}},
        }
    ]
    assert prefix[0]["pathType"] == "Prefix" and prefix[0]["path"] == "/bar"
    assert prefix[0]["backend"] == {"service": {"name": "svc", "port": {"name": "http"}}}


def test_create_job_sends_protobuf_and_runs(cluster: Cluster) -> None:
    out = cluster.kubectl(
        "create", "job", "typed-job", "-n", NS, "--image=busybox", "--", "echo", "done"
    )
    assert "job.batch/typed-job created" in out
    spec = _spec(cluster, "job", "typed-job")
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert [(c["name"], c["image"], c["command"]) for c in pod["containers"]] == [
        ("typed-job", "busybox", ["echo", "done"])
    ]
    cluster.kubectl("wait", "--for=condition=complete", "job/typed-job", "-n", NS, "--timeout=60s")
    assert cluster.kubectl("logs", "job/typed-job", "-n", NS).strip() == "done"


def test_create_cronjob_and_a_job_from_it_send_protobuf(cluster: Cluster) -> None:
    out = cluster.kubectl(
        "create", "cronjob", "typed-cron", "-n", NS, "--image=busybox",
        "--schedule=0 0 1 1 *", "--restart=OnFailure", "--", "date",
    )  # fmt: skip
    assert "cronjob.batch/typed-cron created" in out
    cron = _spec(cluster, "cronjob", "typed-cron")
    assert cron["schedule"] == "0 0 1 1 *"
    template = cron["jobTemplate"]["spec"]["template"]["spec"]
    assert template["restartPolicy"] == "OnFailure"
    assert [(c["name"], c["command"]) for c in template["containers"]] == [("typed-cron", ["date"])]
    # --from=cronjob sends the CronJob's defaulted template back: every field it holds
    # must be decoded, or the create is refused.
    out = cluster.kubectl("create", "job", "typed-from-cron", "-n", NS, "--from=cronjob/typed-cron")
    assert "job.batch/typed-from-cron created" in out
    job = cluster.json("get", "job", "typed-from-cron", "-n", NS)
    meta = job["metadata"]
    assert meta["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert [(o["kind"], o["name"], o["controller"]) for o in meta["ownerReferences"]] == [
        ("CronJob", "typed-cron", True)
    ]
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["date"] and container["imagePullPolicy"] == "Always"


RICH_CRON = """
apiVersion: batch/v1
kind: CronJob
metadata: {name: typed-rich, namespace: battery}
spec:
  schedule: "0 0 1 1 *"
  jobTemplate:
    spec:
      backoffLimit: 0
      template:
        spec:
          restartPolicy: Never
          volumes:
          - {name: scratch, emptyDir: {sizeLimit: 1Mi}}
          - {name: conf, configMap: {name: typed-rich, optional: true}}
          tolerations:
          - {key: example.com/slow, operator: Exists, effect: NoSchedule}
          containers:
          - name: main
            image: busybox
            command: [sh, -c, 'cat /etc/rich/greeting; echo " $POD"']
            env:
            - name: POD
              valueFrom: {fieldRef: {fieldPath: metadata.name}}
            envFrom:
            - configMapRef: {name: typed-rich, optional: true}
            volumeMounts:
            - {name: scratch, mountPath: /scratch}
            - {name: conf, mountPath: /etc/rich, readOnly: true}
            readinessProbe:
              exec: {command: ["true"]}
              periodSeconds: 5
"""


def test_create_job_from_a_cronjob_with_volumes_env_sources_and_probes(cluster: Cluster) -> None:
    """The CronJob's template goes back to the server as protobuf: volumes, env sources,
    mounts, probes and tolerations must arrive whole, and the job runs with them."""
    cluster.kubectl("create", "configmap", "typed-rich", "-n", NS, "--from-literal=greeting=hello")
    cluster.kubectl("apply", "-f", "-", stdin=RICH_CRON)
    out = cluster.kubectl("create", "job", "typed-rich-now", "-n", NS, "--from=cronjob/typed-rich")
    assert "job.batch/typed-rich-now created" in out
    cron = _spec(cluster, "cronjob", "typed-rich")["jobTemplate"]["spec"]["template"]["spec"]
    job = _spec(cluster, "job", "typed-rich-now")["template"]["spec"]
    for key in ("volumes", "tolerations", "containers", "restartPolicy"):
        assert job[key] == cron[key], key
    assert job["volumes"][0] == {"name": "scratch", "emptyDir": {"sizeLimit": "1Mi"}}
    assert job["containers"][0]["env"] == [
        {
            "name": "POD",
            "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}},
        }
    ]
    cluster.kubectl(
        "wait", "--for=condition=complete", "job/typed-rich-now", "-n", NS, "--timeout=60s"
    )
    logged = cluster.kubectl("logs", "job/typed-rich-now", "-n", NS).strip()
    assert re.fullmatch(r"hello typed-rich-now-\w+", logged), logged


def test_create_priorityclass_sends_protobuf(cluster: Cluster) -> None:
    out = cluster.kubectl(
        "create", "priorityclass", "typed-high", "--value=1000", "--description=important",
        "--preemption-policy=Never",
    )  # fmt: skip
    assert "priorityclass.scheduling.k8s.io/typed-high created" in out
    high = cluster.json("get", "priorityclass", "typed-high")
    assert (high["value"], high["description"], high["preemptionPolicy"]) == (
        1000,
        "important",
        "Never",
    )
    assert "globalDefault" not in high
    # value has no omitempty: a zero value is kept.
    cluster.kubectl("create", "priorityclass", "typed-zero", "--value=0", "--global-default")
    zero = cluster.json("get", "priorityclass", "typed-zero")
    assert (zero["value"], zero["globalDefault"], zero["preemptionPolicy"]) == (
        0,
        True,
        "PreemptLowerPriority",
    )
    listed = cluster.kubectl("get", "pc")
    assert re.search(
        r"system-node-critical\s+2000001000\s+false\s+\S+\s+PreemptLowerPriority", listed
    )
    second = cluster.kubectl(
        "create", "priorityclass", "typed-other", "--value=1", "--global-default", check=False
    )
    assert (
        "PriorityClass typed-zero is already marked as default. Only one default can exist"
        in second
    )
    reserved = cluster.kubectl("create", "priorityclass", "system-mine", "--value=1", check=False)
    assert (
        "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for "
        "system use only. error: system-mine is not a known system priority class"
    ) in reserved
    kept = cluster.kubectl("delete", "priorityclass", "system-node-critical", check=False)
    assert "this is a system priority class and cannot be deleted" in kept
    cluster.kubectl("delete", "priorityclass", "typed-high", "typed-zero")


def test_run_and_expose_a_pod(cluster: Cluster) -> None:
    out = cluster.kubectl(
        "run", "typed-pod", "-n", NS, "--image=busybox", "--restart=Never", "--port=8080",
        "--env=GREETING=hi", "--labels=app=typed-pod", "--image-pull-policy=IfNotPresent",
        "--", "sleep", "3600",
    )  # fmt: skip
    assert "pod/typed-pod created" in out
    pod = _spec(cluster, "pod", "typed-pod")
    (container,) = pod["containers"]
    assert pod["restartPolicy"] == "Never"
    assert container["args"] == ["sleep", "3600"] and "command" not in container
    assert container["env"] == [{"name": "GREETING", "value": "hi"}]
    assert container["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    assert container["imagePullPolicy"] == "IfNotPresent"
    out = cluster.kubectl("expose", "pod", "typed-pod", "-n", NS, "--port=80", "--target-port=8080")
    assert "service/typed-pod exposed" in out
    spec = _spec(cluster, "service", "typed-pod")
    assert spec["selector"] == {"app": "typed-pod"}
    assert spec["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 8080}]
    cluster.kubectl("delete", "pod", "typed-pod", "-n", NS, "--wait=false")


# --- command and args -------------------------------------------------------------------


def test_args_replace_the_images_cmd(cluster: Cluster) -> None:
    """`kubectl run -- sh -c ...` sets args: the busybox image has no ENTRYPOINT, so they
    are the whole command line ($0 of `sh -c` is the word after the script)."""
    out = run_pod(cluster, "args", "--", "sh", "-c", 'echo "$((6 * 7)) $0 $1"', "zero", "one")
    assert out.strip() == "42 zero one"


def test_command_replaces_the_entrypoint_and_expands_variables(cluster: Cluster) -> None:
    out = run_pod(
        cluster,
        "command",
        "--command",
        "--",
        "echo",
        "$(GREETING)",
        "$$(GREETING)",
        "$(UNSET)",
        env=("GREETING=hi",),
    )
    assert out.strip() == "hi $(GREETING) $(UNSET)"


# --- logs -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ticker(cluster: Cluster) -> str:
    """Five early lines, a pause of 6 s, then a tick a second."""
    script = (
        "for i in 1 2 3 4 5; do echo early $i; done; sleep 6; "
        "while true; do echo tick; sleep 1; done"
    )
    cluster.kubectl("run", "ticker", "-n", NS, "--image=busybox", "--", "sh", "-c", script)
    eventually(
        lambda: "tick" in cluster.kubectl("logs", "ticker", "-n", NS, check=False).splitlines(),
        60,
        "the ticker's first tick",
    )
    return "ticker"


def test_logs_tail(cluster: Cluster, ticker: str) -> None:
    lines = cluster.kubectl("logs", ticker, "-n", NS, "--tail=2").splitlines()
    assert lines == ["tick", "tick"] or (len(lines) == 2 and lines[-1] == "tick"), lines
    assert cluster.kubectl("logs", ticker, "-n", NS, "--tail=0") == ""


def test_logs_since(cluster: Cluster, ticker: str) -> None:
    recent = cluster.kubectl("logs", ticker, "-n", NS, "--since=3s")
    assert "tick" in recent and "early" not in recent
    assert "early 1" in cluster.kubectl("logs", ticker, "-n", NS, "--since=1h")


def test_logs_timestamps_and_since_time(cluster: Cluster, ticker: str) -> None:
    stamped = cluster.kubectl("logs", ticker, "-n", NS, "--timestamps").splitlines()
    stamp = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z) (.*)$")
    parsed = [stamp.match(line) for line in stamped]
    assert all(parsed), stamped[:3]
    first_tick = next(m.group(1) for m in parsed if m and m.group(3) == "tick")
    since = cluster.kubectl("logs", ticker, "-n", NS, f"--since-time={first_tick}")
    assert "early" not in since and since.startswith("tick")


# --- busybox's applets ----------------------------------------------------------------------


def test_busybox_pods_have_the_applets(cluster: Cluster) -> None:
    out = run_pod(
        cluster,
        "applets",
        "--",
        "sh",
        "-c",
        "for a in httpd nc wget nslookup; do command -v $a; done",
    )
    found = out.split()
    assert len(found) == 4 and [Path(p).name for p in found] == ["httpd", "nc", "wget", "nslookup"]


def test_busybox_wget_with_a_timeout(cluster: Cluster, web: str) -> None:
    """busybox wget -T (Debian's build segfaulted on it) reaches the Service."""
    ip = cluster.kubectl("get", "svc", web, "-n", NS, "-o", "jsonpath={.spec.clusterIP}")
    script = f"busybox wget -q -T 5 -O- http://{ip}/; echo rc=$?"
    out = run_pod(cluster, "wget", "--", "sh", "-c", script)
    assert "hello-web" in out and "rc=0" in out, out


# --- Jobs, CronJobs and StatefulSets -----------------------------------------------------

WORKLOADS = """
apiVersion: batch/v1
kind: Job
metadata: {name: once, namespace: battery}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: main, image: busybox, command: [sh, -c, 'echo job-says-hello']}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: battery}
spec:
  schedule: "30 2 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - {name: main, image: busybox, command: [date]}
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: battery}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{port: 80}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: battery}
spec:
  serviceName: db
  replicas: 2
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: busybox
        command: [sh, -c, 'echo $HOSTNAME > /data/id; exec sleep 3600']
        volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 16Mi}}
"""


@pytest.fixture(scope="module")
def workloads(cluster: Cluster) -> str:
    out = cluster.kubectl("apply", "-f", "-", stdin=WORKLOADS)
    for printed in (
        "job.batch/once created",
        "cronjob.batch/nightly created",
        "statefulset.apps/db created",
    ):
        assert printed in out, out
    return "battery"


def test_wait_for_a_job_and_read_its_logs(cluster: Cluster, workloads: str) -> None:
    out = cluster.kubectl("wait", "--for=condition=complete", "job/once", "-n", NS, "--timeout=90s")
    assert "job.batch/once condition met" in out
    assert cluster.kubectl("logs", "job/once", "-n", NS).strip() == "job-says-hello"
    assert re.search(r"once\s+Complete\s+1/1\s+\d+s", cluster.kubectl("get", "jobs", "-n", NS))
    described = cluster.kubectl("describe", "job", "once", "-n", NS)
    statuses = r"Pods Statuses:\s+0 Active \(0 Ready\) / 1 Succeeded / 0 Failed"
    assert re.search(statuses, described), described
    assert re.search(r"Completion Mode:\s+NonIndexed", described)
    assert "batch.kubernetes.io/controller-uid=" in described


def test_rollout_scale_and_describe_a_statefulset(cluster: Cluster, workloads: str) -> None:
    out = cluster.kubectl("rollout", "status", "statefulset/db", "-n", NS, "--timeout=90s")
    assert "partitioned roll out complete: 2 new pods have been updated" in out
    pods = cluster.kubectl("get", "pods", "-n", NS, "-l", "app=db", "-o", "name").split()
    assert pods == ["pod/db-0", "pod/db-1"]
    claims = cluster.kubectl("get", "pvc", "-n", NS, "-l", "app=db")
    assert re.search(r"data-db-0\s+Bound", claims) and re.search(r"data-db-1\s+Bound", claims)
    described = cluster.kubectl("describe", "statefulset", "db", "-n", NS)
    assert re.search(r"Pods Status:\s+2 Running / 0 Waiting / 0 Succeeded / 0 Failed", described)
    assert re.search(r"Update Strategy:\s+RollingUpdate", described)
    assert "statefulset.apps/db scaled" in cluster.kubectl(
        "scale", "statefulset", "db", "-n", NS, "--replicas=1"
    )
    eventually(
        lambda: (
            cluster.kubectl("get", "pods", "-n", NS, "-l", "app=db", "-o", "name").split()
            == ["pod/db-0"]
        ),
        60,
        "db scaled down to db-0",
    )


def test_get_and_describe_a_cronjob(cluster: Cluster, workloads: str) -> None:
    listed = cluster.kubectl("get", "jobs,cronjobs,statefulsets", "-n", NS)
    assert re.search(r"cronjob.batch/nightly\s+30 2 \* \* \*\s+<none>\s+False\s+0\s+<none>", listed)
    assert "job.batch/once" in listed and "statefulset.apps/db" in listed
    described = cluster.kubectl("describe", "cronjob", "nightly", "-n", NS)
    assert re.search(r"Schedule:\s+30 2 \* \* \*", described)
    assert re.search(r"Concurrency Policy:\s+Allow", described)
    assert re.search(r"Successful Job History Limit:\s+3", described)


# --- reaching in: exec, cp, attach, port-forward ----------------------------------------


def _web_pod(cluster: Cluster, web: str) -> str:
    return cluster.kubectl(
        "get", "pods", "-n", NS, "-l", f"app={web}", "-o", "jsonpath={.items[0].metadata.name}"
    ).strip()


def _kubectl_run(
    cluster: Cluster, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    assert KUBECTL is not None
    return subprocess.run(
        [KUBECTL, "--kubeconfig", str(cluster.kubeconfig), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_exec_prints_and_passes_on_the_exit_code(cluster: Cluster, web: str) -> None:
    # kubectl 1.32 speaks WebSocket (v5.channel.k8s.io) to pods/exec.
    pod = _web_pod(cluster, web)
    out = cluster.kubectl("exec", pod, "-n", NS, "--", "sh", "-c", 'echo "in:$HOSTNAME"')
    assert out == f"in:{pod}\n", out
    # deploy/NAME: kubectl picks one of its pods (the Deployment may have several).
    pods = cluster.kubectl(
        "get", "pods", "-n", NS, "-l", f"app={web}", "-o", "jsonpath={.items[*].metadata.name}"
    ).split()
    out = cluster.kubectl(
        "exec", f"deploy/{web}", "-n", NS, "--", "sh", "-c", 'echo "in:$HOSTNAME"'
    )
    assert out.removeprefix("in:").strip() in pods, (out, pods)
    done = _kubectl_run(cluster, "exec", f"deploy/{web}", "-n", NS, "--", "sh", "-c", "exit 7")
    assert done.returncode == 7, done
    assert "command terminated with exit code 7" in done.stderr, done.stderr


def test_exec_with_stdin(cluster: Cluster, web: str) -> None:
    # -i: stdin ends with the v5 close signal on channel 255.
    out = cluster.kubectl(
        "exec", "-i", f"deploy/{web}", "-n", NS, "--", "sh", "-c", "cat; echo end", stdin="in\n"
    )
    assert out == "in\nend\n", out


def test_cp_both_ways(cluster: Cluster, web: str, tmp_path: Path) -> None:
    pod = _web_pod(cluster, web)
    source = tmp_path / "up.txt"
    source.write_text("copied in\n")
    cluster.kubectl("cp", str(source), f"{NS}/{pod}:/tmp/up.txt")
    assert cluster.kubectl("exec", pod, "-n", NS, "--", "cat", "/tmp/up.txt") == "copied in\n"
    back = tmp_path / "back.txt"
    cluster.kubectl("cp", f"{NS}/{pod}:/tmp/up.txt", str(back))
    assert back.read_text() == "copied in\n"


def test_exec_and_attach_need_create_on_their_subresources(
    cluster: Cluster, web: str, tmp_path: Path
) -> None:
    cluster.kubectl("create", "serviceaccount", "onlooker", "-n", NS)
    cluster.kubectl(
        "create",
        "rolebinding",
        "onlooker-view",
        "--clusterrole=view",
        f"--serviceaccount={NS}:onlooker",
        "-n",
        NS,
    )
    token = cluster.kubectl("create", "token", "onlooker", "-n", NS).strip()
    onlooker = as_token(cluster, token, tmp_path / "onlooker.kubeconfig")
    refused = onlooker.kubectl("exec", _web_pod(cluster, web), "-n", NS, "--", "true", check=False)
    assert "forbidden" in refused and '"pods/exec"' in refused, refused
    # Attach is authorized the same way, as `create` on pods/attach.
    refused = onlooker.kubectl("attach", _web_pod(cluster, web), "-n", NS, check=False)
    assert "forbidden" in refused and '"pods/attach"' in refused, refused


def test_run_interactively_with_stdin_piped_in(cluster: Cluster) -> None:
    # -i: the pod gets stdin and stdinOnce; kubectl attaches, and the end of its stdin
    # (v5's close) closes the container's, so `read` returns and the container ends.
    done = _kubectl_run(
        cluster,
        "run",
        "-i",
        "--rm",
        "--restart=Never",
        "-n",
        NS,
        "--image=busybox",
        "reader",
        "--",
        "sh",
        "-c",
        "read l; echo got $l",
        stdin="hello\n",
    )
    assert done.returncode == 0, done
    assert "got hello\n" in done.stdout and 'pod "reader" deleted' in done.stdout, done
    # --restart=Never passes the container's exit code on.
    done = _kubectl_run(
        cluster,
        "run",
        "-i",
        "--rm",
        "--restart=Never",
        "-n",
        NS,
        "--image=busybox",
        "failer",
        "--",
        "sh",
        "-c",
        "read l; echo got $l; exit 3",
        stdin="x\n",
    )
    assert done.returncode == 3, done
    assert "got x\n" in done.stdout, done


def test_attach_follows_the_output_from_now_on(cluster: Cluster) -> None:
    script = "echo early; sleep 4; echo late; sleep 1; echo last"
    cluster.kubectl(
        "run", "talker", "-n", NS, "--image=busybox", "--restart=Never", "--", "sh", "-c", script
    )
    eventually(
        lambda: "early" in cluster.kubectl("logs", "talker", "-n", NS, check=False), 30, "early"
    )
    # Until the container stops; what it printed before attaching is not sent again.
    done = _kubectl_run(cluster, "attach", "talker", "-n", NS)
    assert done.returncode == 0, done
    assert done.stdout == "late\nlast\n", done
    assert cluster.kubectl("logs", "talker", "-n", NS) == "early\nlate\nlast\n"
    cluster.kubectl("delete", "pod", "talker", "-n", NS, "--wait=false")


@pytest.mark.parametrize("env", [{}, SPDY_REMOTE_COMMAND], ids=["websocket", "spdy"])
def test_run_with_a_terminal(cluster: Cluster, env: dict[str, str]) -> None:
    name = "term" if not env else "term-spdy"
    code, shown = in_terminal(
        cluster.kubeconfig,
        [
            *("run", "-it", "--rm", "--restart=Never", "-n", NS, "--image=busybox", name),
            *("--", "sh", "-c", "read l; echo got $l; tty"),
        ],
        typed=b"hello\r",
        env=env,
    )
    # The container's terminal echoes what was typed and carries the output.
    assert code == 0, shown
    assert b"got hello\r\n/dev/pts/" in shown and f'pod "{name}" deleted'.encode() in shown, shown


def test_exec_cp_and_run_interactively_over_spdy(
    cluster: Cluster, web: str, tmp_path: Path
) -> None:
    pod = _web_pod(cluster, web)
    spdy = SPDY_REMOTE_COMMAND
    done = cluster.run(
        "exec", pod, "-n", NS, "--", "sh", "-c", "echo in:$HOSTNAME; exit 7", env=spdy
    )
    assert done.returncode == 7 and done.stdout == f"in:{pod}\n", done
    assert "command terminated with exit code 7" in done.stderr, done.stderr
    done = cluster.run(
        "exec", "-i", pod, "-n", NS, "--", "sh", "-c", "cat; echo end", stdin="in\n", env=spdy
    )
    assert (done.returncode, done.stdout) == (0, "in\nend\n"), done
    source = tmp_path / "up.txt"
    source.write_text("copied over spdy\n")
    assert cluster.run("cp", str(source), f"{NS}/{pod}:/tmp/spdy.txt", env=spdy).returncode == 0
    back = tmp_path / "back.txt"
    assert cluster.run("cp", f"{NS}/{pod}:/tmp/spdy.txt", str(back), env=spdy).returncode == 0
    assert back.read_text() == "copied over spdy\n"
    done = cluster.run(
        *("run", "-i", "--rm", "--restart=Never", "-n", NS, "--image=busybox", "spdy-reader"),
        *("--", "sh", "-c", "read l; echo got $l; exit 3"),
        stdin="hello\n",
        env=spdy,
    )
    assert done.returncode == 3 and "got hello\n" in done.stdout, done


# kubectl port-forward 1.32 tunnels SPDY/3.1 through WebSocket (SPDY/3.1+portforward.k8s.io)
# and, should that upgrade be refused, upgrades to plain SPDY/3.1; the stand-in serves both
# (k8s_standin/spdy.py). The web pod's httpd serves /tmp/www on 8080.
def test_port_forward_gets_the_page(cluster: Cluster, web: str) -> None:
    target = f"pod/{_web_pod(cluster, web)}"
    with port_forward(cluster.kubeconfig, target, 8080, namespace=NS) as local:
        assert fetch(local) == b"hello-web\n"
        # A second connection: a new pair of streams on the same SPDY session.
        assert fetch(local) == b"hello-web\n"


def test_port_forward_over_plain_spdy_gets_the_page(cluster: Cluster, web: str) -> None:
    target = f"pod/{_web_pod(cluster, web)}"
    with port_forward(cluster.kubeconfig, target, 8080, namespace=NS, env=PLAIN_SPDY) as local:
        assert fetch(local) == b"hello-web\n"


# --- delete (last: it removes what the tests above share) ---------------------------------


def test_delete(cluster: Cluster, web: str) -> None:
    out = cluster.kubectl("delete", f"deployment/{web}", f"service/{web}", "-n", NS)
    assert 'deployment.apps "web" deleted' in out and 'service "web" deleted' in out
    assert "NotFound" in cluster.kubectl("get", "deployment", web, "-n", NS, check=False)


# --- access control --------------------------------------------------------------------


def as_token(cluster: Cluster, token: str, dest: Path) -> Cluster:
    """The same cluster with a kubeconfig whose only credential is ``token``."""
    import yaml

    config = yaml.safe_load(cluster.kubeconfig.read_text())
    config["users"] = [{"name": config["users"][0]["name"], "user": {"token": token}}]
    dest.write_text(yaml.safe_dump(config))
    return Cluster(dest)


def test_auth_can_i_for_the_admin_and_a_fresh_service_account(cluster: Cluster) -> None:
    assert cluster.kubectl("auth", "can-i", "list", "secrets", "-n", NS).strip() == "yes"
    assert cluster.kubectl("auth", "can-i", "*", "*", "--all-namespaces").strip() == "yes"
    cluster.kubectl("create", "serviceaccount", "nobody", "-n", NS)
    # --as sends Impersonate-User, which the admin may (cluster-admin: every verb).
    out = cluster.kubectl(
        "auth",
        "can-i",
        "list",
        "secrets",
        "-n",
        NS,
        f"--as=system:serviceaccount:{NS}:nobody",
        check=False,
    )
    assert out.splitlines()[0].strip() == "no", out


def test_create_token_and_whoami(cluster: Cluster, tmp_path: Path) -> None:
    cluster.kubectl("create", "serviceaccount", "tokened", "-n", NS)
    token = cluster.kubectl("create", "token", "tokened", "-n", NS, "--duration=15m").strip()
    assert token.count(".") == 2, token
    sa = as_token(cluster, token, tmp_path / "sa.kubeconfig")
    info = sa.json("auth", "whoami")["status"]["userInfo"]  # type: ignore[index]
    assert info["username"] == f"system:serviceaccount:{NS}:tokened", info
    assert {"system:serviceaccounts", f"system:serviceaccounts:{NS}"} <= set(info["groups"])
    refused = sa.kubectl("get", "secrets", "-n", NS, check=False)
    assert (
        f'secrets is forbidden: User "system:serviceaccount:{NS}:tokened" cannot list '
        f'resource "secrets" in API group "" in the namespace "{NS}"'
    ) in refused, refused
    admin_whoami = cluster.kubectl("auth", "whoami")
    assert "system:admin" in admin_whoami and "system:masters" in admin_whoami


def test_create_role_and_rolebinding(cluster: Cluster, tmp_path: Path) -> None:
    out = cluster.kubectl(
        "create", "role", "pod-reader", "--verb=get,list,watch", "--resource=pods", "-n", NS
    )
    assert "role.rbac.authorization.k8s.io/pod-reader created" in out
    cluster.kubectl("create", "serviceaccount", "reader", "-n", NS)
    out = cluster.kubectl(
        "create",
        "rolebinding",
        "read-pods",
        "--role=pod-reader",
        f"--serviceaccount={NS}:reader",
        "-n",
        NS,
    )
    assert "rolebinding.rbac.authorization.k8s.io/read-pods created" in out
    as_reader = f"--as=system:serviceaccount:{NS}:reader"
    assert cluster.kubectl("auth", "can-i", "list", "pods", "-n", NS, as_reader).strip() == "yes"
    denied = cluster.kubectl("auth", "can-i", "list", "secrets", "-n", NS, as_reader, check=False)
    assert denied.splitlines()[0].strip() == "no", denied
    token = cluster.kubectl("create", "token", "reader", "-n", NS).strip()
    reader = as_token(cluster, token, tmp_path / "reader.kubeconfig")
    # A Role binds in its own namespace only.
    assert "is forbidden" in reader.kubectl("get", "pods", "-n", "default", check=False)
    reader.kubectl("get", "pods", "-n", NS)
    binding = cluster.json("get", "rolebinding", "read-pods", "-n", NS)
    assert binding["roleRef"] == {  # type: ignore[comparison-overlap]
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "pod-reader",
    }


def test_get_clusterroles(cluster: Cluster) -> None:
    out = cluster.kubectl("get", "clusterroles")
    for name in ("cluster-admin", "admin", "edit", "view", "system:basic-user"):
        assert re.search(rf"^{re.escape(name)}\s", out, re.M), out
    view = cluster.json("get", "clusterrole", "view")
    # Aggregated from system:aggregate-to-view; Secrets are not among its resources.
    resources = {r for rule in view["rules"] for r in rule["resources"]}  # type: ignore[attr-defined]
    assert "pods" in resources and "secrets" not in resources, resources


# --- server-side apply and field ownership ----------------------------------------------

SSA_CONFIG = """
apiVersion: v1
kind: ConfigMap
metadata: {name: ssa-config, namespace: battery, labels: {owner: apply}}
data: {kept: "1", dropped: "2"}
"""

SSA_DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: ssa, namespace: battery}
spec:
  replicas: REPLICAS
  selector: {matchLabels: {app: ssa}}
  template:
    metadata: {labels: {app: ssa}}
    spec:
      containers:
      - {name: sleep, image: busybox, command: [sleep, "3600"]}
"""


def _managers(obj: dict[str, object]) -> set[tuple[str, str, str]]:
    entries = obj["metadata"]["managedFields"]  # type: ignore[index]
    return {(e["manager"], e["operation"], e.get("subresource", "")) for e in entries}


def test_server_side_apply_removes_what_it_no_longer_applies(cluster: Cluster) -> None:
    out = cluster.kubectl("apply", "--server-side", "-f", "-", stdin=SSA_CONFIG)
    assert "configmap/ssa-config serverside-applied" in out
    # A label another manager set survives the applier dropping what it applied.
    cluster.kubectl("label", "configmap", "ssa-config", "-n", NS, "extra=1")
    second = SSA_CONFIG.replace(', dropped: "2"', "").replace(", labels: {owner: apply}", "")
    cluster.kubectl("apply", "--server-side", "-f", "-", stdin=second)
    cm = cluster.json("get", "configmap", "ssa-config", "-n", NS, "--show-managed-fields")
    assert cm["data"] == {"kept": "1"}
    assert cm["metadata"]["labels"] == {"extra": "1"}  # type: ignore[index]
    assert _managers(cm) == {("kubectl", "Apply", ""), ("kubectl-label", "Update", "")}


def test_apply_conflicts_with_a_scale_until_forced(cluster: Cluster) -> None:
    cluster.kubectl(
        "apply", "--server-side", "-f", "-", stdin=SSA_DEPLOYMENT.replace("REPLICAS", "1")
    )
    assert "deployment.apps/ssa scaled" in cluster.kubectl(
        "scale", "deployment", "ssa", "-n", NS, "--replicas=0"
    )
    again = SSA_DEPLOYMENT.replace("REPLICAS", "1")
    refused = cluster.run("apply", "--server-side", "-f", "-", stdin=again)
    assert refused.returncode == 1, refused
    assert re.search(
        r'Apply failed with 1 conflict: conflict with "kubectl[^"]*" with subresource "scale"'
        r" using apps/v1: \.spec\.replicas",
        refused.stderr,
    ), refused.stderr
    assert "--force-conflicts" in refused.stderr  # kubectl's advice follows the Status
    replicas = cluster.kubectl(
        "get", "deployment", "ssa", "-n", NS, "-o", "jsonpath={.spec.replicas}"
    )
    assert replicas == "0"
    forced = cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", stdin=again)
    assert "deployment.apps/ssa serverside-applied" in forced
    dep = cluster.json("get", "deployment", "ssa", "-n", NS, "--show-managed-fields")
    assert dep["spec"]["replicas"] == 1  # type: ignore[index]
    # The scale writer lost its only field, so its entry is gone.
    assert {m for m in _managers(dep) if m[2] == "scale"} == set()


def test_get_shows_managed_fields_only_when_asked(cluster: Cluster) -> None:
    cluster.kubectl(
        "apply",
        "--server-side",
        "--field-manager=battery-tool",
        "-f",
        "-",
        stdin=SSA_CONFIG.replace("ssa-config", "ssa-shown"),
    )
    shown = cluster.kubectl(
        "get", "configmap", "ssa-shown", "-n", NS, "-o", "yaml", "--show-managed-fields"
    )
    assert "managedFields:" in shown
    assert "manager: battery-tool" in shown and "operation: Apply" in shown
    assert "fieldsType: FieldsV1" in shown and "f:dropped: {}" in shown
    plain = cluster.kubectl("get", "configmap", "ssa-shown", "-n", NS, "-o", "yaml")
    assert "managedFields" not in plain


def test_apply_conflicts_with_kubectl_edit(cluster: Cluster) -> None:
    config = SSA_DEPLOYMENT.replace("name: ssa,", "name: ssa-edit,").replace("REPLICAS", "0")
    config = config.replace("app: ssa", "app: ssa-edit")
    cluster.kubectl("apply", "--server-side", "-f", "-", stdin=config)
    # kubectl edit with an editor that changes the command in place.
    edited = cluster.run(
        "edit", "deployment", "ssa-edit", "-n", NS, env={"KUBE_EDITOR": "sed -i s/3600/3601/"}
    )
    assert edited.returncode == 0 and "deployment.apps/ssa-edit edited" in edited.stdout, edited
    refused = cluster.run("apply", "--server-side", "-f", "-", stdin=config)
    assert refused.returncode == 1, refused
    assert (
        'Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: '
        '.spec.template.spec.containers[name="sleep"].command'
    ) in refused.stderr, refused.stderr
    # Applying the value the editor left is shared ownership, not a conflict.
    cluster.kubectl("apply", "--server-side", "-f", "-", stdin=config.replace("3600", "3601"))


# --- CustomResourceDefinitions ------------------------------------------------------------

CRONTAB_CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: crontabs.stable.example.com}
spec:
  group: stable.example.com
  scope: Namespaced
  names: {plural: crontabs, singular: crontab, kind: CronTab, shortNames: [ct]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Spec, type: string, jsonPath: .spec.cronSpec}
    - {name: Replicas, type: integer, jsonPath: .spec.replicas}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [cronSpec]
            properties:
              cronSpec: {type: string}
              replicas: {type: integer, minimum: 1, maximum: 10}
              image: {type: string, default: busybox}
          status:
            type: object
            properties: {phase: {type: string}}
"""
CRONTAB = """
apiVersion: stable.example.com/v1
kind: CronTab
metadata: {name: my-cron, namespace: battery}
spec: {cronSpec: "*/5 * * * *", replicas: 1, unknownField: dropped}
"""


@pytest.fixture(scope="module")
def crontabs(cluster: Cluster) -> str:
    out = cluster.kubectl("apply", "-f", "-", stdin=CRONTAB_CRD)
    assert (
        "customresourcedefinition.apiextensions.k8s.io/crontabs.stable.example.com created" in out
    )
    waited = cluster.kubectl(
        "wait", "--for=condition=established", "crd/crontabs.stable.example.com", "--timeout=30s"
    )
    assert "condition met" in waited
    return "crontabs.stable.example.com"


def test_get_crd(cluster: Cluster, crontabs: str) -> None:
    out = cluster.kubectl("get", "crd")
    assert re.search(r"^NAME\s+CREATED AT$", out, re.M), out
    assert re.search(rf"^{re.escape(crontabs)}\s+\d{{4}}-\d\d-\d\dT", out, re.M), out
    described = cluster.kubectl("describe", "crd", crontabs)
    assert "Established" in described and "InitialNamesAccepted" in described, described


def test_custom_objects_apply_get_describe_patch_delete(cluster: Cluster, crontabs: str) -> None:
    # kubectl validates strictly by default: the server refuses a field the schema lacks.
    strict = cluster.kubectl("apply", "-f", "-", stdin=CRONTAB, check=False)
    assert (
        'CronTab in version "v1" cannot be handled as a CronTab: strict decoding error: '
        'unknown field "spec.unknownField"'
    ) in strict, strict
    # With --validate=warn it is dropped (pruned) and named in a warning.
    warned = cluster.kubectl("apply", "--validate=warn", "-f", "-", stdin=CRONTAB, check=False)
    assert "crontab.stable.example.com/my-cron created" in warned, warned
    assert 'Warning: unknown field "spec.unknownField"' in warned, warned
    # The short name and the printer columns come from the CRD.
    out = cluster.kubectl("get", "ct", "-n", NS)
    assert re.search(r"^NAME\s+SPEC\s+REPLICAS$", out, re.M), out
    assert re.search(r"^my-cron\s+\*/5 \* \* \* \*\s+1$", out, re.M), out
    # The server filled in the schema's default.
    spec = cluster.json("get", "ct", "my-cron", "-n", NS)["spec"]
    assert spec == {"cronSpec": "*/5 * * * *", "replicas": 1, "image": "busybox"}
    described = cluster.kubectl("describe", "crontab", "my-cron", "-n", NS)
    assert "Kind:         CronTab" in described and "Cron Spec:" in described, described
    patched = cluster.kubectl(
        "patch", "ct", "my-cron", "-n", NS, "--type=merge", "-p", '{"spec":{"replicas":3}}'
    )
    assert "crontab.stable.example.com/my-cron patched" in patched
    # Custom objects have no strategic merge patch, kubectl patch's default.
    refused = cluster.kubectl("patch", "ct", "my-cron", "-n", NS, "-p", "{}", check=False)
    assert "application/strategic-merge-patch+json is not supported" in refused, refused
    cluster.kubectl(
        "patch",
        "ct",
        "my-cron",
        "-n",
        NS,
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status":{"phase":"Running"}}',
    )
    got = cluster.json("get", "ct", "my-cron", "-n", NS)
    assert got["status"] == {"phase": "Running"} and got["spec"]["replicas"] == 3, got
    out = cluster.kubectl("delete", "ct", "my-cron", "-n", NS)
    assert 'crontab.stable.example.com "my-cron" deleted' in out


def test_an_invalid_custom_object_is_refused(cluster: Cluster, crontabs: str) -> None:
    bad = CRONTAB.replace("my-cron", "bad-cron").replace("replicas: 1", "replicas: 11")
    out = cluster.kubectl("apply", "--validate=false", "-f", "-", stdin=bad, check=False)
    assert (
        'The CronTab "bad-cron" is invalid: spec.replicas: Invalid value: 11: '
        "spec.replicas in body should be less than or equal to 10"
    ) in out, out


def test_deleting_a_crd_deletes_its_objects(cluster: Cluster) -> None:
    crd = CRONTAB_CRD.replace("crontabs", "backups").replace("crontab", "backup")
    crd = crd.replace("CronTab", "Backup").replace("[ct]", "[bk]")
    cluster.kubectl("apply", "-f", "-", stdin=crd)
    cluster.kubectl(
        "wait", "--for=condition=established", "crd/backups.stable.example.com", "--timeout=30s"
    )
    obj = CRONTAB.replace("CronTab", "Backup").replace("my-cron", "nightly")
    cluster.kubectl("apply", "--validate=false", "-f", "-", stdin=obj)
    assert "nightly" in cluster.kubectl("get", "bk", "-n", NS)
    out = cluster.kubectl("delete", "crd", "backups.stable.example.com", "--timeout=60s")
    assert (
        'customresourcedefinition.apiextensions.k8s.io "backups.stable.example.com" deleted' in out
    )
    assert "backups.stable.example.com" not in cluster.kubectl("get", "crd")
    refused = cluster.kubectl("get", "backups.stable.example.com", "-n", NS, check=False)
    assert "the server doesn't have a resource type" in refused, refused


# --- PodDisruptionBudgets ---------------------------------------------------------------

GUARDED = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: guarded, namespace: battery}
spec:
  replicas: 2
  selector: {matchLabels: {app: guarded}}
  template:
    metadata: {labels: {app: guarded}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - {name: main, image: busybox, command: [sleep, "3600"]}
"""


def test_create_pdb_and_drain_refused(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", "-", stdin=GUARDED)
    cluster.kubectl("rollout", "status", "deployment/guarded", "-n", NS, "--timeout=90s")
    out = cluster.kubectl(
        "create", "pdb", "guarded", "-n", NS, "--selector=app=guarded", "--min-available=2"
    )
    assert "poddisruptionbudget.policy/guarded created" in out

    def counted() -> bool:
        got = cluster.json("get", "pdb", "guarded", "-n", NS)["status"]
        return got.get("currentHealthy") == 2  # type: ignore[union-attr]

    eventually(counted, 30, "the disruption controller")
    listed = cluster.kubectl("get", "pdb", "-n", NS)
    assert re.search(r"^NAME\s+MIN AVAILABLE\s+MAX UNAVAILABLE\s+ALLOWED DISRUPTIONS\s+AGE", listed)
    assert re.search(r"^guarded\s+2\s+N/A\s+0\s", listed, re.M), listed
    described = cluster.kubectl("describe", "pdb", "guarded", "-n", NS)
    assert re.search(r"Allowed disruptions:\s+0", described), described
    node = cluster.kubectl("get", "nodes", "-o", "jsonpath={.items[0].metadata.name}").strip()
    try:
        drained = cluster.kubectl(
            "drain",
            node,
            "--pod-selector=app=guarded",
            "--ignore-daemonsets",
            "--delete-emptydir-data",
            "--timeout=12s",
            check=False,
        )
    finally:
        cluster.kubectl("uncordon", node)
    assert "Cannot evict pod as it would violate the pod's disruption budget." in drained, drained
    # With room for one disruption, drain evicts one pod and is refused the other.
    cluster.kubectl(
        "patch", "pdb", "guarded", "-n", NS, "--type=merge", "-p", '{"spec":{"minAvailable":1}}'
    )
    eventually(
        lambda: (
            cluster.kubectl(
                "get", "pdb", "guarded", "-n", NS, "-o", "jsonpath={.status.disruptionsAllowed}"
            )
            == "1"
        ),
        30,
        "one allowed disruption",
    )
    try:
        drained = cluster.kubectl(
            "drain",
            node,
            "--pod-selector=app=guarded",
            "--ignore-daemonsets",
            "--timeout=8s",
            check=False,
        )
    finally:
        cluster.kubectl("uncordon", node)
    # The first eviction spends the budget; the second waits for a replacement that a
    # cordoned node cannot run.
    assert re.search(r"pod/guarded-\S+ evicted", drained), drained
    assert "would violate the pod's disruption budget" in drained, drained
    cluster.kubectl("delete", "pdb", "guarded", "-n", NS)
    cluster.kubectl("delete", "deployment", "guarded", "-n", NS)


# --- ResourceQuotas ---------------------------------------------------------------------


def test_create_quota_and_a_refused_create(cluster: Cluster) -> None:
    cluster.kubectl("create", "namespace", "quoted")
    eventually(lambda: "default" in cluster.kubectl("get", "sa", "-n", "quoted", check=False), 30)
    out = cluster.kubectl(
        "create",
        "quota",
        "compute",
        "-n",
        "quoted",
        "--hard=pods=1,requests.cpu=500m,limits.memory=256Mi,configmaps=2",
    )
    assert "resourcequota/compute created" in out
    listed = cluster.kubectl("get", "quota", "-n", "quoted")
    assert re.search(r"^NAME\s+AGE\s+REQUEST\s+LIMIT$", listed, re.M), listed
    # kube-root-ca.crt is one ConfigMap already.
    assert "configmaps: 1/2, pods: 0/1, requests.cpu: 0/500m" in listed, listed
    assert "limits.memory: 0/256Mi" in listed, listed
    refused = cluster.kubectl(
        "run", "bare", "-n", "quoted", "--image=busybox", "--", "sleep", "60", check=False
    )
    assert (
        'pods "bare" is forbidden: failed quota: compute: must specify limits.memory for: '
        "bare; requests.cpu for: bare"
    ) in refused, refused
    sized = json.dumps(
        {
            "spec": {
                "containers": [
                    {
                        "name": "sized",
                        "image": "busybox",
                        "command": ["sleep", "3600"],
                        "resources": {"requests": {"cpu": "300m"}, "limits": {"memory": "128Mi"}},
                    }
                ]
            }
        }
    )
    cluster.kubectl("run", "sized", "-n", "quoted", "--image=busybox", f"--overrides={sized}")
    described = cluster.kubectl("describe", "quota", "compute", "-n", "quoted")
    assert re.search(r"requests\.cpu\s+300m\s+500m", described), described
    again = cluster.kubectl(
        "run",
        "second",
        "-n",
        "quoted",
        "--image=busybox",
        f"--overrides={sized.replace('sized', 'second')}",
        check=False,
    )
    assert (
        'pods "second" is forbidden: exceeded quota: compute, requested: '
        "pods=1,requests.cpu=300m, used: pods=1,requests.cpu=300m, limited: "
        "pods=1,requests.cpu=500m"
    ) in again, again
    cluster.kubectl("create", "configmap", "one", "-n", "quoted")
    full = cluster.kubectl("create", "configmap", "two", "-n", "quoted", check=False)
    assert "exceeded quota: compute, requested: configmaps=1, used: configmaps=2" in full, full
    cluster.kubectl("delete", "namespace", "quoted", "--wait=false")


# --- metrics (kubectl top) ---------------------------------------------------------------
# kubectl 1.32's metrics client asks for "application/vnd.kubernetes.protobuf, */*"
# (seen with -v=8); metrics-server can answer protobuf, the stand-in answers JSON, which
# that Accept admits.


@pytest.fixture(scope="module")
def topped(cluster: Cluster) -> str:
    """A sleeping pod that metrics-server has sampled twice (two 15 s scrapes)."""
    cluster.kubectl("run", "topped", "-n", NS, "--image=busybox", "--", "sleep", "3600")
    cluster.kubectl("wait", "pod/topped", "-n", NS, "--for=condition=Ready", "--timeout=60s")
    # Until then kubectl says "metrics not available yet" or the PodMetrics is NotFound.
    eventually(
        lambda: re.search(
            r"^topped\s+\d+m", cluster.kubectl("top", "pod", "topped", "-n", NS, check=False), re.M
        ),
        90,
        "metrics of pod topped",
    )
    return "topped"


def test_get_apiservice_shows_metrics_server_available(cluster: Cluster) -> None:
    def available() -> str:
        out = cluster.kubectl("get", "apiservice", "v1beta1.metrics.k8s.io", check=False)
        return out if re.search(r"kube-system/metrics-server\s+True\s", out) else ""

    eventually(available, 90, "APIService v1beta1.metrics.k8s.io Available")
    out = cluster.kubectl("api-resources", "--api-group=metrics.k8s.io")
    assert re.search(r"^nodes\s+metrics.k8s.io/v1beta1\s+false\s+NodeMetrics", out, re.M), out
    assert re.search(r"^pods\s+metrics.k8s.io/v1beta1\s+true\s+PodMetrics", out, re.M), out


def test_top_nodes(cluster: Cluster, topped: str) -> None:
    out = cluster.kubectl("top", "nodes")
    assert re.match(r"NAME\s+CPU\(cores\)\s+CPU\(%\)\s+MEMORY\(bytes\)\s+MEMORY\(%\)", out), out
    node = cluster.kubectl("get", "nodes", "-o", "jsonpath={.items[0].metadata.name}")
    assert re.search(rf"^{re.escape(node)}\s+\d+m\s+\d+%\s+\d+Mi\s+\d+%", out, re.M), out


def test_top_pods_in_a_namespace_and_everywhere(cluster: Cluster, topped: str) -> None:
    out = cluster.kubectl("top", "pods", "-n", NS)
    assert re.search(rf"^{topped}\s+\d+m\s+\d+Mi", out, re.M), out
    everywhere = cluster.kubectl("top", "pods", "-A")
    assert re.search(rf"^{NS}\s+{topped}\s+\d+m\s+\d+Mi", everywhere, re.M), everywhere
    assert re.search(r"^kube-system\s+coredns-", everywhere, re.M), everywhere


def test_top_pod_containers_and_raw_metrics(cluster: Cluster, topped: str) -> None:
    out = cluster.kubectl("top", "pod", topped, "-n", NS, "--containers")
    assert re.search(rf"^{topped}\s+{topped}\s+\d+m\s+\d+Mi", out, re.M), out
    raw = json.loads(
        cluster.kubectl(
            "get", "--raw", f"/apis/metrics.k8s.io/v1beta1/namespaces/{NS}/pods/{topped}"
        )
    )
    assert raw["kind"] == "PodMetrics" and raw["window"].endswith("s"), raw
    usage = raw["containers"][0]["usage"]
    assert re.fullmatch(r"\d+n|0", usage["cpu"]) or usage["cpu"].endswith(("u", "m")), usage
    assert re.fullmatch(r"\d+(Ki|Mi)", usage["memory"]), usage
