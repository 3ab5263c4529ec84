"""The plugin as ``pip install`` leaves it, packed for a machine container that has no pip.

The host provisioner installs a distribution on the machine pytest runs on, so its
end-to-end test runs pytest inside the machine container, never on the CI host. The
container is offline and has Python but no pip: the wheel built from this checkout
and the installed distributions of its runtime requirements (taken from the
environment running the tests, which has the same Python minor version as the
image's Debian python3) are packed into one directory for ``PYTHONPATH``.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import zipfile
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "pytest-k8sdistro"
#: Where the machine gets the packages; a directory of the test's own, removed with the
#: container.
SITE = "/opt/pytest-k8sdistro-test/site"


def build_wheel(directory: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(directory), str(ROOT)],
        check=True,
        timeout=600,
    )
    (built,) = directory.glob("pytest_k8sdistro-*.whl")
    return built


def requirement_closure(name: str) -> list[metadata.Distribution]:
    """The installed distributions ``name`` needs at run time, ``name`` itself excluded."""
    seen: dict[str, metadata.Distribution] = {}
    pending = [name]
    while pending:
        for text in metadata.requires(pending.pop()) or []:
            requirement = Requirement(text)
            # Runtime requirements only: what an extra or another platform would add
            # is not installed by a plain ``pip install``.
            if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
                continue
            key = canonicalize_name(requirement.name)
            if key in seen or key == PROJECT:
                continue
            seen[key] = metadata.distribution(requirement.name)
            pending.append(requirement.name)
    return list(seen.values())


def site_archive(wheel: Path) -> bytes:
    """A tar, to extract at ``/``, of :data:`SITE`: the wheel's files and its requirements'."""
    buffer = io.BytesIO()
    prefix = SITE.lstrip("/")
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        with zipfile.ZipFile(wheel) as packed:
            for member in packed.infolist():
                if member.is_dir():
                    continue
                info = tarfile.TarInfo(f"{prefix}/{member.filename}")
                data = packed.read(member)
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
        for dist in requirement_closure(PROJECT):
            for file in dist.files or []:
                path = Path(str(dist.locate_file(file)))
                # Console scripts live outside site-packages; PYTHONPATH cannot use them.
                if file.parts[0] == ".." or not path.is_file():
                    continue
                tar.add(path, arcname=f"{prefix}/{file}", recursive=False)
    return buffer.getvalue()
