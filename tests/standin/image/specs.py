"""What stand-in images exist: distributions, versions and how they are named and labelled."""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass

# Repository prefix for every image built here. It is deliberately not "rancher/" or
# "k0sproject/": a stand-in must never be mistaken for (or shadow) the real image.
REPOSITORY = "pytest-k8sdistro-standin"

# Labels. Images are NOT labelled ``pytest-k8sdistro.test=1``: that label marks what a test
# run created and may delete, and containers inherit their image's labels, so putting it on
# the images would let one session's cleanup remove images another session is using.
LABEL_PREFIX = "pytest-k8sdistro.standin"
LABEL_STANDIN = f"{LABEL_PREFIX}"  # "1" on every stand-in image, base included
LABEL_DISTRO = f"{LABEL_PREFIX}.distro"
LABEL_VERSION = f"{LABEL_PREFIX}.version"
LABEL_SOURCE_HASH = f"{LABEL_PREFIX}.source-hash"  # hash of tests/standin/k8s_standin
LABEL_CONTEXT_HASH = f"{LABEL_PREFIX}.context-hash"  # hash of the whole build context + base
LABEL_PACKAGES_HASH = f"{LABEL_PREFIX}.packages-hash"  # base image only
DESCRIPTION_LABEL = "org.opencontainers.image.description"


def image_tag(version: str) -> str:
    """Image tag for a version: registries forbid ``+`` in tags, so upstream uses ``-``."""
    return version.replace("+", "-")


@dataclass(frozen=True)
class StandinSpec:
    """One image to build: a distribution, a version and its role in the tests."""

    distro: str  # "k3s" or "k0s"
    version: str  # as the distribution prints it, e.g. "v1.36.5+k3s1"
    role: str  # "default" or "upgrade" (the target of in-place upgrade tests)
    # The runtime the image ships beside the binary (k3s) or inside it (k0s). The
    # numbers are the stand-in's own labels; only that they differ between two images
    # matters, so that a node left on the old runtime is seen.
    containerd: str = ""
    runc: str = ""
    cni: str = ""
    #: The release day (UTC): the binary's modification time in the image, which k0s
    #: compares to decide whether to unpack its runtime again.
    released: str = "1970-01-01"
    #: A tag of the image's own instead of the version's, for images built from sources
    #: being changed, so that the images other checkouts use are never replaced.
    tag: str = ""

    @property
    def ref(self) -> str:
        return f"{REPOSITORY}/{self.distro}:{self.tag or image_tag(self.version)}"

    @property
    def released_epoch(self) -> int:
        return calendar.timegm(time.strptime(self.released, "%Y-%m-%d"))


# Two versions per distribution: what clusters start on (the profile's default), and
# what an upgrade test moves to. k0s has no release newer than its stable v1.36.3+k0s.2
# but the v1.37.0 pre-release.
STANDINS: tuple[StandinSpec, ...] = (
    StandinSpec(
        "k3s", "v1.36.5+k3s1", "default", "2.3.4-k3s1", "1.3.3", "1.8.0-k3s1", "2026-09-30"
    ),
    StandinSpec(
        "k3s", "v1.37.2+k3s1", "upgrade", "2.3.7-k3s1", "1.3.4", "1.9.0-k3s1", "2026-11-03"
    ),
    StandinSpec("k0s", "v1.36.3+k0s.2", "default", "2.3.3", "1.3.3", "", "2026-08-11"),
    StandinSpec("k0s", "v1.37.0-alpha.1+k0s.0", "upgrade", "2.3.4", "1.3.4", "", "2026-06-30"),
)


# Databases that play the official postgres and mysql images beside a k3s stand-in
# (k3s --datastore-endpoint). The versions are Debian bookworm's.
DATABASE_STANDINS: tuple[StandinSpec, ...] = (
    StandinSpec("postgres", "15", "database"),
    StandinSpec("mysql", "mariadb-10.11", "database"),
)


@dataclass(frozen=True)
class StandinImage:
    """A built stand-in image."""

    distro: str
    version: str
    ref: str  # "pytest-k8sdistro-standin/k3s:v1.36.5-k3s1"
    image_id: str


@dataclass(frozen=True)
class StandinImages:
    """Every built stand-in image, as the ``standin_images`` fixture returns it."""

    base: str  # ref of the Debian base image
    k3s: StandinImage
    k3s_upgrade: StandinImage
    k0s: StandinImage
    k0s_upgrade: StandinImage
    postgres: StandinImage
    mysql: StandinImage

    def all(self) -> tuple[StandinImage, ...]:
        """The distribution stand-ins."""
        return (self.k3s, self.k3s_upgrade, self.k0s, self.k0s_upgrade)

    def databases(self) -> tuple[StandinImage, ...]:
        return (self.postgres, self.mysql)

    def for_distro(self, distro: str, role: str = "default") -> StandinImage:
        """The image for ``distro`` ("k3s"/"k0s") and ``role`` ("default"/"upgrade")."""
        name = distro if role == "default" else f"{distro}_{role}"
        image = getattr(self, name, None)
        if not isinstance(image, StandinImage):
            raise KeyError(f"no stand-in image for distro={distro!r} role={role!r}")
        return image
