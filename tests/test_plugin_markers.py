"""Markers, parametrization ids and skips, through a real pytest run."""

from __future__ import annotations

import pytest

FEATURE_TESTS = """
import pytest

@pytest.mark.distro_feature("ingress")
def test_ingress(distro):
    assert distro.expectations.ingress_classes

@pytest.mark.distro_feature("dns")
def test_dns(distro):
    assert distro.expectations.dns == "coredns"
"""


def test_markers_are_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--markers")
    result.stdout.fnmatch_lines(
        ["@pytest.mark.distro_feature(*names):*", "@pytest.mark.distros(*names):*"]
    )


def test_registered_markers_pass_strict_markers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(FEATURE_TESTS)
    result = pytester.runpytest_subprocess("--strict-markers", "--distro=k3s")
    result.assert_outcomes(passed=2)


def test_parametrized_over_distros_with_readable_ids(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(distro):\n    pass\n")
    result = pytester.runpytest_subprocess("--distro=k3s", "--distro=k0s", "--co", "-q")
    result.stdout.fnmatch_lines(["*test_x[[]k3s-v1.36[]]", "*test_x[[]k0s-v1.36[]]"])


def test_same_minor_line_twice_gets_full_versions(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(distro):\n    pass\n")
    result = pytester.runpytest_subprocess(
        "--distro=k3s:v1.36.4+k3s1", "--distro=k3s:v1.36.5-k3s1", "--co", "-q"
    )
    result.stdout.fnmatch_lines(["*test_x[[]k3s-v1.36.4+k3s1[]]", "*test_x[[]k3s-v1.36.5+k3s1[]]"])


def test_feature_the_distro_lacks_is_skipped_with_a_reason(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(FEATURE_TESTS)
    result = pytester.runpytest_subprocess("--distro=k0s", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*SKIPPED*k0s:v1.36.3+k0s.2 does not claim feature(s): ingress"])


def test_strict_features_turns_the_skip_into_a_failure(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(FEATURE_TESTS)
    result = pytester.runpytest_subprocess("--distro=k0s", "--distro-strict-features")
    # Decided at set-up, so pytest counts it as an error of that test.
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*does not claim feature(s): ingress (--distro-strict-features)"])


def test_unknown_feature_fails_instead_of_skipping(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        "import pytest\n@pytest.mark.distro_feature('ingres')\ndef test_typo(distro):\n    pass\n"
    )
    result = pytester.runpytest_subprocess("--distro=k3s")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*distro_feature('ingres'): unknown feature; known features: dns*"]
    )


def test_distros_marker_limits_where_a_test_runs(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        "import pytest\n"
        "@pytest.mark.distros('k3s')\n"
        "def test_only_k3s(distro):\n    assert distro.name == 'k3s'\n"
    )
    result = pytester.runpytest_subprocess("--distro=k3s", "--distro=k0s", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*runs only on k3s; this run tests k0s:*"])


def test_without_a_distro_cluster_tests_skip_and_say_how(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(cluster):\n    pass\n\ndef test_plain():\n    pass\n")
    result = pytester.runpytest_subprocess("-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*no distribution selected: pass --distro=NAME*"])


def test_plugin_leaves_tests_without_its_fixtures_alone(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain():\n    pass\n")
    result = pytester.runpytest_subprocess("--distro=k3s", "-n", "2")
    result.assert_outcomes(passed=1)
    assert "starting" not in result.stderr.str()
