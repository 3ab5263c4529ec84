"""The examples of docs/writing-suites.md run, as written, against each stand-in."""

from __future__ import annotations

import re
from pathlib import Path

import docker
import pytest
from docker_fixtures import own_tag
from image.specs import StandinImages

pytestmark = pytest.mark.docker

PAGE = Path(__file__).resolve().parent.parent / "docs" / "writing-suites.md"


def examples() -> list[str]:
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.S)
    return [block for block in blocks if "def test_" in block]


def test_the_page_has_examples() -> None:
    assert len(examples()) >= 2


@pytest.mark.parametrize("distro", ["k3s", "k0s"])
def test_the_examples_pass(
    pytester: pytest.Pytester,
    engine: docker.DockerClient,
    standin_images: StandinImages,
    alias: dict[str, str],
    distro: str,
) -> None:
    ref = alias[distro] = own_tag(engine, standin_images.for_distro(distro).ref, f"docs-{distro}")
    found = examples()
    pytester.makepyfile(**{f"test_example_{n}": code for n, code in enumerate(found)})
    tests = sum(code.count("\ndef test_") + code.startswith("def test_") for code in found)
    result = pytester.runpytest_subprocess(
        f"--distro={distro}", f"--distro-image={ref}", "--distro-ready-timeout=180", timeout=600
    )
    outcomes = result.parseoutcomes()
    # A feature the distribution does not claim is skipped, as the page says
    # (k0s ships no StorageClass); nothing may fail.
    assert outcomes.get("passed", 0) + outcomes.get("skipped", 0) == tests, outcomes
    assert "failed" not in outcomes and "errors" not in outcomes, outcomes
    if distro == "k3s":
        assert outcomes.get("passed") == tests, outcomes
