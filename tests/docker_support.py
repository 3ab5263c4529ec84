"""Whether tests marked ``docker`` can run, and what happens when they cannot.

Without an engine, docker tests are skipped with the reason, which keeps a laptop run useful.
In CI a silent skip would hide that nothing was tested, so ``K8SDISTRO_REQUIRE_DOCKER=1``
turns the same situation into a failure that says how to start the engine.
"""

from __future__ import annotations

import functools
import os

import docker
import docker.errors
import pytest
import requests

REQUIRE_ENV = "K8SDISTRO_REQUIRE_DOCKER"
MARKER = "docker"
# A healthy local engine answers /_ping in milliseconds; don't let a wedged one stall
# collection of every worker for the SDK's default 60 s.
PING_TIMEOUT_S = 10

START_HINT = (
    "install and start it (Debian: `apt-get install -y docker.io` then "
    "`dockerd >/tmp/dockerd.log 2>&1 &`), or point DOCKER_HOST at a running engine"
)


def docker_required() -> bool:
    return os.environ.get(REQUIRE_ENV, "").strip().lower() in {"1", "true", "yes"}


def engine_problem() -> str | None:
    """None when an engine answers at DOCKER_HOST (or the default socket), else why not."""
    return _engine_problem(os.environ.get("DOCKER_HOST", ""))


@functools.cache
def _engine_problem(docker_host: str) -> str | None:
    # Cached per DOCKER_HOST: one ping per process, but a test that points DOCKER_HOST
    # elsewhere (see test_docker_support.py) gets its own answer.
    where = docker_host or "the default socket (unix:///var/run/docker.sock)"
    try:
        client = docker.from_env(timeout=PING_TIMEOUT_S)
        try:
            client.ping()
        finally:
            client.close()
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        return f"no Docker engine answers at {where}: {exc}"
    return None


def check_docker_or_stop() -> None:
    """Skip the current test, or fail it when Docker is required, if no engine answers."""
    __tracebackhide__ = True
    problem = engine_problem()
    if problem is None:
        return
    if docker_required():
        pytest.fail(
            f"{REQUIRE_ENV}=1 and a Docker engine is required, but {problem}. "
            f"To fix: {START_HINT}.",
            pytrace=False,
        )
    pytest.skip(f"{problem} (set {REQUIRE_ENV}=1 to fail instead of skipping)")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Hook (imported into tests/conftest.py): gate tests marked ``docker`` on an engine.

    Runs before the test's fixtures are set up, so a missing engine is reported once, with
    the hint, instead of as a connection error deep in a fixture.
    """
    if item.get_closest_marker(MARKER) is not None:
        check_docker_or_stop()
