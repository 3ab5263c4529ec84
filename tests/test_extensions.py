"""A third-party plugin adds a distribution and a provisioner, with no change to the
package, and gets what the built-in ones get: option checks, parametrization, its
own expectations (by version too), usage errors and report rows.

The plugin below is what a vendor would write: a distribution built on k3s's
contract ("acme") whose IngressClass changes from its 1.34 line, and a provisioner
("acme-box") that runs the stand-in k3s as a host process and declares what it can
do. The suites run against it without Docker.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STANDIN_DIR = ROOT / "tests" / "standin"
SUITES = ROOT / "suites"
API_ONLY = [
    str(SUITES / "test_storage.py") + "::test_default_storage_class_matches_profile",
    str(SUITES / "test_ingress.py") + "::test_ingress_classes_match_profile",
    str(SUITES / "test_runtime.py"),
]

PLUGIN = """
import dataclasses
import re

from standin_provisioner import StandinProcess

from pytest_k8sdistro import Capabilities, VersionRange, get_profile

K3S = get_profile("k3s")

ACME = dataclasses.replace(
    K3S,
    name="acme",
    default_version="v1.33.6+acme1",
    version_pattern=re.compile(r"v(\\d+\\.\\d+)\\.\\d+\\+acme\\d+"),
    version_example="v1.33.6+acme1",
    image_repository="registry.example/acme/acme",
    # Its own claims: a smaller idle threshold, the same classes as k3s up to 1.33.
    expectations=dataclasses.replace(K3S.expectations, memory_idle_max_mib=700),
    by_version=(
        VersionRange(
            since="1.34",
            changes={"ingress_classes": ("acme-gateway",), "default_ingress_class": "acme-gateway"},
            source="acme release notes 1.34",
        ),
    ),
    sources=("acme docs",),
    machine=None,
)


class AcmeBox(StandinProcess):
    NAME = "acme-box"
    CAPABILITIES = Capabilities(runs_images=True, max_nodes=1)

    def create(self, spec, key):
        return self.start_k3s_standin(spec, key)


def pytest_k8sdistro_add_distros(registry):
    registry["acme"] = ACME


def pytest_k8sdistro_add_provisioners(registry):
    registry[AcmeBox.NAME] = AcmeBox
"""


@pytest.fixture
def acme(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    pytester.makepyfile(acme_plugin=PLUGIN)
    monkeypatch.setenv(
        "PYTHONPATH",
        os.pathsep.join([str(pytester.path), str(STANDIN_DIR), os.environ.get("PYTHONPATH", "")]),
    )
    monkeypatch.setenv("HOME", str(pytester.path / "home"))
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "-p",
        "acme_plugin",
        "-p",
        "no:cacheprovider",
        f"--rootdir={ROOT}",
        "--distro-ready-timeout=90",
        *args,
        timeout=300,
    )


def test_an_added_distribution_runs_the_suites_through_an_added_provisioner(
    acme: pytest.Pytester,
) -> None:
    report = acme.path / "report.json"
    result = run(
        acme,
        "--distro=acme",
        "--distro-provisioner=acme-box",
        f"--distro-report={report}",
        *API_ONLY,
    )
    result.assert_outcomes(passed=3)
    # Parametrized under its own name and version, like a built-in one.
    result.stdout.fnmatch_lines(["*acme:v1.33.6+acme1 via acme-box*"])
    data = json.loads(report.read_text())
    entry = data["distros"]["acme v1.33.6+acme1"]
    assert entry["claims"]["ingress"] == "traefik"
    assert entry["requirements"]["memory_idle_max_mib"] == 700
    assert entry["provisioner"] == "acme-box"
    assert {name for name in entry["suites"]} >= {"storage", "ingress", "runtime"}


def test_a_version_range_of_the_added_profile_decides_the_suite(acme: pytest.Pytester) -> None:
    # The same suite against the same stand-in: from 1.34 the profile expects the
    # vendor's own IngressClass, so it fails there and names that expectation.
    result = run(
        acme,
        "--distro=acme:v1.34.2+acme1",
        "--distro-provisioner=acme-box",
        str(SUITES / "test_ingress.py") + "::test_ingress_classes_match_profile",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*acme-gateway*"])
    assert "traefik" in result.stdout.str()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--distro=acme:1.2"], "'1.2' is not a acme version; write it like 'v1.33.6+acme1'"),
        (
            ["--distro=acme", "--distro-provisioner=acme-box", "--distro-nodes=2"],
            "--distro-provisioner=acme-box brings up one node, so --distro-nodes=2 cannot apply",
        ),
        (
            ["--distro=acme", "--distro-provisioner=acme-box", "--distro-node-memory=1GiB"],
            "so --distro-node-memory cannot apply",
        ),
        (
            ["--distro=microk8s", "--distro-provisioner=acme-box"],
            "microk8s cannot run with --distro-provisioner=acme-box: it is a snap",
        ),
        (
            ["--distro=acme", "--distro-provisioner=host", "--distro-allow-host-install"],
            "acme has no install plan for a machine",
        ),
        (["--distro=nosuch"], "known distributions: k3s, k0s, microk8s, acme"),
        (["--distro-provisioner=nosuch"], "known: acme-box, docker"),
    ],
)
def test_added_names_get_the_same_usage_errors(
    acme: pytest.Pytester, args: list[str], message: str
) -> None:
    acme.makepyfile("def test_nothing():\n    pass\n")
    result = run(acme, *args)
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR, output
    assert message in output
    assert "Traceback" not in output
