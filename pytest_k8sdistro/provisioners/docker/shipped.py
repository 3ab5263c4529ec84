"""The files a distribution's image ships, copied from one image into running nodes.

An in-place upgrade replaces everything the distribution runs (its binary and the
runtime binaries beside it) with the target image's, never the main binary alone: a
partial swap leaves containerd, runc or the CNI plugins at the old release while the
node reports the new one. The engine's copy (``put_archive``) unlinks each file before
writing it, so files in use by running processes (containerd, every shim) are
replaced without disturbing those processes; they keep the old inode until restarted.
After the copy, each node's files are read back and compared with the image's, so a
copy that did not take is an error rather than a silent half-upgrade.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import posixpath
import tarfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors

from pytest_k8sdistro.errors import ProvisionError

#: A tar member as compared: ("file", sha256), ("link", target) or ("dir", "").
Entry = tuple[str, str]


@dataclass(frozen=True)
class Payload:
    """One shipped path as the engine's archive API gives it."""

    path: str
    data: bytes
    entries: dict[str, Entry]

    @property
    def parent(self) -> str:
        return posixpath.dirname(self.path.rstrip("/")) or "/"


def entries(data: bytes) -> dict[str, Entry]:
    """Each member of the tar ``data`` by name, as :data:`Entry`."""
    found: dict[str, Entry] = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar:
            if member.isfile():
                handle = tar.extractfile(member)
                assert handle is not None
                found[member.name] = ("file", hashlib.sha256(handle.read()).hexdigest())
            elif member.issym():
                found[member.name] = ("link", member.linkname)
            elif member.isdir():
                found[member.name] = ("dir", "")
    return found


def _archive(container: Any, path: str) -> bytes:
    stream, _ = container.get_archive(path)
    return b"".join(stream)


def from_image(
    client: docker.DockerClient,
    image: str,
    paths: Iterable[str],
    *,
    labels: dict[str, str],
    required: str,
    say: Callable[[str], None],
) -> list[Payload]:
    """Every path in ``paths`` that ``image`` has, read from a container created from it
    and never started. ``required`` (the binary) must be there and be a regular file;
    another path the image lacks is said and skipped."""
    source = client.containers.create(image, entrypoint=["/bin/true"], labels=labels)
    payloads: list[Payload] = []
    try:
        for path in paths:
            try:
                data = _archive(source, path)
            except docker.errors.NotFound:
                if path != required:  # the binary is checked below, with the rest
                    say(f"{image} ships no {path}; the node's is left as it is")
                continue
            payloads.append(Payload(path, data, entries(data)))
    finally:
        # v=True: the image's declared volumes were made anonymous for this copy.
        with contextlib.suppress(docker.errors.NotFound):
            source.remove(force=True, v=True)
    # The binary itself, or a directory that holds it, must bring it as a file: an
    # image without it would leave the node unable to restart.
    if not any(_holds_file(payload, required) for payload in payloads):
        raise ProvisionError(f"{image} has no regular file {required}")
    return payloads


def _holds_file(payload: Payload, path: str) -> bool:
    root = payload.path.rstrip("/")
    if path != root and not path.startswith(root + "/"):
        return False
    member = posixpath.join(posixpath.basename(root), path[len(root) :].lstrip("/")).rstrip("/")
    return payload.entries.get(member, ("",))[0] == "file"


def copy_into(container: Any, payloads: list[Payload], image: str) -> None:
    """Copy every payload into ``container`` and check each file is now the image's."""
    for payload in payloads:
        if not container.put_archive(payload.parent, payload.data):
            raise ProvisionError(f"copying {payload.path} into {container.name} failed")
    for payload in payloads:
        now = entries(_archive(container, payload.path))
        wrong = sorted(name for name, entry in payload.entries.items() if now.get(name) != entry)
        if wrong:
            shown = ", ".join(posixpath.join(payload.parent, name) for name in wrong[:5])
            more = f" and {len(wrong) - 5} more" if len(wrong) > 5 else ""
            raise ProvisionError(
                f"{container.name}: after the copy, {shown}{more} differ from {image}'s"
            )


def describe(payloads: list[Payload]) -> str:
    """``/bin (12 files, 20 links)`` or ``/usr/local/bin/tool``, for progress lines."""
    parts = []
    for payload in payloads:
        kinds = [kind for kind, _ in payload.entries.values()]
        if kinds.count("dir"):
            parts.append(
                f"{payload.path} ({kinds.count('file')} files, {kinds.count('link')} links)"
            )
        else:
            parts.append(payload.path)
    return ", ".join(parts)
