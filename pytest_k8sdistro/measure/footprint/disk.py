"""Disk used by a distribution's own install, measured inside the node.

The figure is the apparent size of the regular files under the distribution's
binary and data directory (which holds its unpacked binaries and the images
containerd unpacked), hard links counted once; directories, symlinks and device
nodes count nothing. It is exact and the same on every filesystem, which block
counts (``du`` without ``--apparent-size``) are not.

On a container node the files are read through the engine (``docker cp``'s
archive), which works for a remote engine too and needs no tool in the image:
a distribution's image may have little but busybox. On a VM or host node GNU ``du``
is run there.
"""

from __future__ import annotations

import io
import posixpath
import tarfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import docker.errors

from pytest_k8sdistro.errors import MeasurementError


@dataclass(frozen=True)
class DiskUsage:
    #: Bytes under each measured path (0 when it does not exist).
    paths: dict[str, int]
    files: int
    #: The node image's size as the engine reports it, or None (machines).
    image_bytes: int | None = None
    image: str | None = None
    missing: tuple[str, ...] = field(default=())

    @property
    def install_bytes(self) -> int:
        return sum(self.paths.values())

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["install_bytes"] = self.install_bytes
        return data


class _ChunkStream(io.RawIOBase):
    """A raw stream over an iterator of byte chunks (the engine's archive stream)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._chunk = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._chunk:
            try:
                self._chunk = memoryview(next(self._chunks))
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._chunk))
        buffer[:size] = self._chunk[:size]
        self._chunk = self._chunk[size:]
        return size


@dataclass
class TarTotals:
    bytes: int = 0
    files: int = 0
    #: The single member's link target when the archive is one symlink.
    link_to: str | None = None


def tar_totals(chunks: Iterable[bytes]) -> TarTotals:
    """Sizes of the regular files in a tar stream, read once, nothing kept in memory.

    A hard link to a file already counted is a link member of size 0 in a tar
    stream, so it is counted once, as ``du`` does.
    """
    totals = TarTotals()
    fileobj = io.BufferedReader(_ChunkStream(chunks), buffer_size=1024 * 1024)
    members = 0
    with tarfile.open(fileobj=fileobj, mode="r|") as tar:
        for member in tar:
            members += 1
            if member.isreg():
                totals.bytes += member.size
                totals.files += 1
            elif member.issym() and members == 1:
                totals.link_to = member.linkname
    if members > 1:
        totals.link_to = None
    return totals


def container_path_totals(container: Any, path: str, *, max_links: int = 8) -> TarTotals | None:
    """Totals under ``path`` in a container, following ``path`` itself if it is a symlink.

    None when the path does not exist.
    """
    for _ in range(max_links):
        try:
            stream, _stat = container.get_archive(path)
        except docker.errors.NotFound:
            return None
        totals = tar_totals(stream)
        if totals.link_to is None:
            return totals
        path = posixpath.normpath(posixpath.join(posixpath.dirname(path), totals.link_to))
    raise MeasurementError(f"{path}: more than {max_links} symlinks in a row")


def container_usage(container: Any, paths: Iterable[str], *, image: str | None) -> DiskUsage:
    """Apparent bytes of regular files under ``paths`` in ``container``, and its image."""
    sizes: dict[str, int] = {}
    files = 0
    missing: list[str] = []
    for path in paths:
        totals = container_path_totals(container, path)
        if totals is None:
            missing.append(path)
            sizes[path] = 0
            continue
        sizes[path] = totals.bytes
        files += totals.files
    image_bytes = None
    if image is not None:
        try:
            image_bytes = int(container.client.images.get(image).attrs.get("Size") or 0)
        except docker.errors.ImageNotFound:
            image_bytes = None
    return DiskUsage(sizes, files, image_bytes, image, tuple(missing))


#: GNU du: apparent bytes, hard links once, one total per argument; missing paths skipped.
def du_command(paths: Iterable[str]) -> str:
    quoted = " ".join(f"'{p}'" for p in paths)
    return f'for p in {quoted}; do [ -e "$p" ] && du -s -B1 --apparent-size "$p"; done; true'


def parse_du(output: str, paths: Iterable[str]) -> DiskUsage:
    sizes = {path: 0 for path in paths}
    for line in output.splitlines():
        size, _, path = line.partition("\t")
        if size.strip().isdigit() and path in sizes:
            sizes[path] = int(size)
    missing = tuple(p for p, s in sizes.items() if s == 0)
    return DiskUsage(sizes, files=0, missing=missing)


def machine_usage(run: Callable[[str], str], paths: Iterable[str]) -> DiskUsage:
    """``run`` executes a shell command on the machine and returns its stdout."""
    wanted = list(paths)
    return parse_du(run(du_command(wanted)), wanted)
