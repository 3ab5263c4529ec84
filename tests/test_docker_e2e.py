"""End to end: ``pytest --distro=... --distro-image=<stand-in>`` on a real engine.

Each test runs the stand-in image under an alias tag of its own, so the cluster key
(which hashes the image) is unique to the test and concurrent runs never share it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import docker
import docker.errors
import pytest
from docker_fixtures import of_cluster, own_tag, remove_cluster
from image.builder import own_image
from image.specs import StandinImages

pytestmark = pytest.mark.docker

TEST_LABELS = {"pytest-k8sdistro.test": "1"}
ROOT = Path(__file__).resolve().parent.parent

NODES_TEST = """
def test_lists_its_node(kube, cluster):
    names = [n.metadata.name for n in kube.core.list_node().items]
    assert names == [cluster.nodes[0].name]
    assert cluster.api_server.startswith("https://127.0.0.1:")
    print("CLUSTER-KEY", cluster.key)
"""


def tag(engine: docker.DockerClient, images: StandinImages, distro: str) -> str:
    return own_tag(engine, images.for_distro(distro).ref, f"e2e-{distro}")


@pytest.mark.parametrize("distro", ["k3s", "k0s"])
def test_a_run_brings_the_node_up_and_removes_everything(
    pytester: pytest.Pytester,
    engine: docker.DockerClient,
    standin_images: StandinImages,
    alias: dict[str, str],
    distro: str,
) -> None:
    ref = alias[distro] = tag(engine, standin_images, distro)
    pytester.makepyfile(test_nodes=NODES_TEST)
    result = pytester.runpytest_subprocess(
        f"--distro={distro}", f"--distro-image={ref}", "--distro-ready-timeout=180", "-s"
    )
    result.assert_outcomes(passed=1)
    result.stderr.fnmatch_lines(["*node k8sdistro-*-server-0 started*", "*removing cluster*"])
    key = next(
        line.split("CLUSTER-KEY ")[1].split()[0]
        for line in result.stdout.lines
        if "CLUSTER-KEY " in line
    )
    assert key.startswith(distro)
    assert of_cluster(engine, key) == []


def test_leftovers_of_a_sigkilled_run_go_with_the_next_run(
    pytester: pytest.Pytester,
    engine: docker.DockerClient,
    standin_images: StandinImages,
    alias: dict[str, str],
    tmp_path: Path,
) -> None:
    ref = alias["k3s"] = tag(engine, standin_images, "k3s")
    flag = tmp_path / "reached"
    pytester.makepyfile(
        test_waits=f"""
        import os, time
        from pathlib import Path

        def test_waits(cluster):
            if os.environ.get("K8SDISTRO_TEST_WAIT"):
                Path({str(flag)!r}).write_text(cluster.key)
                time.sleep(600)
        """
    )
    args = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "pytester",
        "--distro=k3s",
        f"--distro-image={ref}",
        "--distro-ready-timeout=180",
        "test_waits.py",
    ]
    env = {**os.environ, "K8SDISTRO_TEST_WAIT": "1"}
    killed = subprocess.Popen(
        args, cwd=pytester.path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    unlabelled = None
    try:
        deadline = time.monotonic() + 240
        while not flag.exists():
            assert killed.poll() is None, "the first run ended before its test was reached"
            assert time.monotonic() < deadline, "the first run never reached its test"
            time.sleep(0.5)
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait()
        key = flag.read_text()
        assert of_cluster(engine, key)  # nothing could tear it down

        unlabelled = engine.containers.run(
            standin_images.base, ["sleep", "300"], detach=True, labels=TEST_LABELS
        )
        result = pytester.runpytest_subprocess(
            "--distro=k3s", f"--distro-image={ref}", "--distro-ready-timeout=180", "test_waits.py"
        )
        result.assert_outcomes(passed=1)
        # Gone after the next run. Usually that run's own sweep says it removed them;
        # but every run on this host sweeps at its start, and one beside it (another
        # test worker's) may get there first, which shows the same: nothing is left.
        assert of_cluster(engine, key) == [], result.stderr.str()[-3000:]
        unlabelled.reload()
        assert unlabelled.status == "running"
    finally:
        if killed.poll() is None:
            killed.kill()
        if unlabelled is not None:
            unlabelled.remove(force=True)
        if flag.exists():
            remove_cluster(engine, flag.read_text())


@pytest.mark.parametrize("distro", ["k3s", "k0s"])
def test_the_workloads_suite_passes_against_the_node_image(
    pytester: pytest.Pytester, engine: docker.DockerClient, alias: dict[str, str], distro: str
) -> None:
    """Jobs, CronJobs and StatefulSets on the node images: k3s's StatefulSet gets
    local-path volumes; k0s has no default StorageClass, so its claims must stay Pending."""
    # Built from these sources under a tag of their own: the shared tags stay as they are.
    source = own_image(engine, distro, "workloads", TEST_LABELS)
    ref = alias[distro] = own_tag(engine, source, f"e2e-workloads-{distro}")
    try:
        result = pytester.runpytest_subprocess(
            str(ROOT / "suites" / "test_workloads.py"),
            f"--rootdir={ROOT}",
            f"--distro={distro}",
            f"--distro-image={ref}",
            "--distro-ready-timeout=180",
            "--distro-suite-timeout=60",
            "--distro-suite-hold=4",
            "-p",
            "no:cacheprovider",
            "-n",
            "2",
            "-rA",
            timeout=600,
        )
        result.assert_outcomes(passed=3)
    finally:
        # Never forced: another test may still run the image.
        with contextlib.suppress(docker.errors.APIError):
            engine.images.remove(source, force=False)


@pytest.mark.parametrize("distro", ["k3s", "k0s"])
def test_the_reaching_in_and_access_control_suites_pass_against_the_node_image(
    pytester: pytest.Pytester, engine: docker.DockerClient, alias: dict[str, str], distro: str
) -> None:
    """exec and port-forward from the test host through the node container's API server
    to its kubelet, in the pods' network namespaces; and RBAC as both distributions run
    it (Node,RBAC): a fresh ServiceAccount refused, `view` reading pods but not secrets.
    One cluster serves both suites."""
    source = own_image(engine, distro, "reaching-in", TEST_LABELS)
    ref = alias[distro] = own_tag(engine, source, f"e2e-reaching-in-{distro}")
    try:
        result = pytester.runpytest_subprocess(
            str(ROOT / "suites" / "test_reaching_in.py"),
            str(ROOT / "suites" / "test_access_control.py"),
            f"--rootdir={ROOT}",
            f"--distro={distro}",
            f"--distro-image={ref}",
            "--distro-ready-timeout=180",
            "--distro-suite-timeout=60",
            "-p",
            "no:cacheprovider",
            "-rA",
            timeout=600,
        )
        result.assert_outcomes(passed=4)
    finally:
        # Never forced: another test may still run the image.
        with contextlib.suppress(docker.errors.APIError):
            engine.images.remove(source, force=False)


@pytest.mark.parametrize("distro", ["k3s", "k0s"])
def test_the_metrics_suite_passes_against_the_node_image(
    pytester: pytest.Pytester, engine: docker.DockerClient, alias: dict[str, str], distro: str
) -> None:
    """kubectl top's API on the node images: both deploy metrics-server, so the APIService
    becomes Available and node and pod metrics come from the node container's cgroup and
    the pods' processes."""
    source = own_image(engine, distro, "metrics", TEST_LABELS)
    ref = alias[distro] = own_tag(engine, source, f"e2e-metrics-{distro}")
    try:
        result = pytester.runpytest_subprocess(
            str(ROOT / "suites" / "test_metrics.py"),
            f"--rootdir={ROOT}",
            f"--distro={distro}",
            f"--distro-image={ref}",
            "--distro-ready-timeout=180",
            # Two metrics-server scrapes, 15 s apart, after the pod runs.
            "--distro-suite-timeout=90",
            "--distro-suite-hold=4",
            "-p",
            "no:cacheprovider",
            "-rA",
            timeout=600,
        )
        result.assert_outcomes(passed=3)
    finally:
        # Never forced: another test may still run the image.
        with contextlib.suppress(docker.errors.APIError):
            engine.images.remove(source, force=False)
