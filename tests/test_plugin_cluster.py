"""The cluster lifecycle through real pytest runs: one cluster per run (xdist
included), keep and reuse, namespaces, KUBECONFIG, and readiness failures.

Clusters here are the stand-in k3s control plane run as a host process by the
``standin-process`` provisioner (tests/standin/standin_provisioner.py).
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

STANDIN_DIR = Path(__file__).parent / "standin"

USES_CLUSTER = """
import os, stat

def _mark(what):
    with open(os.environ["K8SDISTRO_TEST_RECORD"], "a") as handle:
        handle.write(f"test {what} {os.getpid()}\\n")

def test_nodes(kube):
    assert kube.core.list_node().items
    _mark("nodes")

def test_kubeconfig_env(cluster):
    assert os.environ["KUBECONFIG"] == cluster.kubeconfig
    assert stat.S_IMODE(os.stat(cluster.kubeconfig).st_mode) == 0o600
    _mark("env")

def test_node(node):
    assert node.run("true").rc == 0
    _mark("node")

def test_namespace(kube, namespace):
    assert kube.core.read_namespace(namespace).metadata.labels[
        "app.kubernetes.io/managed-by"] == "pytest-k8sdistro"
    _mark("namespace")
"""


@pytest.fixture
def record(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = pytester.path / "record.txt"
    monkeypatch.setenv("K8SDISTRO_TEST_RECORD", str(path))
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(STANDIN_DIR), os.environ.get("PYTHONPATH", "")])
    )
    # The user's kubeconfig must never be the one used: point HOME somewhere empty.
    monkeypatch.setenv("HOME", str(pytester.path / "home"))
    return path


def events(path: Path) -> list[str]:
    return [line.split()[0] + ":" + line.split()[1] for line in path.read_text().splitlines()]


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "-p",
        "standin_provisioner",
        "--distro-provisioner=standin-process",
        "--distro=k3s",
        "--distro-ready-timeout=60",
        *args,
        timeout=240,
    )


def test_xdist_workers_share_one_cluster_created_and_removed_once(
    pytester: pytest.Pytester, record: Path
) -> None:
    pytester.makepyfile(test_a=USES_CLUSTER, test_b=USES_CLUSTER.replace('_mark("', '_mark("b-'))
    result = run(pytester, "-n", "3")
    result.assert_outcomes(passed=8)
    lines = record.read_text().splitlines()
    kinds = [line.split()[0] for line in lines]
    assert kinds.count("create") == 1, lines
    assert kinds.count("destroy") == 1, lines
    assert kinds[-1] == "destroy", "torn down only after the last test"
    test_pids = {line.split()[2] for line in lines if line.startswith("test ")}
    assert len(test_pids) > 1, "tests ran in more than one worker"
    stderr = result.stderr.str()
    assert stderr.count("starting with the standin-process provisioner") == 1
    assert "ready: default ServiceAccount" in stderr


def _times(path: Path, event: str) -> dict[str, float]:
    """When each cluster passed ``event``, from the provisioner's record."""
    return {
        line.split()[1]: float(line.split()[3])
        for line in path.read_text().splitlines()
        if line.split()[0] == event
    }


