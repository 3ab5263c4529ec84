"""``--distro NAME[:VERSION]``: parsing and validation into a :class:`DistroSpec`."""

from __future__ import annotations

from dataclasses import dataclass

from pytest_k8sdistro.distros.profile import DistroProfile, Expectations
from pytest_k8sdistro.distros.registry import get_profile, known_distros
from pytest_k8sdistro.errors import ConfigError


@dataclass(frozen=True)
class DistroSpec:
    """One distribution, at one version, that a run targets."""

    name: str
    version: str

    @property
    def profile(self) -> DistroProfile:
        return get_profile(self.name)

    @property
    def expectations(self) -> Expectations:
        """The profile's expectations at this version (before any run's changes)."""
        return self.profile.expectations_at(self.version)

    @property
    def id(self) -> str:
        """A readable test id such as ``k3s-v1.33``."""
        return f"{self.name}-{self.profile.minor(self.version)}"

    def __str__(self) -> str:
        return f"{self.name}:{self.version}"


def parse_distro(value: str) -> DistroSpec:
    """Parse ``k3s``, ``k3s:v1.36.5+k3s1`` or ``k3s:v1.36.5-k3s1``.

    Raises :class:`ConfigError` naming the bad value and what is accepted.
    """
    name, sep, version = value.strip().partition(":")
    name = name.strip().lower()
    if name not in known_distros():
        raise ConfigError(
            f"--distro={value!r}: unknown distribution {name!r}; "
            f"known distributions: {', '.join(known_distros())}"
        )
    profile = get_profile(name)
    if not sep:
        return DistroSpec(name, profile.default_version)
    canonical = profile.normalise_version(version.strip())
    if canonical is None:
        raise ConfigError(
            f"--distro={value!r}: {version!r} is not a {name} version; "
            f"write it like {profile.version_example!r} "
            f"(or leave it out for the default, {profile.default_version})"
        )
    return DistroSpec(name, canonical)
