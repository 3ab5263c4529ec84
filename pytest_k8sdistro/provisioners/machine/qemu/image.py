"""The disk a VM boots from: the user's (``--distro-vm-image``) or the default cloud image.

The default is Ubuntu's noble (24.04) amd64 cloud image: it boots with its own boot
loader, takes a NoCloud seed and has snapd, so every built-in distribution installs on
it. It is downloaded once into ``~/.cache/pytest-k8sdistro/vm/`` and checked against
the SHA256SUMS published beside it; a file that does not match is never used.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from pytest_k8sdistro.errors import ProvisionError
from pytest_k8sdistro.model.cache import cache_dir

DEFAULT_IMAGE_URL = "https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img"
QCOW2_MAGIC = b"QFI\xfb"
CHUNK = 1 << 20
PROGRESS_EVERY_S = 5.0

Say = Callable[[str], None]


def disk_format(path: Path) -> str:
    """``qcow2`` or ``raw``, from the file's first bytes."""
    with path.open("rb") as handle:
        return "qcow2" if handle.read(4) == QCOW2_MAGIC else "raw"


def expected_sha256(sums: str, name: str) -> str | None:
    """The checksum of ``name`` in a SHA256SUMS file (``<hex> *<name>`` or ``<hex>  <name>``)."""
    for line in sums.splitlines():
        digest, _, rest = line.strip().partition(" ")
        if rest.strip().lstrip("*") == name and len(digest) == 64:
            return digest.lower()
    return None


def default_image(say: Say, *, url: str = DEFAULT_IMAGE_URL, cache: Path | None = None) -> Path:
    """The default image in the cache, downloaded and verified first when missing."""
    from filelock import FileLock

    directory = cache or cache_dir() / "vm"
    directory.mkdir(parents=True, exist_ok=True)
    name = Path(urlsplit(url).path).name
    path = directory / name
    # One download, however many workers or runs ask at once.
    with FileLock(str(directory / f"{name}.lock")):
        if path.is_file():
            return path
        _download_verified(url, path, say)
    return path


def _download_verified(url: str, path: Path, say: Say) -> None:
    import requests

    sums_url = urljoin(url, "SHA256SUMS")
    try:
        sums = requests.get(sums_url, timeout=60)
        sums.raise_for_status()
    except requests.RequestException as exc:
        raise ProvisionError(
            f"cannot fetch {sums_url} to verify the VM image: {exc}; give a local disk with "
            "--distro-vm-image=PATH"
        ) from None
    expected = expected_sha256(sums.text, path.name)
    if expected is None:
        raise ProvisionError(f"{sums_url} lists no checksum of {path.name}; the image is not used")
    partial = path.with_name(f"{path.name}.part-{os.getpid()}")
    digest = hashlib.sha256()
    try:
        with requests.get(url, stream=True, timeout=60) as response:
            response.raise_for_status()
            total = int(response.headers.get("content-length") or 0)
            done, last = 0, 0.0
            say(f"downloading {url} ({_mib(total)}) into {path.parent}")
            with partial.open("wb") as out:
                for chunk in response.iter_content(CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if time.monotonic() - last >= PROGRESS_EVERY_S:
                        last = time.monotonic()
                        share = f" ({100 * done // total}%)" if total else ""
                        say(f"downloaded {_mib(done)} of {_mib(total)}{share}")
        found = digest.hexdigest()
        if found != expected:
            raise ProvisionError(
                f"the VM image downloaded from {url} has SHA256 {found}, but {sums_url} "
                f"says {expected}; it was deleted. Try again (a mirror may be mid-update), "
                "or give a local disk with --distro-vm-image=PATH"
            )
        partial.replace(path)
        say(f"{path.name}: SHA256 {found} matches {sums_url}")
    except requests.RequestException as exc:
        raise ProvisionError(
            f"downloading the VM image {url} failed: {exc}; give a local disk with "
            "--distro-vm-image=PATH"
        ) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()


def _mib(size: int) -> str:
    return f"{size / 2**20:.0f} MiB" if size else "unknown size"
