"""What a new user runs into first: each mistake is a clear usage error before
anything starts (exit 4, the bad value named, no traceback), and a run that cannot
reach its cluster says so quickly instead of waiting out a timeout."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from pytest_k8sdistro.report import __main__ as report_cli

ROOT = Path(__file__).resolve().parent.parent
SUITES = ROOT / "suites"


def run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, str]:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=120)
    return result, result.stdout.str() + result.stderr.str()


def usage_error(pytester: pytest.Pytester, *args: str) -> str:
    result, output = run(pytester, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, output
    assert "Traceback" not in output
    return output


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "--distro-report='' is empty; give where the report goes"),
        ("reports/", "--distro-report='reports/' is a directory; name the report's file in it"),
        ("{here}", "is a directory; name the report's file in it, e.g. --distro-report="),
        ("{file}/r", "cannot write {file}/r.md: {file} is a file"),
    ],
)
def test_report_paths_that_cannot_be_written_are_refused_first(
    pytester: pytest.Pytester, value: str, message: str
) -> None:
    (pytester.path / "reports").mkdir()
    (pytester.path / "a-file").write_text("")
    where = {"here": str(pytester.path), "file": str(pytester.path / "a-file")}
    output = usage_error(pytester, "--distro=k3s", f"--distro-report={value.format(**where)}")
    assert message.format(**where) in output


def test_merge_refuses_what_it_cannot_write_or_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"format": "pytest-k8sdistro-report/1", "distros": {}}))
    other = tmp_path / "junit.json"
    other.write_text(json.dumps({"tests": []}))
    (tmp_path / "file").write_text("")

    assert report_cli.main(["merge", str(good), "-o", str(tmp_path / "file" / "out")]) == 2
    assert f"cannot write {tmp_path / 'file' / 'out.md'}" in capsys.readouterr().err
    assert report_cli.main(["merge", str(good), str(other), "-o", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert f"{other}: not a pytest-k8sdistro report" in err and "--distro-report" in err
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    assert report_cli.main(["merge", str(good), "-o", str(tmp_path / "m"), "--step-summary"]) == 2
    assert "$GITHUB_STEP_SUMMARY, which is not set here" in capsys.readouterr().err
    assert not (tmp_path / "m.md").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--distro=k3s", "--distro-provisioner=existing"],
            "give its kubeconfig with --distro-kubeconfig=PATH",
        ),
        (
            ["--distro=k3s", "--distro-allow-host-install"],
            "--distro-allow-host-install lets --distro-provisioner=host change this machine",
        ),
        (
            ["--distro=k3s", "--distro-image-archive={archive}"],
            "it is not a tar archive",
        ),
        (
            ["--distro=k3s", "--distro-image-archive={tarball}"],
            "a tar archive without manifest.json or index.json",
        ),
        (["--distro-node-memory=512"], "has no unit; write it like '512MiB'"),
    ],
)
def test_newcomers_mistakes_are_usage_errors(
    pytester: pytest.Pytester, args: list[str], message: str
) -> None:
    archive = pytester.path / "image.tar"
    archive.write_text("not an archive")
    import tarfile

    tarball = pytester.path / "files.tar"
    with tarfile.open(tarball, "w") as tar:
        tar.add(archive, arcname="something.txt")
    values = {"archive": str(archive), "tarball": str(tarball)}
    output = usage_error(pytester, *(a.format(**values) for a in args))
    assert message in output


def test_ini_settings_are_named_as_ini_settings(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ndistro_ready_timeout = soon\n")
    output = usage_error(pytester, "--distro=k3s")
    assert "distro_ready_timeout (ini)='soon'" in output
    assert "--distro-ready-timeout=" not in output.split("distro_ready_timeout (ini)")[0]


def test_an_unreachable_kubeconfig_fails_in_seconds_with_the_cause(
    pytester: pytest.Pytester,
) -> None:
    kubeconfig = pytester.path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: k, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
        "users: [{name: u, user: {token: abc}}]\n"
    )
    pytester.makepyfile("def test_api(kube):\n    pass\n")
    started = time.monotonic()
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--distro=k3s", f"--distro-kubeconfig={kubeconfig}", timeout=120
    )
    took = time.monotonic() - started
    output = result.stdout.str() + result.stderr.str()
    assert took < 30, output
    assert result.ret == 6, output  # could not test: not a failure of k3s
    result.assert_outcomes(errors=1)
    assert "the API at https://127.0.0.1:1 (from --distro-kubeconfig) does not answer" in output
    assert "Connection refused" in output or "ConnectionRefused" in output
    assert "starting" not in output


def test_the_suites_without_a_distribution_are_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(str(SUITES), "-p", "no:cacheprovider", timeout=120)
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR, output
    assert "the suites test a distribution, and none was chosen: pass --distro=NAME" in output


def test_the_repositorys_own_test_settings_do_not_reach_the_suites() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(SUITES), "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": ""},
    )
    assert done.returncode == 0, done.stderr
    assert "--runpytest" not in done.stdout  # pytester's option
    assert "--distro" in done.stdout


@pytest.mark.docker
def test_more_cpus_than_the_engine_has_is_a_usage_error(pytester: pytest.Pytester) -> None:
    output = usage_error(pytester, "--distro=k3s", "--distro-node-cpus=4096")
    assert "--distro-node-cpus=4096: the Docker engine has" in output
