"""Options, ini settings and every usage error, through a real pytest run."""

from __future__ import annotations

from pathlib import Path

import pytest

TEST_FILE = """
def test_nothing():
    pass
"""


def run_usage_error(pytester: pytest.Pytester, *args: str) -> str:
    """Run pytest with ``args`` and return its output, checking it was a clean usage error."""
    pytester.makepyfile(TEST_FILE)
    result = pytester.runpytest_subprocess(*args)
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR, output
    assert "Traceback" not in output
    assert "ERROR:" in output
    return output


def test_help_lists_the_option_group(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(
        [
            "Kubernetes distributions (pytest-k8sdistro):",
            "*--distro=NAME[[]:VERSION[]]*",
            "*--distro-image=REF*",
            "*--distro-kubeconfig=PATH*",
            "*--distro-keep-cluster=never|on-failure|always*",
            "*--distro-reuse-cluster*",
            "*--distro-strict-features*",
        ]
    )


def test_unknown_distro_names_the_known_ones(pytester: pytest.Pytester) -> None:
    output = run_usage_error(pytester, "--distro=nosuch")
    assert "'nosuch'" in output
    for known in ("k3s", "k0s", "microk8s"):
        assert known in output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--distro=k3s:1.2"], "'1.2' is not a k3s version; write it like 'v1.36.5+k3s1'"),
        (["--distro=k0s:v1.36.0+k3s1"], "is not a k0s version"),
        (["--distro=microk8s:latest"], "is not a microk8s version"),
        (["--distro-keep-cluster=sometimes"], "use one of: never, on-failure, always"),
        (["--distro-node-memory=lots"], "--distro-node-memory='lots' is not a memory size"),
        (["--distro-node-memory=10MiB"], "under 64MiB"),
        (["--distro-node-cpus=-1"], "--distro-node-cpus='-1' is not a positive number"),
        (["--distro-nodes=0"], "--distro-nodes='0': give a whole number of nodes from 1 to 10"),
        (
            ["--distro-ip-family=ipv6"],
            "--distro-ip-family='ipv6' is not an IP family; use one of: ipv4, dual",
        ),
        (
            ["--distro-datastore=oracle"],
            "--distro-datastore='oracle' is not a datastore this plugin starts; ",
        ),
        (
            ["--distro=k0s", "--distro-datastore=mysql"],
            "k0s takes no external mysql datastore (those that do: k3s)",
        ),
        (["--distro=k3s", "--distro-datastore-image=pg:1"], "needs --distro-datastore=postgres or"),
        (
            ["--distro=k3s", "--distro-datastore=postgres", "--distro-datastore-image=a b"],
            "--distro-datastore-image='a b' is not an image reference",
        ),
        (
            ["--distro=k3s", "--distro-provisioner=ssh://me@127.0.0.1", "--distro-ip-family=dual"],
            "--distro-ip-family=dual: --distro-provisioner=ssh starts only ipv4 clusters",
        ),
        (
            ["--distro-ready-timeout=soon"],
            "--distro-ready-timeout='soon': give a timeout in seconds",
        ),
        (
            ["--distro-node-memory=512"],
            "--distro-node-memory='512' has no unit; write it like '512MiB'",
        ),
        (["--distro-image=me/k3s:1"], "needs exactly one --distro"),
        (["--distro=k3s", "--distro=k0s", "--distro-image=me/k3s:1"], "(got 2)"),
        (["--distro=k3s", "--distro-image-archive=/no/such.tar"], "no such file"),
        (["--distro=microk8s"], "it is a snap and cannot run in a container"),
        (["--distro=k3s", "--distro-reuse-cluster", "--distro-keep-cluster=never"], "contradicts"),
        (
            ["--distro-provisioner=vagrant"],
            "'vagrant' is not a known provisioner; known: docker, existing",
        ),
    ],
)
def test_bad_values_are_usage_errors(
    pytester: pytest.Pytester, args: list[str], expected: str
) -> None:
    assert expected in run_usage_error(pytester, *args)


def test_bad_ini_value_is_a_usage_error_under_its_ini_name(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ndistro_keep_cluster = forever\n")
    output = run_usage_error(pytester)
    assert "distro_keep_cluster (ini)='forever' is not a keep policy" in output
    assert "--distro-keep-cluster" not in output


def test_ini_distros_are_used_without_the_option(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ndistro =\n    k3s\n    k0s:v1.36.3+k0s.2\n")
    pytester.makepyfile("def test_x(distro):\n    pass\n")
    result = pytester.runpytest_subprocess("--collect-only", "-q")
    result.stdout.fnmatch_lines(["*test_x[[]k3s-v1.36[]]", "*test_x[[]k0s-v1.36[]]"])


class TestKubeconfigOption:
    def test_needs_a_distro(self, pytester: pytest.Pytester, tmp_path: Path) -> None:
        path = write_kubeconfig(tmp_path)
        assert "needs exactly one --distro" in run_usage_error(
            pytester, f"--distro-kubeconfig={path}"
        )

    def test_unreadable_file(self, pytester: pytest.Pytester, tmp_path: Path) -> None:
        missing = tmp_path / "nope.yaml"
        output = run_usage_error(pytester, "--distro=k3s", f"--distro-kubeconfig={missing}")
        assert f"cannot read kubeconfig '{missing}'" in output

    def test_not_yaml(self, pytester: pytest.Pytester, tmp_path: Path) -> None:
        path = tmp_path / "bad.yaml"
        path.write_text("clusters: [unclosed\n")
        assert "is not YAML" in run_usage_error(
            pytester, "--distro=k3s", f"--distro-kubeconfig={path}"
        )

    def test_no_current_context(self, pytester: pytest.Pytester, tmp_path: Path) -> None:
        path = write_kubeconfig(tmp_path, current="missing")
        output = run_usage_error(pytester, "--distro=k3s", f"--distro-kubeconfig={path}")
        assert "no usable current-context (found 'missing'; contexts: test)" in output

    @pytest.mark.parametrize(
        "extra",
        [
            "--distro-image=me/k3s:1",
            "--distro-reuse-cluster",
            "--distro-nodes=2",
            "--distro-ip-family=dual",
            "--distro-datastore=postgres",
            "--distro-node-cpus=1",
            "--distro-provisioner=docker",
        ],
    )
    def test_conflicts_name_the_flags(
        self, pytester: pytest.Pytester, tmp_path: Path, extra: str
    ) -> None:
        path = write_kubeconfig(tmp_path)
        output = run_usage_error(pytester, "--distro=k3s", f"--distro-kubeconfig={path}", extra)
        assert f"so {extra.split('=')[0]} cannot apply" in output


def write_kubeconfig(tmp_path: Path, current: str = "test") -> Path:
    path = tmp_path / "kubeconfig.yaml"
    path.write_text(
        "apiVersion: v1\nkind: Config\n"
        "clusters: [{name: test, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: test, user: {token: abc}}]\n"
        "contexts: [{name: test, context: {cluster: test, user: test}}]\n"
        f"current-context: {current}\n"
    )
    return path
