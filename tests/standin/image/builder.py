"""Build the stand-in images that are missing or out of date, under a machine-wide lock."""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
import time
from pathlib import Path
from typing import Any

import docker
import docker.errors
from filelock import FileLock

from image.base import BASE, DATABASES, Progress, base_exists, base_ref, build_base
from image.context import SOURCE_DIR, BuildContext, make_context
from image.specs import (
    DATABASE_STANDINS,
    DESCRIPTION_LABEL,
    LABEL_CONTEXT_HASH,
    LABEL_DISTRO,
    LABEL_SOURCE_HASH,
    LABEL_STANDIN,
    LABEL_VERSION,
    STANDINS,
    StandinImage,
    StandinImages,
    StandinSpec,
    image_tag,
)

# One lock per machine, not per pytest session: several sessions (and the build command)
# may share one engine, and two concurrent builds of one tag waste minutes and race on it.
LOCK_PATH = Path(tempfile.gettempdir()) / "pytest-k8sdistro-standin-build.lock"
# A cold build takes about a minute; a holder stuck far longer than that is an error.
LOCK_TIMEOUT_S = 900.0


def _quiet(_: str) -> None:
    pass


def ensure_images(
    client: docker.DockerClient,
    progress: Progress = _quiet,
    source_dir: Path = SOURCE_DIR,
) -> StandinImages:
    """Return every stand-in image, building only what is missing or stale."""
    with FileLock(str(LOCK_PATH), timeout=LOCK_TIMEOUT_S):
        bases = {}
        for rootfs in (BASE, DATABASES):
            ref = base_ref(rootfs)
            if base_exists(client, rootfs):
                progress(f"{rootfs.name}: {ref} is up to date")
            else:
                build_base(client, progress, rootfs)
            bases[rootfs.name] = (ref, client.images.get(ref).id)
        base = bases["base"][0]
        built = {
            (spec.distro, spec.role): ensure_one(client, spec, *bases["base"], source_dir, progress)
            for spec in STANDINS
        }
        for spec in DATABASE_STANDINS:
            built[spec.distro, spec.role] = ensure_one(
                client, spec, *bases["databases"], source_dir, progress
            )
        _prune_stale(client)
    return StandinImages(
        base=base,
        k3s=built["k3s", "default"],
        k3s_upgrade=built["k3s", "upgrade"],
        k0s=built["k0s", "default"],
        k0s_upgrade=built["k0s", "upgrade"],
        postgres=built["postgres", "database"],
        mysql=built["mysql", "database"],
    )


def ensure_one(
    client: docker.DockerClient,
    spec: StandinSpec,
    base: str,
    base_id: str,
    source_dir: Path,
    progress: Progress,
    extra_labels: dict[str, str] | None = None,
) -> StandinImage:
    """Build one stand-in image unless an image with its tag and context hash exists."""
    context = make_context(spec, base, base_id, source_dir)
    old_id: str | None = None
    try:
        existing = client.images.get(spec.ref)
    except docker.errors.ImageNotFound:
        existing = None
    if existing is not None:
        labels = existing.labels or {}
        if labels.get(LABEL_CONTEXT_HASH) == context.context_hash:
            progress(f"{spec.distro} {spec.version}: {spec.ref} is up to date")
            return StandinImage(spec.distro, spec.version, spec.ref, existing.id)
        old_id = existing.id
        progress(f"{spec.distro} {spec.version}: sources changed, rebuilding {spec.ref}")
    image_id = _build(client, context, progress, extra_labels or {})
    if old_id and old_id != image_id:
        _remove_quietly(client, old_id)
    return StandinImage(spec.distro, spec.version, spec.ref, image_id)


def _labels(context: BuildContext) -> dict[str, str]:
    spec = context.spec
    return {
        LABEL_STANDIN: "1",
        LABEL_DISTRO: spec.distro,
        LABEL_VERSION: spec.version,
        LABEL_SOURCE_HASH: context.source_hash,
        LABEL_CONTEXT_HASH: context.context_hash,
        DESCRIPTION_LABEL: (
            f"Test stand-in for the official {spec.distro} image built by pytest-k8sdistro's "
            f"own tests: Debian's {spec.version} behind the image's environment contract"
            if spec.role == "database"
            else f"Test stand-in for {spec.distro} {spec.version} built by pytest-k8sdistro's "
            "own tests: a simulated control plane, not Kubernetes"
        ),
    }


def _build(
    client: docker.DockerClient,
    context: BuildContext,
    progress: Progress,
    extra_labels: dict[str, str],
) -> str:
    spec = context.spec
    started = time.monotonic()
    progress(f"{spec.distro} {spec.version}: building {spec.ref}")
    # The low-level API streams the classic builder's output, which engine 20.10 (Debian's
    # docker.io) always offers; BuildKit is not needed for these Dockerfiles.
    stream: Any = client.api.build(
        fileobj=context.tar(),
        custom_context=True,
        tag=spec.ref,
        labels={**_labels(context), **extra_labels},
        rm=True,
        forcerm=True,
        pull=False,
        decode=True,
    )
    output: list[str] = []
    for chunk in stream:
        if "error" in chunk:
            tail = "".join(output[-20:])
            raise RuntimeError(f"building {spec.ref} failed: {chunk['error']}\n{tail}")
        text = chunk.get("stream", "")
        output.append(text)
        if text.startswith("Step "):
            progress(f"{spec.distro} {spec.version}:   {text.strip()}")
    image = client.images.get(spec.ref)
    progress(f"{spec.distro} {spec.version}: built in {time.monotonic() - started:.1f} s")
    return str(image.id)


def _remove_quietly(client: docker.DockerClient, image_id: str) -> None:
    # The rebuilt tag moved to the new image; the old one is now untagged. Remove it to keep
    # the disk from filling, but never by force: a container (maybe another session's) may
    # still run it, and then it stays.
    with contextlib.suppress(docker.errors.APIError):
        client.images.remove(image_id, force=False)


def _prune_stale(client: docker.DockerClient) -> None:
    """Remove untagged stand-ins left by earlier rebuilds once no container uses them."""
    stale = client.images.list(filters={"dangling": True, "label": f"{LABEL_STANDIN}=1"})
    for image in stale:
        _remove_quietly(client, str(image.id))


def own_image(
    client: docker.DockerClient, distro: str, role: str, labels: dict[str, str] | None = None
) -> str:
    """The default stand-in of ``distro`` built from these sources under a tag of its own
    (``<version>-<context hash>``, role ``role``), so the shared tags other checkouts run
    are never replaced; returns its reference."""
    spec = next(s for s in STANDINS if s.distro == distro and s.role == "default")
    with FileLock(str(LOCK_PATH), timeout=LOCK_TIMEOUT_S):
        if not base_exists(client, BASE):
            build_base(client, _quiet, BASE)
        base = base_ref(BASE)
        base_id = client.images.get(base).id
        digest = make_context(spec, base, base_id, SOURCE_DIR).context_hash
        own = dataclasses.replace(spec, role=role, tag=f"{image_tag(spec.version)}-{digest}")
        return ensure_one(client, own, base, base_id, SOURCE_DIR, _quiet, labels).ref
