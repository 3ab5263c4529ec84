"""Options of the upgrade suite: ``--distro-upgrade-to``, ``--distro-upgrade-image``,
``--distro-probe-interval`` and ``--distro-max-downtime``; the plan they make is checked
by :func:`pytest_k8sdistro.measure.upgrade.plan.plan`."""

from __future__ import annotations

from typing import Any

from pytest_k8sdistro.config import parse
from pytest_k8sdistro.measure.upgrade.plan import (
    DEFAULT_PROBE_INTERVAL_S,
    MAX_PROBE_INTERVAL_S,
    MIN_PROBE_INTERVAL_S,
)


def probe_interval(value: str) -> float:
    return parse.seconds(
        value,
        flag="--distro-probe-interval",
        minimum=MIN_PROBE_INTERVAL_S,
        exclusive=False,
        maximum=MAX_PROBE_INTERVAL_S,
        example="0.1 for ten requests a second",
    )


def max_downtime(value: str) -> float:
    return parse.seconds(
        value,
        flag="--distro-max-downtime",
        exclusive=False,
        meaning="the workload downtime allowed, in seconds,",
        example="300",
    )


def add_options(group: Any) -> None:
    """Add the upgrade options to the plugin's option group."""
    group.addoption(
        "--distro-upgrade-to",
        dest="upgrade_to",
        metavar="VERSION",
        default=None,
        help="run the upgrade suite: upgrade the --distro's cluster in place to VERSION "
        "(a patch or the next minor release) while probing a workload",
    )
    group.addoption(
        "--distro-upgrade-image",
        dest="upgrade_image",
        metavar="REF",
        default=None,
        type=parse.option_type(parse.image_ref, "--distro-upgrade-image"),
        help="take the target's files from this image instead of the official one for "
        "--distro-upgrade-to (vendors' builds; provisioners that run images)",
    )
    group.addoption(
        "--distro-probe-interval",
        dest="probe_interval",
        type=probe_interval,
        default=DEFAULT_PROBE_INTERVAL_S,
        metavar="SECONDS",
        help="how often the upgrade suite's probers send a request. "
        f"Default: {DEFAULT_PROBE_INTERVAL_S:g}",
    )
    group.addoption(
        "--distro-max-downtime",
        dest="max_downtime",
        type=max_downtime,
        default=None,
        metavar="SECONDS",
        help="workload downtime the upgrade may cause; without it, a distribution that "
        "claims hitless upgrades must cause none",
    )
