"""The ``standin_images`` session fixture (exposed to all tests by tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import docker
import pytest
from filelock import FileLock

from image.builder import LOCK_TIMEOUT_S, ensure_images
from image.specs import StandinImages


@pytest.fixture(scope="session")
def standin_images(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandinImages]:
    """Refs of the stand-in images (base, k3s and k0s, default and upgrade versions).

    Builds what is missing or stale on first use. Under pytest-xdist every worker runs this;
    the lock in the directory all workers share (the basetemp's parent) makes the first one
    build while the others wait, then find everything up to date.
    """
    # Imported here, not at module level: docker_support lives in tests/, which is only on
    # sys.path once pytest has loaded tests/conftest.py.
    from docker_support import check_docker_or_stop

    check_docker_or_stop()  # a fixture user that forgot @pytest.mark.docker still gets the policy
    shared = tmp_path_factory.getbasetemp().parent
    client = docker.from_env()
    try:
        with FileLock(str(shared / "k8sdistro-standin-images.lock"), timeout=LOCK_TIMEOUT_S):
            images = ensure_images(client)
        yield images
    finally:
        client.close()
