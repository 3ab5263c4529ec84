"""What ``pip install pytest-k8sdistro`` gives a user: the plugin, the suites, their manifests.

The end-to-end test builds the wheel from this checkout, installs it into a fresh
virtualenv in a temporary directory (so nothing of the checkout is on the path) and
runs the shipped suites there with ``--pyargs``, against the k3s stand-in image.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import tomllib
import venv
import zipfile
from pathlib import Path

import docker
import pytest
from docker_fixtures import own_tag
from image.specs import StandinImages

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def source_packages() -> set[str]:
    """Every package of the checkout, under the names it installs as."""
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "pytest_k8sdistro").rglob("__init__.py")
    }
    found.add("pytest_k8sdistro.suites")
    found |= {
        ".".join(("pytest_k8sdistro", *d.relative_to(ROOT).parts))
        for d in [ROOT / "fixtures", *(p for p in (ROOT / "fixtures").rglob("*") if p.is_dir())]
    }
    return found


def test_every_package_of_the_source_is_listed_for_the_wheel() -> None:
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    assert listed == source_packages()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        check=True,
        timeout=600,
    )
    (built,) = out.glob("pytest_k8sdistro-*.whl")
    return built


def test_the_wheel_holds_the_suites_and_their_manifests(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    suites = {p.name for p in (ROOT / "suites").glob("*.py")}
    manifests = {str(p.relative_to(ROOT)) for p in (ROOT / "fixtures").rglob("*.yaml")}
    assert {f"pytest_k8sdistro/suites/{name}" for name in suites} <= names
    assert {f"pytest_k8sdistro/{path}" for path in manifests} <= names
    # The project's own tests and stand-ins are not the user's.
    assert not any(name.startswith(("tests/", "k8s_standin/")) for name in names)


@pytest.mark.docker
def test_the_installed_suites_run_outside_the_checkout(
    wheel: Path,
    tmp_path: Path,
    engine: docker.DockerClient,
    standin_images: StandinImages,
    alias: dict[str, str],
) -> None:
    home = tmp_path / "fresh"
    venv.create(home / "venv", with_pip=True)
    python = home / "venv" / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)],
        check=True,
        timeout=900,
    )
    ref = alias["k3s"] = own_tag(engine, standin_images.k3s.ref, "wheel-k3s")
    report = home / "report"  # .md, .json and .html
    # Nothing of the checkout may be importable: not its suites, not its stand-ins.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [
            str(python), "-m", "pytest", "--pyargs", "pytest_k8sdistro.suites",
            "--distro=k3s", f"--distro-image={ref}", "--distro-ready-timeout=180",
            # Each memory tier is sampled this long (30 s by default): what is checked
            # here is that the installed suites run, not the figures.
            "--distro-settle-seconds=5",
            "-n", "3", "-p", "no:cacheprovider", f"--distro-report={report}", "-rfE",
        ],
        cwd=home, env=env, capture_output=True, text=True, timeout=1500, check=False,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert str(ROOT) not in output, "the run used files of the checkout"
    assert "passed" in result.stdout and " failed" not in result.stdout
    data = json.loads(report.with_suffix(".json").read_text())
    (entry,) = data["distros"].values()
    suites = entry["suites"]
    for name in (
        *("cluster", "dns", "storage", "ingress", "networking", "footprint"),
        *("workloads", "access_control", "reaching_in", "metrics"),
    ):
        assert suites[name]["passed"] > 0, (name, suites[name])
        assert suites[name]["failed"] == 0, (name, suites[name])
    # Under -n 3 the memory tiers ran on a cluster of their own, and the report says so.
    markdown = report.with_suffix(".md").read_text()
    assert "Measured on a cluster of its own" in markdown, markdown
    # No row says a feature failed (the legend names the mark, rows must not use it).
    assert not [row for row in markdown.splitlines() if row.startswith("|") and "✗" in row]


def test_readme_links_work_on_the_package_index_page() -> None:
    """PyPI shows the README without the repository: links must be absolute, and name
    files that exist."""
    home = PYPROJECT["project"]["urls"]["Source"]
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(([^)]+)\)", readme)
    assert links
    for link in links:
        assert link.startswith("https://"), link
        if link.startswith(f"{home}/blob/main/"):
            path = link.removeprefix(f"{home}/blob/main/").split("#")[0]
            assert (ROOT / path).is_file(), link


def test_the_sdist_carries_what_its_own_tests_need(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--outdir", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (sdist,) = tmp_path.glob("pytest_k8sdistro-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for needed in (
        "pyproject.toml", "LICENSE", "README.md", "conftest.py", "tox.ini", "mkdocs.yml",
        "suites/conftest.py", "fixtures/web.yaml", "tests/conftest.py",
        "tests/standin/k8s_standin/__init__.py", "tests/sshd/image.py", "docs/index.md",
    ):  # fmt: skip
        assert needed in names, needed
