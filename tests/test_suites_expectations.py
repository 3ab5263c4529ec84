"""The suites read expectations from the profile and from --distro-expect overrides:
a claimed component must be present, an absent one must be absent, a vendor's
override changes what is checked, and a malformed override stops the run.

The checks that need only the API run against the stand-in k3s as a host process
(tests/standin/standin_provisioner.py), so no Docker or sandbox is needed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STANDIN_DIR = ROOT / "tests" / "standin"
API_ONLY = [
    str(ROOT / "suites" / "test_storage.py") + "::test_default_storage_class_matches_profile",
    str(ROOT / "suites" / "test_ingress.py") + "::test_ingress_classes_match_profile",
    str(ROOT / "suites" / "test_runtime.py"),
]


@pytest.fixture
def env(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(STANDIN_DIR), os.environ.get("PYTHONPATH", "")])
    )
    monkeypatch.setenv("HOME", str(pytester.path / "home"))


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "-p",
        "standin_provisioner",
        "--distro-provisioner=standin-process",
        "--distro=k3s",
        "--distro-ready-timeout=90",
        "-p",
        "no:cacheprovider",
        f"--rootdir={ROOT}",
        *args,
        timeout=300,
    )


@pytest.mark.usefixtures("env")
def test_profile_expectations_present_pass(pytester: pytest.Pytester) -> None:
    result = run(pytester, *API_ONLY)
    result.assert_outcomes(passed=3)


@pytest.mark.usefixtures("env")
def test_override_to_absent_is_checked_absent_and_override_to_match_passes(
    pytester: pytest.Pytester,
) -> None:
    # The vendor says: no default StorageClass, and IngressClasses traefik and nginx.
    # The stand-in k3s has local-path and only traefik, so both checks must fail and
    # say so; the runtime check, untouched by the override, still passes.
    pytester.makefile(
        ".yaml",
        expect=(
            "k3s:\n"
            "  storage_class: null\n"
            "  storage_provisioner: null\n"
            "  volume_binding_mode: null\n"
            "  ingress_classes: [nginx, traefik]\n"
        ),
    )
    result = run(pytester, "--distro-expect=expect.yaml", *API_ONLY)
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*k3s claims no default StorageClass, yet one is set*",
            "*expected: no StorageClass annotated as the default*",
            "*found:    local-path*",
            "*evidence:*",
            "*StorageClasses: local-path (provisioner rancher.io/local-path*",
        ],
        consecutive=False,
    )
    result.stdout.fnmatch_lines(
        [
            "*the IngressClasses differ from the profile's*",
            "*expected: IngressClasses ?'nginx', 'traefik'?*",
            "*found:    IngressClasses ?'traefik'?*",
        ]
    )


@pytest.mark.usefixtures("env")
def test_a_vendor_override_can_make_a_claimed_feature_absent_and_skip_its_behaviour_suite(
    pytester: pytest.Pytester,
) -> None:
    pytester.makefile(
        ".yaml", expect="k3s:\n  ingress_classes: []\n  default_ingress_class: null\n"
    )
    result = run(
        pytester,
        "--distro-expect=expect.yaml",
        "-rs",
        str(ROOT / "suites" / "test_ingress.py") + "::test_http_reaches_backends_by_host_and_path",
    )
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*does not claim feature(s): ingress*"])


def test_malformed_override_stops_the_suites_before_a_cluster_starts(
    pytester: pytest.Pytester,
) -> None:
    pytester.makefile(".yaml", expect="k3s:\n  ingress_classes: traefik\n  storage_clas: x\n")
    result = pytester.runpytest_subprocess(
        "--distro=k3s",
        "--distro-expect=expect.yaml",
        "-p",
        "no:cacheprovider",
        str(ROOT / "suites"),
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --distro-expect: expect.yaml, line *"])
    assert "starting" not in result.stderr.str()


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        (
            "--distro-suite-timeout",
            "soon",
            "*--distro-suite-timeout='soon': give seconds 1 or more*",
        ),
        ("--distro-suite-timeout", "0", "*--distro-suite-timeout='0': give seconds 1 or more*"),
        ("--distro-suite-hold", "-1", "*--distro-suite-hold='-1': give seconds 0 or more*"),
    ],
)
def test_bad_suite_timeouts_are_usage_errors(
    pytester: pytest.Pytester, option: str, value: str, message: str
) -> None:
    result = pytester.runpytest_subprocess(
        "--distro=k3s", f"{option}={value}", "-p", "no:cacheprovider", str(ROOT / "suites")
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


@pytest.mark.usefixtures("env")
def test_an_override_without_metrics_server_fails_where_the_api_is_registered(
    pytester: pytest.Pytester,
) -> None:
    # The stand-in k3s deploys metrics-server as k3s does: a vendor saying it does not
    # is told the APIService is there, and the usage checks are skipped.
    pytester.makefile(".yaml", expect="k3s:\n  metrics_server: false\n")
    result = run(
        pytester,
        "--distro-expect=expect.yaml",
        "--distro-suite-hold=4",
        "-rs",
        str(ROOT / "suites" / "test_metrics.py"),
    )
    result.assert_outcomes(failed=1, skipped=2)
    result.stdout.fnmatch_lines(
        [
            "*k3s claims no metrics-server, yet the metrics API is registered*",
            "*expected: no metrics.k8s.io in discovery and no APIService v1beta1.metrics.k8s.io*",
            "*evidence:*",
            "*APIService v1beta1.metrics.k8s.io: Available=*pod kube-system/metrics-server-*",
        ],
        consecutive=False,
    )
    result.stdout.fnmatch_lines(["*does not claim feature(s): metrics-server*"])
