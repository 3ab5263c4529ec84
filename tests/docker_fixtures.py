"""Fixtures and helpers shared by the tests that drive a real engine."""

from __future__ import annotations

import contextlib
import uuid
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
        with contextlib.suppress(docker.errors.ImageNotFound):
            engine.images.remove(ref)


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
