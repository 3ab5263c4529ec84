"""How much time the plugin adds to a run beyond the distribution's own boot.

Both sides boot the same stand-in k3s control plane as a host process:

- baseline: start it and wait, with kubectl (an independent client), until the
  node is Ready, CoreDNS is Available and the default ServiceAccount exists;
- plugin: ``pytest --distro=k3s --distro-provisioner=standin-process`` over one trivial
  test that uses the ``kube`` fixture, start to exit, teardown included.

The runs alternate, and the result is a ratio of medians taken in one process,
because absolute times on shared machines are noise. Usage:

    python benchmarks/plugin_overhead.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STANDIN = ROOT / "tests" / "standin"
sys.path.insert(0, str(STANDIN))

from k8s_standin.node.testing import Standin  # noqa: E402


def kubectl(kubeconfig: Path, *args: str) -> str | None:
    """kubectl's output, or None when it failed."""
    done = subprocess.run(
        ["kubectl", f"--kubeconfig={kubeconfig}", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return done.stdout if done.returncode == 0 else None


def baseline_boot(workdir: Path) -> float:
    start = time.perf_counter()
    standin = Standin(workdir).start()
    try:
        ready = "jsonpath={.items[*].status.conditions[?(@.type=='Ready')].status}"
        available = "jsonpath={.status.conditions[?(@.type=='Available')].status}"
        checks = [
            (("get", "nodes", "-o", ready), "True"),
            (("-n", "kube-system", "get", "deploy/coredns", "-o", available), "True"),
            (("get", "serviceaccount", "default", "-o", "name"), "serviceaccount/default"),
        ]
        for check, expected in checks:
            deadline = time.monotonic() + 60
            while (kubectl(standin.kubeconfig, *check) or "").strip() != expected:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"baseline never saw kubectl {' '.join(check)}")
                time.sleep(0.2)
        return time.perf_counter() - start
    finally:
        standin.stop()


def plugin_run(workdir: Path) -> float:
    workdir.mkdir(parents=True)
    (workdir / "test_one.py").write_text("def test_one(kube):\n    kube.core.list_node()\n")
    env = {**os.environ, "PYTHONPATH": str(STANDIN)}
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "standin_provisioner",
            "-p",
            "no:cacheprovider",
            "--distro-provisioner=standin-process",
            "--distro=k3s",
            f"--basetemp={workdir / 'tmp'}",
            str(workdir / "test_one.py"),
        ],
        cwd=workdir,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    baseline: list[float] = []
    plugin: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(rounds):
            baseline.append(baseline_boot(Path(tmp) / f"baseline-{index}"))
            plugin.append(plugin_run(Path(tmp) / f"plugin-{index}"))
    base, with_plugin = statistics.median(baseline), statistics.median(plugin)
    print(f"distribution boot alone (median of {rounds}): {base:.2f}s")
    print(f"pytest run with the plugin (median of {rounds}): {with_plugin:.2f}s")
    print(f"ratio plugin run / boot: {with_plugin / base:.2f}")
    print(f"plugin overhead beyond boot: {with_plugin - base:.2f}s")


if __name__ == "__main__":
    main()
