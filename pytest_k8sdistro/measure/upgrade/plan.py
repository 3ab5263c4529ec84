"""Options of the upgrade suite: ``--upgrade-to``, ``--upgrade-image``, ``--probe-interval``,
``--max-downtime``, and the plan they make together with ``--distro``.

Everything that can be known before a cluster starts is checked while pytest
configures: the target's form, that it is newer than the version started, that it
skips no minor release, and (with the docker provisioner) that its image is on the
engine or can be pulled. Each problem is a :class:`pytest.UsageError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import pytest

if TYPE_CHECKING:
    from pytest_k8sdistro.config.settings import Settings

#: Shortest interval the prober is allowed: below it, a Python thread's own timing
#: jitter is of the same order as what it measures.
MIN_PROBE_INTERVAL_S = 0.01
MAX_PROBE_INTERVAL_S = 10.0

UpgradeKind = Literal["patch", "minor"]


@dataclass(frozen=True)
class UpgradePlan:
    """What the upgrade suite does: which distribution, from what, to what, how it measures."""

    distro: str
    source: str
    target: str
    kind: UpgradeKind
    #: Where the target binary comes from (docker provisioner): ``--upgrade-image`` or
    #: the profile's official image for the target; None for machine provisioners.
    image: str | None
    probe_interval: float
    #: ``--max-downtime``: allowed workload downtime instead of the profile's claim.
    max_downtime: float | None


def probe_interval(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not MIN_PROBE_INTERVAL_S <= seconds <= MAX_PROBE_INTERVAL_S:  # also rejects nan
        raise pytest.UsageError(
            f"--probe-interval={value!r}: give seconds from {MIN_PROBE_INTERVAL_S:g} to "
            f"{MAX_PROBE_INTERVAL_S:g}, e.g. 0.1 for ten requests a second"
        )
    return seconds


def max_downtime(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not seconds >= 0 or seconds == float("inf"):
        raise pytest.UsageError(
            f"--max-downtime={value!r}: give the workload downtime allowed, in seconds "
            "(0 or more), e.g. 300"
        )
    return seconds


def add_options(group: Any) -> None:
    """Add the upgrade options to the plugin's option group (called by options.py)."""
    group.addoption(
        "--upgrade-to",
        metavar="VERSION",
        default=None,
        help="run the upgrade suite: upgrade the --distro's cluster in place to VERSION "
        "(a patch or the next minor release) while probing a workload",
    )
    group.addoption(
        "--upgrade-image",
        metavar="REF",
        default=None,
        help="take the target binary from this image instead of the official one for "
        "--upgrade-to (vendors' builds; docker provisioner)",
    )
    group.addoption(
        "--probe-interval",
        type=probe_interval,
        default=0.1,
        metavar="SECONDS",
        help="how often the upgrade suite's probers send a request. Default: 0.1",
    )
    group.addoption(
        "--max-downtime",
        type=max_downtime,
        default=None,
        metavar="SECONDS",
        help="workload downtime the upgrade may cause; without it, a distribution that "
        "claims hitless upgrades must cause none",
    )


# -- versions ---------------------------------------------------------------------------

_VERSION = re.compile(
    r"v?(\d+)\.(\d+)(?:\.(\d+))?(?:-rc\.?(\d+))?(?:\+(?:k3s|k0s\.)(\d+))?(?:/(\w+))?"
)


def version_key(version: str) -> tuple[int, ...]:
    """A tuple that orders versions numerically: ``v1.34.2+k3s1`` > ``v1.34.2-rc1+k3s1``
    > ``v1.33.10+k3s2``; a snap channel ``1.33/stable`` orders by its track."""
    match = _VERSION.fullmatch(version)
    if match is None:
        raise ValueError(f"{version!r} is not a version")
    major, minor, patch, rc, build, _risk = match.groups()
    # A release comes after its release candidates.
    return (
        int(major),
        int(minor),
        int(patch or 0),
        0 if rc is not None else 1,
        int(rc or 0),
        int(build or 0),
    )


def _minor(version: str) -> tuple[int, int]:
    key = version_key(version)
    return key[0], key[1]


# -- the plan ------------------------------------------------------------------------------


