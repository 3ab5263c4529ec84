"""Getting the node image: already local, loaded from an archive, or pulled.

Air-gapped runs (and this project's CI, which reaches no registry) give the image as
a ``docker save`` tarball with ``--distro-image-archive``, or as a local image with
``--distro-image``.
"""

from __future__ import annotations

import tarfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests

from pytest_k8sdistro.errors import ProvisionError

Say = Callable[[str], None]

#: At most one progress line per this many seconds while pulling.
PULL_REPORT_EVERY_S = 5.0


def how_to_supply(ref: str) -> str:
    return (
        f"to supply it without a registry: on a connected machine run `docker pull {ref}` "
        f"and `docker save -o image.tar {ref}`, then pass --distro-image-archive=image.tar; "
        "or pass --distro-image=REF naming an image already on this engine"
    )


def unavailable(ref: str) -> str | None:
    """Why ``ref`` is neither on the engine nor offered by its registry, or None when
    it can be had (or no engine answers: the start reports that with its own advice)."""
    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException):
        return None
    try:
        try:
            client.images.get(ref)
            return None
        except docker.errors.ImageNotFound:
            pass
        try:
            client.images.get_registry_data(ref)
            return None
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            return exc.explanation if isinstance(exc, docker.errors.APIError) else str(exc)
    finally:
        client.close()


def ensure(
    client: docker.DockerClient,
    ref: str,
    *,
    archive: Path | None,
    say: Say,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """Make ``ref`` available on the engine and return its image id."""
    if archive is not None:
        load(client, archive, ref, say)
    try:
        return str(client.images.get(ref).id)
    except docker.errors.ImageNotFound:
        pass
    if archive is not None:
        raise ProvisionError(
            f"the image archive {str(archive)!r} was loaded but holds no image {ref}; "
            f"check the tag with `docker load -i {archive}` or pass --distro-image=REF"
        )
    pull(client, ref, say, clock=clock)
    return str(client.images.get(ref).id)


#: Magic bytes of zstd, which `docker load` reads and tarfile cannot.
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def archive_problem(archive: Path) -> str | None:
    """Why ``archive`` is not an image archive `docker load` takes, or None.

    `docker save` writes a tar with ``manifest.json`` (and, from engine 25, the OCI
    ``index.json``), possibly compressed; only the members' headers are read.
    """
    try:
        with archive.open("rb") as handle:
            if handle.read(4) == ZSTD_MAGIC:
                return None  # zstd: the engine reads it, tarfile cannot look inside
        with tarfile.open(archive, mode="r:*") as tar:
            for member in tar:
                if member.name.lstrip("./") in ("manifest.json", "index.json"):
                    return None
    except (OSError, tarfile.TarError, EOFError) as exc:
        return f"it is not a tar archive ({exc})"
    return "it is a tar archive without manifest.json or index.json"


def load(client: docker.DockerClient, archive: Path, ref: str, say: Say) -> None:
    size_mb = archive.stat().st_size / 1e6
    say(f"loading images from {archive} ({size_mb:.0f} MB) for {ref}")
    started = time.monotonic()
    try:
        with archive.open("rb") as handle:
            loaded = client.images.load(handle)
    except docker.errors.APIError as exc:
        raise ProvisionError(
            f"`docker load` of {str(archive)!r} failed: {exc.explanation or exc}; "
            "the file must be a tarball made by `docker save`"
        ) from None
    tags = sorted(tag for image in loaded for tag in image.tags)
    say(f"loaded {', '.join(tags) or 'untagged images'} in {time.monotonic() - started:.1f}s")


@dataclass
class PullProgress:
    """Summarises the engine's per-layer pull events into occasional lines."""

    ref: str
    say: Say
    clock: Callable[[], float] = time.monotonic
    every: float = PULL_REPORT_EVERY_S
    layers: dict[str, tuple[int, int]] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)
    _last: float = float("-inf")

    def feed(self, event: dict[str, Any]) -> None:
        if "error" in event:
            detail = event.get("errorDetail", {}).get("message") or event["error"]
            raise _PullFailed(str(detail))
        layer = event.get("id")
        status = str(event.get("status", ""))
        if not layer or layer == self.ref.rpartition(":")[2]:
            return
        detail = event.get("progressDetail") or {}
        if status == "Downloading" and detail.get("total"):
            self.layers[layer] = (int(detail.get("current", 0)), int(detail["total"]))
        elif status in ("Download complete", "Pull complete", "Already exists"):
            self.done.add(layer)
        elif status == "Pulling fs layer" or status == "Waiting":
            self.layers.setdefault(layer, (0, 0))
        now = self.clock()
        if now - self._last >= self.every:
            self._last = now
            self.say(self.summary())

    def summary(self) -> str:
        total_layers = len(set(self.layers) | self.done)
        current = sum(cur for cur, _ in self.layers.values())
        total = sum(tot for _, tot in self.layers.values())
        size = f", {current / 1e6:.0f}/{total / 1e6:.0f} MB" if total else ""
        return f"pulling {self.ref}: {len(self.done)}/{total_layers} layers{size}"


class _PullFailed(Exception):
    pass


def pull(
    client: docker.DockerClient,
    ref: str,
    say: Say,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    say(f"{ref} is not on this engine; pulling it")
    repository, tag = split_ref(ref)
    progress = PullProgress(ref, say, clock=clock)
    started = clock()
    try:
        events: Iterable[dict[str, Any]] = client.api.pull(
            repository, tag=tag, stream=True, decode=True
        )
        for event in events:
            progress.feed(event)
    except (_PullFailed, docker.errors.APIError, requests.exceptions.RequestException) as exc:
        reason = exc.explanation if isinstance(exc, docker.errors.APIError) else str(exc)
        raise ProvisionError(
            f"cannot get the node image {ref}: pulling it failed ({reason}); {how_to_supply(ref)}"
        ) from None
    say(f"pulled {ref} in {clock() - started:.0f}s")


def split_ref(ref: str) -> tuple[str, str | None]:
    """``(repository, tag)``; a digest or a missing tag leaves the tag None (pull all)."""
    if "@" in ref:
        return ref, None
    name, sep, tag = ref.rpartition(":")
    # A colon before the last slash belongs to a registry port: there is no tag.
    if not sep or "/" in tag:
        return ref, "latest"
    return name, tag