def test_two_distributions_boot_side_by_side_and_go_together(
    pytester: pytest.Pytester, record: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each create and destroy takes 3 s more, as a real node's boot and removal do.
    monkeypatch.setenv("K8SDISTRO_TEST_LINGER_S", "3")
    pytester.makepyfile(USES_CLUSTER)
    result = run(pytester, "--distro=k3s:v1.37.2+k3s1")
    result.assert_outcomes(passed=8)
    began, ready = _times(record, "create"), _times(record, "created")
    going, gone = _times(record, "destroy"), _times(record, "destroyed")
    assert len(began) == len(going) == 2, record.read_text()
    # Each boot began before the other was up, and each removal before the other ended.
    assert max(began.values()) < min(ready.values()), record.read_text()
    assert max(going.values()) < min(gone.values()), record.read_text()


def test_a_run_whose_tests_use_no_cluster_starts_none(
    pytester: pytest.Pytester, record: Path
) -> None:
    pytester.makepyfile("def test_plain():\n    pass\n")
    result = run(pytester)
    result.assert_outcomes(passed=1)
    assert not record.exists() or "create" not in record.read_text()
    assert "starting" not in result.stderr.str()


def test_keep_then_reuse_attaches_without_creating(pytester: pytest.Pytester, record: Path) -> None:
    pytester.makepyfile(USES_CLUSTER)
    first = run(pytester, "--distro-keep-cluster=always")
    first.assert_outcomes(passed=4)
    assert "kept cluster k3s-v1.36.5-k3s1" in first.stderr.str()
    second = run(pytester, "--distro-reuse-cluster")
    second.assert_outcomes(passed=4)
    assert "reusing the cluster kept by an earlier run" in second.stderr.str()
    assert [e for e in events(record) if not e.startswith("test")] == ["create:k3s-v1.36.5-k3s1"]
    kept = json.loads(
        (pytester.path / ".pytest_cache/d/k8sdistro-kept/k3s-v1.36.5-k3s1.json").read_text()
    )
    kept_kubeconfig = Path(kept["kubeconfig"])
    assert stat.S_IMODE(kept_kubeconfig.stat().st_mode) == 0o600
    # Remove the kept cluster: a last run that neither reuses nor keeps would
    # start a new one, so stop it through the provisioner directly.
    from standin_provisioner import StandinProcess  # type: ignore[import-not-found]

    from pytest_k8sdistro import Cluster

    StandinProcess.destroy(None, Cluster.from_dict(kept))  # type: ignore[arg-type]
    assert events(record)[-1] == "destroy:k3s-v1.36.5-k3s1"


def test_namespaces_of_failed_tests_are_kept_on_failure(
    pytester: pytest.Pytester, record: Path
) -> None:
    pytester.makepyfile(
        """
        import os

        def _note(name):
            with open(os.environ["K8SDISTRO_TEST_RECORD"], "a") as handle:
                handle.write(f"ns {name} 0\\n")

        def test_passes(namespace):
            _note(namespace)

        def test_fails(namespace):
            _note(namespace)
            assert False, "on purpose"
        """
    )
    result = run(pytester, "--distro-keep-cluster=on-failure")
    result.assert_outcomes(passed=1, failed=1)
    assert "kept namespace t-test-fails" in result.stderr.str()
    passed_ns, failed_ns = [
        line.split()[1] for line in record.read_text().splitlines() if line.startswith("ns ")
    ]
    kept = json.loads(
        (pytester.path / ".pytest_cache/d/k8sdistro-kept/k3s-v1.36.5-k3s1.json").read_text()
    )
    from kubernetes.client.exceptions import ApiException

    from pytest_k8sdistro.kube.api import api_client
    from pytest_k8sdistro.kube.client import Kube

    kube = Kube(api_client(kept["kubeconfig"]))
    try:
        assert kube.core.read_namespace(failed_ns).status.phase == "Active"
        try:
            phase = kube.core.read_namespace(passed_ns).status.phase
        except ApiException as exc:
            assert exc.status == 404
        else:
            assert phase == "Terminating"
    finally:
        from standin_provisioner import StandinProcess

        from pytest_k8sdistro import Cluster

        StandinProcess.destroy(None, Cluster.from_dict(kept))  # type: ignore[arg-type]


def test_a_cluster_that_never_gets_ready_is_not_tested_and_says_why_once(
    pytester: pytest.Pytester, record: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STANDIN_NEVER_READY", "1")
    pytester.makepyfile(USES_CLUSTER)
    report = pytester.path / "report"
    result = pytester.runpytest_subprocess(
        "-p",
        "standin_provisioner",
        "--distro-provisioner=standin-process",
        "--distro=k3s",
        "--distro-ready-timeout=8",
        f"--distro-report={report}",
        timeout=240,
    )
    # Errors, never failures: the run could not test k3s, and its exit status says so.
    result.assert_outcomes(errors=4)
    assert result.ret == 6
    output = result.stdout.str()
    # Each test says it in one line; the whole cause comes once, in the summary.
    lines = output.splitlines()
    said = [line for line in lines if line.startswith("could not test k3s:v1.36.5+k3s1: its")]
    assert len(said) == 4, output
    assert all("did not become ready" in line for line in said)
    assert output.count("distributions this run could not test") == 1
    summary = output.split("distributions this run could not test")[1]
    assert "stage 'log line' still waits for" in summary and "stages passed: none" in summary
    assert output.count("last lines of the node's log:") == 1
    assert output.count("stages passed: none") == 1
    # No chained tracebacks of the plugin's (the node's own log lines may hold some).
    assert "During handling of the above exception" not in output
    assert "pytest_k8sdistro/" not in output
    # One attempt, cleaned up at once; no worker starts a second cluster after it.
    assert events(record) == ["create:k3s-v1.36.5-k3s1", "destroy:k3s-v1.36.5-k3s1"]
    # No report format claims anything about k3s: every row says "not measured".
    for suffix in ("md", "html", "json"):
        text = (pytester.path / f"report.{suffix}").read_text().replace("✗ failed,", "")
        assert "✗" not in text and "\\u2717" not in text, suffix
        assert '"failed": 1' not in text and '"failed": 4' not in text, suffix
        assert "not measured: the cluster did not become ready" in text or suffix == "json"
    data = json.loads((pytester.path / "report.json").read_text())
    entry = data["distros"]["k3s v1.36.5+k3s1"]
    assert "did not become ready" in entry["not_tested"]


def test_sigterm_tears_the_cluster_down(pytester: pytest.Pytester, record: Path) -> None:
    pytester.makepyfile(
        """
        import os, time

        def test_waits(kube):
            with open(os.environ["K8SDISTRO_TEST_RECORD"], "a") as handle:
                handle.write("test running 0\\n")
            time.sleep(120)
        """
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "standin_provisioner",
            "--distro-provisioner=standin-process",
            "--distro=k3s",
            "--distro-ready-timeout=60",
        ],
        cwd=pytester.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        while "test:running" not in (events(record) if record.exists() else []):
            assert process.poll() is None, process.communicate()[0].decode()
            assert time.monotonic() < deadline, "the test never started"
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=60)[0].decode()
    finally:
        if process.poll() is None:
            process.kill()
    assert events(record)[-1] == "destroy:k3s-v1.36.5-k3s1", output
    assert "KeyboardInterrupt" in output


def test_api_that_goes_away_during_boot_is_reported_as_such(
    pytester: pytest.Pytester, record: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The stand-in serves for two seconds, long enough to be started, then refuses
    # every connection: readiness must say it is the API that does not answer.
    monkeypatch.setenv("STANDIN_API_DOWN_AFTER", "2")
    monkeypatch.setenv("STANDIN_API_DOWN_FOR", "600")
    pytester.makepyfile("def test_x(kube):\n    pass\n")
    result = pytester.runpytest_subprocess(
        "-p",
        "standin_provisioner",
        "--distro-provisioner=standin-process",
        "--distro=k3s",
        "--distro-ready-timeout=20",
        timeout=240,
    )
    result.assert_outcomes(errors=1)
    output = result.stdout.str()
    assert "still waits for: the API to answer" in output, output[-3000:]
    assert "Connection refused" in output
    assert events(record) == ["create:k3s-v1.36.5-k3s1", "destroy:k3s-v1.36.5-k3s1"]
