"""This plugin against what people would use instead, on the same stand-in k3s image.

Every figure is a whole process, timed from outside, in alternating rounds in this
one process; the ratios are what to read (absolute times on shared machines are
noise). Each side reaches the same state: the node Ready, CoreDNS Available and the
default ServiceAccount present, then one trivial test, then the cluster removed.

- baseline: ``docker run`` the image as its contract says, wait with kubectl;
- testcontainers: testcontainers-python's ``K3SContainer`` in a pytest session
  fixture, adapted only where this machine forces it (the fallback capabilities
  instead of ``--privileged``, which this engine refuses, and the stand-in's ready
  line), then the same kubectl waits;
- plugin: ``pytest --distro=k3s --distro-image=<stand-in>`` over one test;
- unused: ``pytest`` on a trivial test with the plugin installed, against
  ``-p no:k8sdistro``;
- reuse: ``--distro-reuse-cluster`` attaching to a kept cluster, against pytest's own
  start-up;
- the plugin and reuse figures again with the test running kubectl, as the
  baseline's and testcontainers' tests do, instead of the Kubernetes client;
- two: k3s and k0s in one run, against the slower of the two alone.

Needs a Docker engine, the stand-in images (``python tests/standin/image/build.py``)
and the benchmark extra: ``pip install -e '.[bench]'``. Usage:

    python benchmarks/peers.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import docker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "standin"))

from image.specs import STANDINS, image_tag  # noqa: E402

K3S = next(s for s in STANDINS if s.distro == "k3s" and s.role == "default")
K0S = next(s for s in STANDINS if s.distro == "k0s" and s.role == "default")
#: What this engine grants instead of --privileged (it lacks CAP_SYS_RESOURCE).
FALLBACK = {
    "cap_add": ["ALL"],
    "cap_drop": ["SYS_RESOURCE"],
    "security_opt": ["seccomp=unconfined", "apparmor=unconfined"],
}
LABELS = {"pytest-k8sdistro.test": "1", "pytest-k8sdistro.benchmark": "peers"}
TEST = "def test_one(kube):\n    kube.core.list_node()\n"
#: The same test without the Kubernetes client: importing it (and its CoreV1Api) and
#: unloading it at exit costs about 0.7 s here, whatever starts the cluster.
TEST_KUBECTL = (
    "import subprocess\n\n"
    "def test_one(cluster):\n"
    "    subprocess.run(['kubectl', 'get', 'nodes', '-o', 'name'], check=True)\n"
)
TRIVIAL = "def test_nothing():\n    pass\n"

# The scripts below run in processes of their own; they read their parameters here.
PARAMETERS = "K8SDISTRO_PEERS"

READY = """
import json, os, subprocess, time
P = json.loads(os.environ["K8SDISTRO_PEERS"])

def kubectl(kubeconfig, *args):
    done = subprocess.run(["kubectl", f"--kubeconfig={kubeconfig}", *args],
                          capture_output=True, text=True, timeout=30)
    return done.stdout.strip() if done.returncode == 0 else ""

def wait_ready(kubeconfig):
    ready = "jsonpath={.items[*].status.conditions[?(@.type=='Ready')].status}"
    available = "jsonpath={.status.conditions[?(@.type=='Available')].status}"
    for check, expected in (
        (("get", "nodes", "-o", ready), "True"),
        (("-n", "kube-system", "get", "deploy/coredns", "-o", available), "True"),
        (("get", "serviceaccount", "default", "-o", "name"), "serviceaccount/default"),
    ):
        deadline = time.monotonic() + 120
        while kubectl(kubeconfig, *check) != expected:
            if time.monotonic() > deadline:
                raise RuntimeError(f"never saw kubectl {check}")
            time.sleep(0.2)
"""

BASELINE = (
    READY
    + """
