"""Tests marked `docker` skip without an engine, and fail when K8SDISTRO_REQUIRE_DOCKER=1."""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from docker_support import REQUIRE_ENV, engine_problem

INNER_TESTS = """
import pytest

@pytest.mark.docker
def test_needs_engine():
    pass

def test_needs_nothing():
    pass
"""


@pytest.fixture
def dead_docker_host(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """DOCKER_HOST pointing at a unix socket nobody listens on (connection refused)."""
    # A short directory of its own: unix socket paths are limited to ~107 bytes, which
    # pytest's nested tmp_path can exceed.
    with tempfile.TemporaryDirectory(prefix="k8sd-") as tmp:
        path = Path(tmp) / "docker.sock"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(path))
        sock.close()  # bound, never listening: connect() is refused
        host = f"unix://{path}"
        monkeypatch.setenv("DOCKER_HOST", host)
        yield host


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    # The same wiring as tests/conftest.py, in a project of its own. It runs in a
    # subprocess: an in-process run would drop from sys.modules what it imported,
    # and numpy or the kubernetes client cannot be imported twice in one process.
    here = str(Path(__file__).parent)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([here, os.environ.get("PYTHONPATH", "")]))
    pytester.makeconftest("from docker_support import pytest_runtest_setup  # noqa: F401\n")
    pytester.makeini("[pytest]\nmarkers =\n    docker: needs a Docker engine\n")
    pytester.makepyfile(test_inner=INNER_TESTS)
    return pytester


def test_engine_problem_names_the_host(dead_docker_host: str) -> None:
    problem = engine_problem()
    assert problem is not None
    assert dead_docker_host in problem


def test_docker_tests_skip_without_engine(
    inner: pytest.Pytester, dead_docker_host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    result = inner.runpytest_subprocess("-rs", "-p", "no:k8sdistro", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines([f"SKIPPED*no Docker engine answers at {dead_docker_host}*"])
    assert result.ret == pytest.ExitCode.OK


def test_docker_tests_fail_when_required(
    inner: pytest.Pytester, dead_docker_host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(REQUIRE_ENV, "1")
    result = inner.runpytest_subprocess("-p", "no:k8sdistro", "-p", "no:cacheprovider")
    # Reported at setup, before any fixture touches the engine: pytest counts it as an
    # error, the run fails, and nothing is skipped.
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            f"*{REQUIRE_ENV}=1 and a Docker engine is required, but no Docker engine answers "
            f"at {dead_docker_host}*To fix:*apt-get install -y docker.io*dockerd*",
        ]
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
