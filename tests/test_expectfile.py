"""``--distro-expect``: vendor overrides of expectations, and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_k8sdistro.distros import overrides as expectfile


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "expect.yaml"
    path.write_text(text)
    return path


def test_overrides_are_read_by_distro_with_types(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "k0s:\n"
        "  storage_class: openebs-hostpath\n"
        "  ingress-classes: [nginx]\n"
        "  load_balancer: null\n"
        "  hitless_upgrade: false\n"
        "  memory_idle_max_mib: 900\n",
    )
    assert expectfile.load(path) == {
        "k0s": {
            "storage_class": "openebs-hostpath",
            "ingress_classes": ("nginx",),
            "load_balancer": None,
            "hitless_upgrade": False,
            "memory_idle_max_mib": 900,
        }
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("k3s:\n  storage_klass: x\n", "line 2: unknown key 'storage_klass'; known keys: dns, cni"),
        ("k9s:\n  dns: coredns\n", "line 1: unknown distribution 'k9s'; known: k3s, k0s, microk8s"),
        (
            "k3s:\n  dns: coredns\n  ipv6: maybe\n",
            "line 3: ipv6 must be one of dual-stack, unsupported",
        ),
        ("k3s:\n  network_policy: yes please\n", "line 2: network_policy must be true or false"),
        ("k3s:\n  ingress_classes: traefik\n", "line 2: ingress_classes must be a list of strings"),
        ("k3s: [1, 2]\n", "line 1: 'k3s' must map field names to values"),
        ("k3s:\n  dns: [unclosed\n", "not valid YAML"),
        ("- k3s\n", "line 1: expected a mapping of distribution names"),
    ],
)
def test_mistakes_name_the_file_line_and_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(expectfile.ExpectFileError) as caught:
        expectfile.load(write(tmp_path, text))
    assert str(caught.value).startswith(str(tmp_path / "expect.yaml"))
    assert message in str(caught.value)


def test_override_changes_what_a_test_sees_and_which_features_skip(
    pytester: pytest.Pytester,
) -> None:
    pytester.makefile(
        ".yaml", expect="k0s:\n  ingress_classes: [nginx]\n  default_ingress_class: nginx\n"
    )
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.distro_feature("ingress")
        def test_ingress(distro):
            assert distro.expectations.default_ingress_class == "nginx"

        def test_profile_untouched(distro):
            assert distro.profile.expectations.ingress_classes == ()
        """
    )
    result = pytester.runpytest_subprocess("--distro=k0s", "--distro-expect=expect.yaml")
    result.assert_outcomes(passed=2)


def test_malformed_override_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", expect="k3s:\n  storage_klass: x\n")
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest_subprocess("--distro=k3s", "--distro-expect=expect.yaml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --distro-expect: expect.yaml, line 2: unknown key 'storage_klass'*"]
    )
