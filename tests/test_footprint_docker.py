"""The footprint suite against the stand-ins through the Docker provisioner.

k3s runs from a stand-in image whose server holds a known 200 MiB
(STANDIN_HOLD_MEMORY_MIB), with ``--distro-memory-max`` below what it then uses: the idle
check must fail naming both figures, and the second, memory-limited cluster of the
"fits" check must boot. k0s runs the plain stand-in. Both reports are merged with
the merge command; memory, disk and time to ready must be in every format, and the
HTML must carry the chart. The stand-in's figures say nothing about real k3s or k0s.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest
from docker_fixtures import own_tag
from image.specs import StandinImages

from pytest_k8sdistro.provisioners.docker import labels
from pytest_k8sdistro.report import __main__ as report_cli

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parent.parent
HOLD_MIB = 200


@pytest.fixture
def held_image(engine: docker.DockerClient, standin_images: StandinImages) -> Iterator[str]:
    """The stand-in k3s with a server that holds HOLD_MIB, under a tag of this test."""
    ref = f"pytest-k8sdistro-test/footprint-k3s:{uuid.uuid4().hex[:10]}"
    dockerfile = f"FROM {standin_images.k3s.ref}\nENV STANDIN_HOLD_MEMORY_MIB={HOLD_MIB}\n"
    engine.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=ref, rm=True, pull=False)
    yield ref
    with contextlib.suppress(docker.errors.ImageNotFound):
        engine.images.remove(ref)


@pytest.fixture
def aliases(engine: docker.DockerClient) -> Iterator[list[str]]:
    made: list[str] = []
    yield made
    for ref in made:
        with contextlib.suppress(docker.errors.ImageNotFound):
            engine.images.remove(ref)


def _alias(engine: docker.DockerClient, source: str, made: list[str]) -> str:
    """A tag of this test for ``source``, made just before use (other sessions' clean-ups
    may remove test tags they did not make)."""
    ref = own_tag(engine, source, "footprint-k0s")
    made.append(ref)
    return ref


def _run(pytester: pytest.Pytester, distro: str, image: str, out: Path, *extra: str) -> Any:
    return pytester.runpytest_subprocess(
        str(ROOT / "suites" / "test_footprint.py"),
        f"--rootdir={ROOT}",
        "-p",
        "no:cacheprovider",
        f"--distro={distro}",
        f"--distro-image={image}",
        "--distro-ready-timeout=240",
        "--distro-settle-seconds=2",
        f"--distro-report={out}",
        f"--junitxml={out}.xml",
        "-o",
        "junit_family=xunit1",
        *extra,
    )


def _owned(engine: docker.DockerClient, image: str) -> list[str]:
    return [
        c.name
        for c in engine.containers.list(
            ignore_removed=True, all=True, filters={"label": f"{labels.OWNED}=1"}
        )
        if image in (c.attrs.get("Config", {}).get("Image") or "")
    ]


def test_footprint_report_against_the_standins(
    pytester: pytest.Pytester,
    engine: docker.DockerClient,
    held_image: str,
    standin_images: StandinImages,
    aliases: list[str],
) -> None:
    out = pytester.path / "reports"
    k3s = _run(
        pytester,
        "k3s",
        held_image,
        out / "k3s",
        "--distro-memory-max=128MiB",
        "--distro-memory-tiers=empty,app",
    )
    k3s.assert_outcomes(passed=5, failed=1)
    text = k3s.stdout.str()
    found = re.search(r"found:\s+([\d.]+) MiB: ([\d.]+) MiB median", text)
    assert "idle memory of k3s v1.36.5+k3s1 is above the threshold" in text
    assert "expected: at most 128.0 MiB (--distro-memory-max) with tier 'empty' deployed" in text
    assert found is not None and float(found.group(1)) > HOLD_MIB, text
    assert _owned(engine, held_image) == []  # both clusters removed

    k0s_alias = _alias(engine, standin_images.k0s.ref, aliases)
    k0s = _run(
        pytester, "k0s", k0s_alias, out / "k0s", "--distro-memory-tiers=empty", "-k", "not fits"
    )
    k0s.assert_outcomes(passed=4, deselected=1)
    assert _owned(engine, k0s_alias) == []

    merged = out / "all"
    assert (
        report_cli.main(["merge", str(out / "k3s.json"), str(out / "k0s.json"), "-o", str(merged)])
        == 0
    )
    report = json.loads(merged.with_suffix(".json").read_text())
    k3s_entry = report["distros"]["k3s v1.36.5+k3s1"]
    k0s_entry = report["distros"]["k0s v1.36.3+k0s.2"]
    for entry in (k3s_entry, k0s_entry):
        assert entry["memory"]["empty"]["median_mib"] > 50
        assert entry["disk"]["install_bytes"] > 0 and entry["disk"]["image_bytes"] > 0
        assert entry["time_to_ready"]["default ServiceAccount"] > 0
        assert entry["time_to_ready_from"] == "the node container's start"
    assert k3s_entry["memory"]["empty"]["median_mib"] > HOLD_MIB
    assert k3s_entry["memory_threshold"]["passed"] is False
    assert k3s_entry["fits"]["ready"] is True and k3s_entry["fits"]["serves"] is True
    assert set(k3s_entry["memory"]) == {"empty", "app"}

    md = merged.with_suffix(".md").read_text()
    assert "| empty |" in md and "| default ServiceAccount |" in md and "| Node image |" in md
    page = merged.with_suffix(".html").read_text()
    assert "default ServiceAccount" in page and "Node image" in page
    chart = re.search(r'src="data:image/png;base64,([^"]+)"', page)
    assert chart is not None
    png = base64.b64decode(chart.group(1))
    assert png.startswith(b"\x89PNG")
    junit = (out / "k3s.xml").read_text()
    assert 'name="footprint.memory.empty.median_mib"' in junit
    assert 'name="footprint.disk.install_bytes"' in junit