def plan(option: Any, settings: Settings) -> UpgradePlan | None:
    """The upgrade plan, or None without ``--upgrade-to``; checks every option together."""
    target_value: str | None = option.upgrade_to
    image: str | None = option.upgrade_image
    if target_value is None:
        if image is not None:
            raise pytest.UsageError(
                f"--upgrade-image={image!r} names the binary of an upgrade; add "
                "--upgrade-to=VERSION, the version that image holds"
            )
        return None
    if len(settings.distros) != 1:
        raise pytest.UsageError(
            f"--upgrade-to={target_value!r} needs exactly one --distro, the one to upgrade "
            f"(got {len(settings.distros)}); e.g. --distro=k3s:v1.33.6+k3s1 "
            "--upgrade-to=v1.34.2+k3s1"
        )
    spec = settings.distros[0]
    profile = spec.profile
    if settings.provisioner == "existing":
        raise pytest.UsageError(
            "--upgrade-to changes the cluster in place, and a cluster given with --kubeconfig "
            "is not this run's to change; drop --kubeconfig to let the plugin start one"
        )
    if settings.reuse:
        raise pytest.UsageError(
            "--upgrade-to leaves the cluster at the new version, so --reuse-cluster would "
            "hand a different version to the next run; drop one of them"
        )
    target = profile.normalise_version(target_value.strip())
    if target is None:
        raise pytest.UsageError(
            f"--upgrade-to={target_value!r} is not a {spec.name} version; write it like "
            f"{profile.version_example!r}"
        )
    source_key, target_key = version_key(spec.version), version_key(target)
    if target_key < source_key or (target_key == source_key and target == spec.version):
        word = "a downgrade" if target_key < source_key else "the version it starts at"
        raise pytest.UsageError(
            f"--upgrade-to={target} is {word} from {spec}: the suite upgrades to a newer "
            f"version; pass an older one as --distro={spec.name}:FROM"
        )
    (from_major, from_minor), (to_major, to_minor) = _minor(spec.version), _minor(target)
    if to_major != from_major or to_minor > from_minor + 1:
        raise pytest.UsageError(
            f"--upgrade-to={target} skips minor releases from {spec}: Kubernetes supports "
            f"upgrading one minor release at a time (version skew policy); upgrade to "
            f"v{from_major}.{from_minor + 1}.x first"
        )
    kind: UpgradeKind = "patch" if to_minor == from_minor else "minor"
    if image is not None and (not image.strip() or any(c.isspace() for c in image)):
        raise pytest.UsageError(f"--upgrade-image={image!r} is not an image reference")
    if settings.provisioner == "docker":
        image = image or profile.image(target)
        assert image is not None  # every profile that runs in a container names its image
        check_image(image, target)
    elif image is not None:
        raise pytest.UsageError(
            f"--upgrade-image is for the docker provisioner; --provisioner="
            f"{settings.provisioner} upgrades with the distribution's own procedure "
            f"({profile.upgrade.summary})"
        )
    return UpgradePlan(
        distro=spec.name,
        source=spec.version,
        target=target,
        kind=kind,
        image=image,
        probe_interval=float(option.probe_interval),
        max_downtime=option.max_downtime,
    )


def check_image(ref: str, target: str) -> None:
    """Fail unless ``ref`` is on the engine or its registry knows it.

    When no engine answers the check is left to the provisioner, which reports a
    missing engine with its own advice when the cluster starts.
    """
    import docker
    import docker.errors
    import requests

    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException):
        return
    try:
        try:
            client.images.get(ref)
            return
        except docker.errors.ImageNotFound:
            pass
        try:
            client.images.get_registry_data(ref)
            return
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            reason = exc.explanation if isinstance(exc, docker.errors.APIError) else str(exc)
    finally:
        client.close()
    raise pytest.UsageError(
        f"--upgrade-to={target}: the image {ref} is not on this Docker engine and its "
        f"registry does not offer it ({reason}). Either the version does not exist, or "
        f"the registry cannot be reached. To supply it: `docker pull {ref}` on a "
        f"connected machine, `docker save -o target.tar {ref}`, `docker load -i "
        "target.tar` here; or pass --upgrade-image=REF naming an image on this engine "
        "that holds the target version"
    )
