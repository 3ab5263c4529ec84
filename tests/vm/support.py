"""Whether tests marked ``vm`` can run, and what happens when they cannot.

The same policy as the ``docker`` marker (tests/docker_support.py): without QEMU the
tests are skipped with the reason; with ``K8SDISTRO_REQUIRE_VM=1`` (CI, once it installs
QEMU) the same situation is a failure that says what to install.
"""

from __future__ import annotations

import os
import shutil

import pytest

REQUIRE_ENV = "K8SDISTRO_REQUIRE_VM"
MARKER = "vm"
#: Tool -> the Debian package that has it. debootstrap builds the image (tests/vm/image.py).
TOOLS = {
    "qemu-system-x86_64": "qemu-system-x86",
    "qemu-img": "qemu-utils",
    "debootstrap": "debootstrap",
    "ssh": "openssh-client",
}


def vm_required() -> bool:
    return os.environ.get(REQUIRE_ENV, "").strip().lower() in {"1", "true", "yes"}


def vm_problem() -> str | None:
    """None when a VM can be built and booted here, else why not."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        packages = " ".join(sorted({TOOLS[tool] for tool in missing}))
        return f"{', '.join(missing)} not found (apt-get install -y {packages})"
    if os.geteuid() != 0:
        return "building the VM image runs debootstrap, which needs root"
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Hook (loaded as a plugin by tests/conftest.py): gate tests marked ``vm``."""
    if item.get_closest_marker(MARKER) is None:
        return
    problem = vm_problem()
    if problem is None:
        return
    if vm_required():
        pytest.fail(f"{REQUIRE_ENV}=1 and a VM is required, but {problem}", pytrace=False)
    pytest.skip(f"{problem} (set {REQUIRE_ENV}=1 to fail instead of skipping)")