import pathlib, sys, docker
client = docker.from_env()
image, workdir = sys.argv[1], pathlib.Path(sys.argv[2])
node = client.containers.run(
    image, ["server", "--tls-san=127.0.0.1"], detach=True,
    ports={"6443/tcp": ("127.0.0.1", None)}, tmpfs={"/run": "", "/var/run": ""},
    labels=P["labels"], **P["fallback"],
)
try:
    node.reload()
    port = node.ports["6443/tcp"][0]["HostPort"]
    while True:
        code, out = node.exec_run(["cat", "/etc/rancher/k3s/k3s.yaml"])
        if code == 0 and out:
            break
        time.sleep(0.2)
    kubeconfig = workdir / "kubeconfig"
    kubeconfig.write_text(out.decode().replace("https://127.0.0.1:6443", f"https://127.0.0.1:{port}"))
    wait_ready(kubeconfig)
    assert kubectl(kubeconfig, "get", "nodes", "-o", "name")
finally:
    node.remove(force=True, v=True)
"""
)

TESTCONTAINERS = (
    READY
    + """
import pytest
from testcontainers.core.waiting_utils import wait_for_logs
from testcontainers.k3s import K3SContainer

class StandinK3s(K3SContainer):
    def __init__(self, image):
        super().__init__(image, enable_cgroup_mount=False)
        # This engine refuses --privileged; the same capabilities as the plugin's fallback.
        self._kwargs.pop("privileged", None)
        self.with_kwargs(**P["fallback"], labels=P["labels"])

    def _connect(self):
        wait_for_logs(self, predicate="k3s is up and running", timeout=120)

@pytest.fixture(scope="session")
def k3s(tmp_path_factory):
    with StandinK3s(P["image"]) as node:
        kubeconfig = tmp_path_factory.mktemp("k") / "kubeconfig"
        kubeconfig.write_text(node.config_yaml())
        wait_ready(kubeconfig)
        yield kubeconfig

def test_one(k3s):
    assert kubectl(k3s, "get", "nodes", "-o", "name")
