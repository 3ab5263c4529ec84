"""The upgrade suite end to end: stand-in clusters on a real engine, upgraded in place.

Each run starts a stand-in node with the docker provisioner, upgrades it with the
upgrade image's binary, and checks the suite's verdict, its message and its result
file. "Killing" runs use the stand-in's STANDIN_KILL_PODS_ON_RESTART switch: the node
container gets it from its image, made here by committing a never-started container
of the stand-in image with one more ENV line (so the plugin needs no way to pass
environment to nodes).
"""

from __future__ import annotations

import contextlib
import json
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest
from image.specs import StandinImages

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "suites" / "test_upgrade.py"
KILL = "STANDIN_KILL_PODS_ON_RESTART=1"


@pytest.fixture
def engine() -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    yield client
    client.close()


Derive = Callable[[str, list[str]], str]


@pytest.fixture
def derive(engine: docker.DockerClient) -> Iterator[Derive]:
    """Make a tagged copy of an image with extra ENV lines; removed afterwards."""
    made: list[str] = []

    def make(ref: str, env: list[str]) -> str:
        repository = "pytest-k8sdistro-test/upgrade"
        tag = uuid.uuid4().hex[:10]
        container = engine.containers.create(ref, labels={"pytest-k8sdistro.test": "1"})
        try:
            container.commit(repository, tag, changes=[f"ENV {line}" for line in env])
        finally:
            container.remove(force=True, v=True)
        made.append(f"{repository}:{tag}")
        return made[-1]

    yield make
    for ref in made:
        with contextlib.suppress(docker.errors.ImageNotFound):
            engine.images.remove(ref)


def run_suite(
    pytester: pytest.Pytester, distro: str, image: str, upgrade_image: str, target: str, *args: str
) -> tuple[pytest.RunResult, dict[str, Any]]:
    """Run the upgrade suite; returns the run and the result file's contents."""
    report = pytester.path / "report.xml"
    result = pytester.runpytest_subprocess(
        str(SUITE),
        f"--rootdir={ROOT}",
        "-p",
        "no:cacheprovider",
        f"--distro={distro}",
        f"--distro-image={image}",
        f"--distro-upgrade-to={target}",
        f"--distro-upgrade-image={upgrade_image}",
        "--distro-ready-timeout=180",
        f"--junitxml={report}",
        *args,
        timeout=420,
    )
    properties: dict[str, Any] = {}
    if report.exists():
        for prop in ET.parse(report).getroot().iter("property"):
            properties[prop.get("name", "")] = prop.get("value")
    data: dict[str, Any] = {}
    path = properties.get("k8sdistro_upgrade_file")
    if path and Path(path).is_file():
        data = json.loads(Path(path).read_text())
    return result, data


def output(result: pytest.RunResult) -> str:
    return result.stdout.str() + result.stderr.str()


def check_timeline(data: dict[str, Any]) -> None:
    timeline = data["timeline"]
    labels = [m["label"] for m in timeline["marks"]]
    assert labels[:3] == ["upgrade started", "procedure done", "new version reported"]
    assert len(timeline["workload"]) > 20 and len(timeline["control_plane"]) > 20
    assert timeline["columns"] == ["at_s", "latency_ms", "status", "error"]
    assert all(len(row) == 4 for row in timeline["workload"])


def test_k0s_keeps_its_pods_and_passes(
    pytester: pytest.Pytester, standin_images: StandinImages
) -> None:
    result, data = run_suite(
        pytester,
        "k0s",
        standin_images.k0s.ref,
        standin_images.k0s_upgrade.ref,
        standin_images.k0s_upgrade.version,
    )
    assert result.ret == 0, output(result)[-4000:]
    result.assert_outcomes(passed=1)
    assert data["verdict"] == "no workload downtime"
    assert data["workload"]["failed_requests"] == 0
    assert set(data["node_versions_after"].values()) == {standin_images.k0s_upgrade.version}
    assert data["time_to_new_version_s"] > 0
    assert {p["change"] for p in data["workload_pods"]} == {"kept"}
    assert data["system_pods"], "system pods are listed separately"
    assert data["kind"] == "minor"
    check_timeline(data)


def test_k0s_that_kills_its_pods_fails_with_the_gap(
    pytester: pytest.Pytester, standin_images: StandinImages, derive: Derive
) -> None:
    image = derive(standin_images.k0s.ref, [KILL])
    result, data = run_suite(
        pytester, "k0s", image, standin_images.k0s_upgrade.ref, standin_images.k0s_upgrade.version
    )
    result.assert_outcomes(failed=1)
    text = output(result)
    assert "k0s claims hitless upgrades, but the upgrade interrupted the workload" in text
    gap = data["workload"]["longest_gap_s"]
    assert gap > 0 and f"longest gap {gap:.2f}s" in text
    assert "restarted (restarts 0 -> 1)" in text
    assert data["workload"]["available_at_end"], "the outage is measured whole"
    check_timeline(data)


def test_k3s_that_kills_its_pods_fails_and_max_downtime_decides(
    pytester: pytest.Pytester, standin_images: StandinImages, derive: Derive
) -> None:
    image = derive(standin_images.k3s.ref, [KILL])
    args = ("k3s", image, standin_images.k3s_upgrade.ref, standin_images.k3s_upgrade.version)
    result, data = run_suite(pytester, *args)
    result.assert_outcomes(failed=1)
    text = output(result)
    gap = data["workload"]["longest_gap_s"]
    assert gap > 0 and f"longest gap {gap:.2f}s" in text
    assert "LoadBalancer Service (servicelb) on node port 8443" in data["workload_path"]
    assert any(p["change"] == "restarted" for p in data["workload_pods"])
    check_timeline(data)

    # The same upgrade with a downtime budget well above what was measured passes.
    result, data = run_suite(pytester, *args, "--distro-max-downtime=60")
    assert result.ret == 0, output(result)[-4000:]
    assert data["expectation"]["max_downtime_s"] == 60
    assert data["workload"]["failed_requests"] > 0


def test_k3s_keeps_its_pods_and_passes(
    pytester: pytest.Pytester, standin_images: StandinImages
) -> None:
    result, data = run_suite(
        pytester,
        "k3s",
        standin_images.k3s.ref,
        standin_images.k3s_upgrade.ref,
        standin_images.k3s_upgrade.version,
    )
    assert {p["change"] for p in data["workload_pods"]} == {"kept"}
    assert set(data["node_versions_after"].values()) == {standin_images.k3s_upgrade.version}
    check_timeline(data)
    # Hitless like k3s: adopted pods stay Ready and svclb needs no API, so no request fails.
    assert result.ret == 0, output(result)[-4000:]
    assert data["workload"]["failed_requests"] == 0, data["verdict"]
