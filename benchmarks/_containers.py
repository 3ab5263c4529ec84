"""Helpers shared by the footprint benchmarks: the stand-in base image, labelled containers."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import docker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "standin"))

#: Containers made here carry this, so a leftover is easy to find and remove.
LABELS = {"pytest-k8sdistro.test": "1", "pytest-k8sdistro.benchmark": "footprint"}


def base_image(client: docker.DockerClient) -> str:
    """The stand-in base image (Debian with python3), built if missing."""
    from image.builder import ensure_images

    return ensure_images(client).base


@contextmanager
def container(client: docker.DockerClient, image: str, command: list[str]) -> Iterator[Any]:
    made = client.containers.run(image, command, detach=True, labels=LABELS)
    try:
        yield made
    finally:
        made.remove(force=True)


def wait_for_log(made: Any, text: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in bytes(made.logs()).decode(errors="replace"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{made.name} never printed {text!r}: {made.logs()!r}")
        time.sleep(0.2)
