"""Fixtures and helpers shared by the tests that drive a real engine."""

from __future__ import annotations

import time
import uuid
import warnings
from collections.abc import Iterator

import docker
import docker.errors
import pytest

from pytest_k8sdistro.provisioners.docker import labels


@pytest.fixture
def engine() -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    yield client
    client.close()


@pytest.fixture
def alias(engine: docker.DockerClient) -> Iterator[dict[str, str]]:
    """name -> an image tag of the test's own (so the cluster key, which hashes the
    image, is the test's), removed afterwards; the image itself stays for others."""
    made: dict[str, str] = {}
    yield made
    for ref in made.values():
        untag(engine, ref)


# Images with the same content share one ID, so a container of another test (running on
# the other worker) may use the image our tag names; the engine then refuses to drop the
# last tag. Such a container goes with its own test, so wait a little for it.
UNTAG_WAIT_S = 30.0
UNTAG_PAUSE_S = 2.0


def untag(engine: docker.DockerClient, ref: str) -> None:
    """Remove the tag ``ref`` (never forced); one still in use after a while is left."""
    deadline = time.monotonic() + UNTAG_WAIT_S
    while True:
        try:
            engine.images.remove(ref)
            return
        except docker.errors.ImageNotFound:
            return
        except docker.errors.APIError as err:
            if err.status_code != 409:
                raise
            if time.monotonic() > deadline:
                warnings.warn(f"left image tag {ref}: {err.explanation}", stacklevel=1)
                return
            time.sleep(UNTAG_PAUSE_S)


def own_tag(engine: docker.DockerClient, source: str, name: str) -> str:
    """Tag the image ``source`` as ``pytest-k8sdistro-test/NAME:<random>`` and return it:
    a reference of the test's own, so the cluster key (which hashes the image) is too.
    Record it in ``alias`` (or remove it) so that it goes after the test."""
    ref = f"pytest-k8sdistro-test/{name}:{uuid.uuid4().hex[:10]}"
    repository, tag = ref.split(":")
    engine.images.get(source).tag(repository, tag)
    return ref


def of_cluster(engine: docker.DockerClient, key: str) -> list[str]:
    """Everything the plugin made for cluster ``key``, in any run."""
    wanted = {"label": [f"{labels.OWNED}=1", f"{labels.CLUSTER}={key}"]}
    return (
        [c.name for c in engine.containers.list(ignore_removed=True, all=True, filters=wanted)]
        + [v.name for v in engine.volumes.list(filters=wanted)]
        + [n.name for n in engine.networks.list(filters=wanted)]
    )


def remove_cluster(engine: docker.DockerClient, key: str) -> None:
    """Remove what the plugin made for cluster ``key`` (a kept one, say), by its labels."""
    wanted = {"label": [f"{labels.OWNED}=1", f"{labels.CLUSTER}={key}"]}
    for container in engine.containers.list(ignore_removed=True, all=True, filters=wanted):
        container.remove(force=True, v=True)
    for network in engine.networks.list(filters=wanted):
        network.remove()
    for volume in engine.volumes.list(filters=wanted):
        volume.remove(force=True)
