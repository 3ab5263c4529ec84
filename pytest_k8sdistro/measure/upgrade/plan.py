"""The upgrade plan: which distribution, from what, to what, and how it is measured.

Everything that can be known before a cluster starts is checked here: the target's
form, that it is newer than the version started, that it skips no minor release
(the Kubernetes version skew policy), and that the provisioner can run the
distribution's upgrade (and, when it runs images, that the target's image can be
had). Each problem is a :class:`~pytest_k8sdistro.errors.ConfigError` naming the
option; the configuration layer reports it as a usage error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pytest_k8sdistro.distros.spec import DistroSpec
from pytest_k8sdistro.errors import ConfigError
from pytest_k8sdistro.model.versions import minor_of, version_key
from pytest_k8sdistro.provisioners.base import Provisioner

UpgradeKind = Literal["patch", "minor"]

#: Shortest interval the prober is allowed: below it, a Python thread's own timing
#: jitter is of the same order as what it measures.
MIN_PROBE_INTERVAL_S = 0.01
MAX_PROBE_INTERVAL_S = 10.0
DEFAULT_PROBE_INTERVAL_S = 0.1


@dataclass(frozen=True)
class UpgradePlan:
    """What the upgrade suite does: which distribution, from what, to what, how it measures."""

    distro: str
    source: str
    target: str
    kind: UpgradeKind
    #: Where the target's files come from when the provisioner runs images:
    #: ``--distro-upgrade-image`` or the profile's official image; None otherwise.
    image: str | None
    probe_interval: float = DEFAULT_PROBE_INTERVAL_S
    #: ``--distro-max-downtime``: allowed workload downtime instead of the profile's claim.
    max_downtime: float | None = None


def plan(
    target_value: str | None,
    *,
    image: str | None,
    specs: tuple[DistroSpec, ...],
    provisioner: type[Provisioner],
    reuse: bool,
    probe_interval: float = DEFAULT_PROBE_INTERVAL_S,
    max_downtime: float | None = None,
) -> UpgradePlan | None:
    """The upgrade plan, or None without ``--distro-upgrade-to``; checks every option together."""
    if target_value is None:
        if image is not None:
            raise ConfigError(
                f"--distro-upgrade-image={image!r} names the files of an upgrade; add "
                "--distro-upgrade-to=VERSION, the version that image holds"
            )
        return None
    if len(specs) != 1:
        raise ConfigError(
            f"--distro-upgrade-to={target_value!r} needs exactly one --distro, the one to upgrade "
            f"(got {len(specs)}); e.g. --distro=NAME:FROM --distro-upgrade-to=VERSION"
        )
    spec = specs[0]
    profile = spec.profile
    capabilities = provisioner.CAPABILITIES
    if not capabilities.starts_clusters:
        raise ConfigError(
            "--distro-upgrade-to changes the cluster in place, and a cluster given with "
            "--distro-kubeconfig is not this run's to change; drop --distro-kubeconfig to let "
            "the plugin start one"
        )
    if not capabilities.upgrades:
        raise ConfigError(
            f"--distro-upgrade-to: the {provisioner.NAME} provisioner cannot upgrade a cluster in "
            "place; use one that can"
        )
    if reuse:
        raise ConfigError(
            "--distro-upgrade-to leaves the cluster at the new version, so "
            "--distro-reuse-cluster would hand a different version to the next run; drop one of "
            "them"
        )
    target = profile.normalise_version(target_value.strip())
    if target is None:
        raise ConfigError(
            f"--distro-upgrade-to={target_value!r} is not a {spec.name} version; write it like "
            f"{profile.version_example!r}"
        )
    source_key, target_key = version_key(spec.version), version_key(target)
    if target_key < source_key or (target_key == source_key and target == spec.version):
        word = "a downgrade" if target_key < source_key else "the version it starts at"
        raise ConfigError(
            f"--distro-upgrade-to={target} is {word} from {spec}: the suite upgrades to a newer "
            f"version; pass an older one as --distro={spec.name}:FROM"
        )
    (from_major, from_minor), (to_major, to_minor) = minor_of(spec.version), minor_of(target)
    if to_major != from_major or to_minor > from_minor + 1:
        raise ConfigError(
            f"--distro-upgrade-to={target} skips minor releases from {spec}: Kubernetes supports "
            f"upgrading one minor release at a time (version skew policy); upgrade to "
            f"v{from_major}.{from_minor + 1}.x first"
        )
    kind: UpgradeKind = "patch" if to_minor == from_minor else "minor"
    if capabilities.runs_images:
        image = image or profile.image(target)
        if image is None:
            raise ConfigError(
                f"--distro-upgrade-to={target}: {spec.name} has no image to take the target from; "
                "pass --distro-upgrade-image=REF"
            )
        provisioner.check_image_available(
            image,
            flag=f"--distro-upgrade-to={target}",
            instead="pass --distro-upgrade-image=REF naming an image on this engine that holds "
            "the target version",
        )
    elif image is not None:
        raise ConfigError(
            f"--distro-upgrade-image is for provisioners that run images; --distro-provisioner="
            f"{provisioner.NAME} upgrades with the distribution's own procedure "
            f"({profile.upgrade.summary})"
        )
    return UpgradePlan(
        distro=spec.name,
        source=spec.version,
        target=target,
        kind=kind,
        image=image,
        probe_interval=probe_interval,
        max_downtime=max_downtime,
    )