"""
)


def timed(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        argv, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True
    )
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return took


def remove_kept(client: docker.DockerClient, *, since: float) -> None:
    """Remove the cluster this benchmark kept for the reuse figure, and only it: the
    kept markers made since it started name the run and cluster to remove."""
    for marker in client.volumes.list(filters={"label": "pytest-k8sdistro.kept=1"}):
        attrs = marker.attrs
        labels = attrs.get("Labels") or {}
        created = attrs.get("CreatedAt", "")
        made = time.mktime(time.strptime(created[:19], "%Y-%m-%dT%H:%M:%S")) if created else 0
        if made + 3600 * 24 < since or not labels.get("pytest-k8sdistro.cluster"):
            continue
        wanted = {
            "label": [
                f"pytest-k8sdistro.run-id={labels.get('pytest-k8sdistro.run-id')}",
                f"pytest-k8sdistro.cluster={labels['pytest-k8sdistro.cluster']}",
            ]
        }
        for container in client.containers.list(all=True, filters=wanted):
            container.remove(force=True, v=True)
        for network in client.networks.list(filters=wanted):
            network.remove()
        # The marker carries the same labels, so it goes with the cluster's volumes.
        for volume in client.volumes.list(filters=wanted):
            volume.remove(force=True)


def pytest_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-q", *args]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    client = docker.from_env()
    # Ryuk's image cannot be pulled here; the containers are removed by the fixture.
    env = {"TESTCONTAINERS_RYUK_DISABLED": "true", "TESTCONTAINERS_CONNECTION_MODE": "docker_host"}
    os.environ[PARAMETERS] = json.dumps({"labels": LABELS, "fallback": FALLBACK, "image": K3S.ref})
    # Two distributions in one run take their official references: tag the stand-ins
    # so, for this benchmark only, and untag what was tagged here afterwards.
    official = {
        K3S.ref: f"rancher/k3s:{image_tag(K3S.version)}",
        K0S.ref: f"k0sproject/k0s:{image_tag(K0S.version)}",
    }
    tagged = []
    for ref, name in official.items():
        try:
            client.images.get(name)
        except docker.errors.ImageNotFound:
            client.images.get(ref).tag(name)
            tagged.append(name)
    figures: dict[str, list[float]] = {}
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "test_one.py").write_text(TEST)
        (work / "test_kubectl.py").write_text(TEST_KUBECTL)
        (work / "test_trivial.py").write_text(TRIVIAL)
        (work / "baseline.py").write_text(BASELINE)
        (work / "tc").mkdir()
        (work / "tc" / "test_tc.py").write_text(TESTCONTAINERS)
        reuse = ["-p", "no:randomly", "--distro=k3s", f"--distro-image={K3S.ref}"]
        # A kept cluster for the reuse figure (not timed).
        timed(pytest_argv(*reuse, "--distro-keep-cluster=always", "test_one.py"), work)
        scenarios: dict[str, Callable[[], float]] = {
            "baseline": lambda: timed([sys.executable, "baseline.py", K3S.ref, tmp], work),
            "testcontainers": lambda: timed(
                pytest_argv("-p", "no:k8sdistro", "-p", "no:cacheprovider", "tc"), work, env
            ),
            "plugin": lambda: timed(
                pytest_argv(
                    "-p", "no:cacheprovider", "--distro=k3s", f"--distro-image={K3S.ref}",
                    "test_one.py",
                ),
                work,
            ),
            "pytest unused": lambda: timed(
                pytest_argv("-p", "no:cacheprovider", "test_trivial.py"), work
            ),
            "pytest without": lambda: timed(
                pytest_argv("-p", "no:cacheprovider", "-p", "no:k8sdistro", "test_trivial.py"),
                work,
            ),
            "reuse": lambda: timed(
                pytest_argv(*reuse, "--distro-reuse-cluster", "test_one.py"), work
            ),
            "reuse, kubectl test": lambda: timed(
                pytest_argv(*reuse, "--distro-reuse-cluster", "test_kubectl.py"), work
            ),
            "plugin, kubectl test": lambda: timed(
                pytest_argv(
                    "-p", "no:cacheprovider", "--distro=k3s", f"--distro-image={K3S.ref}",
                    "test_kubectl.py",
                ),
                work,
            ),
            "k3s alone": lambda: timed(
                pytest_argv("-p", "no:cacheprovider", "--distro=k3s", "test_one.py"), work
            ),
            "k0s alone": lambda: timed(
                pytest_argv("-p", "no:cacheprovider", "--distro=k0s", "test_one.py"), work
            ),
            "k3s and k0s": lambda: timed(
                pytest_argv(
                    "-p", "no:cacheprovider", "--distro=k3s", "--distro=k0s", "test_one.py"
                ),
                work,
            ),
        }  # fmt: skip
        try:
            for _ in range(rounds):
                for name, run in scenarios.items():
                    figures.setdefault(name, []).append(run())
        finally:
            try:
                remove_kept(client, since=started)
            finally:
                for name in tagged:
                    client.images.remove(name, noprune=True)
    median = {name: statistics.median(values) for name, values in figures.items()}
    slower = max(median["k3s alone"], median["k0s alone"])
    ratios = {
        "plugin / testcontainers": median["plugin"] / median["testcontainers"],
        "plugin - baseline (s)": median["plugin"] - median["baseline"],
        "unused - without (ms)": 1000 * (median["pytest unused"] - median["pytest without"]),
        "reuse - pytest start-up (s)": median["reuse"] - median["pytest unused"],
        # Like for like with baseline and testcontainers, whose tests run kubectl.
        "plugin (kubectl test) - baseline (s)": median["plugin, kubectl test"] - median["baseline"],
        "reuse (kubectl test) - pytest start-up (s)": median["reuse, kubectl test"]
        - median["pytest unused"],
        "two / slower alone": median["k3s and k0s"] / slower,
    }
    print(json.dumps({"rounds": rounds, "median_s": median, "ratios": ratios}, indent=2))


if __name__ == "__main__":
    main()
