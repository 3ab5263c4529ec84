"""Command-line options and ini settings, and the validation of their values.

Every bad value becomes a :class:`pytest.UsageError` that names the value and what
is accepted, raised while pytest parses its arguments, before anything starts.
"""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path
from typing import get_args

import pytest

from pytest_k8sdistro.config import footprint as footprint_options
from pytest_k8sdistro.distros.install import (
    ARTIFACT_HELP,
    MICROK8S_ADDONS,
    Artifact,
    ArtifactKind,
    artifact_kind,
    parse_addons,
)
from pytest_k8sdistro.measure.upgrade import plan as upgrade_options
from pytest_k8sdistro.model.datastore import KINDS as DATASTORE_KINDS
from pytest_k8sdistro.model.policy import KeepPolicy

GROUP = "k8sdistro"

_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}


def memory_size(value: str, *, flag: str = "memory size") -> int:
    """``1GiB``, ``512MiB``, ``1.5G`` or plain bytes, as a number of bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", value)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _SIZE_UNITS:
        raise pytest.UsageError(
            f"{flag}={value!r} is not a memory size; write it like '1GiB', '512MiB' or '2G'"
        )
    size = int(float(match.group(1)) * _SIZE_UNITS[unit])
    # Docker refuses limits under 6 MiB; nothing Kubernetes-shaped boots in less.
    if size < 64 * 1024**2:
        raise pytest.UsageError(f"{flag}={value!r} is under 64MiB; no distribution boots there")
    return size


def cpu_count(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if number <= 0:
        raise pytest.UsageError(
            f"--node-cpus={value!r} is not a positive number of CPUs, e.g. '1' or '0.5'"
        )
    return number


def node_count(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 10:
        raise pytest.UsageError(f"--nodes={value!r}: give a whole number of nodes from 1 to 10")
    return int(value)


#: Accepted by ``--ip-family``: IPv4 only (every distribution's default), or dual-stack.
IP_FAMILIES = ("ipv4", "dual")


def ip_family(value: str) -> str:
    family = value.strip().lower()
    if family not in IP_FAMILIES:
        raise pytest.UsageError(
            f"--ip-family={value!r} is not an IP family; use one of: {', '.join(IP_FAMILIES)}"
        )
    return family


def datastore_kind(value: str) -> str:
    kind = value.strip().lower()
    if kind not in DATASTORE_KINDS:
        raise pytest.UsageError(
            f"--datastore={value!r} is not a datastore this plugin starts; use one of: "
            f"{', '.join(DATASTORE_KINDS)}"
        )
    return kind


def timeout_seconds(value: str, *, flag: str = "--ready-timeout") -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if seconds <= 0:
        raise pytest.UsageError(f"{flag}={value!r} is not a timeout; give seconds greater than 0")
    return seconds


def keep_policy(value: str) -> KeepPolicy:
    try:
        return KeepPolicy(value.strip().lower())
    except ValueError:
        accepted = ", ".join(p.value for p in KeepPolicy)
        raise pytest.UsageError(
            f"--keep-cluster={value!r} is not a keep policy; use one of: {accepted}"
        ) from None


def distro_addons(value: str) -> tuple[str, ...]:
    try:
        return parse_addons(value)
    except ValueError as exc:
        raise pytest.UsageError(
            f"--distro-addons={value!r}: {exc}; accepted: {', '.join(MICROK8S_ADDONS)} "
            "(metallb as metallb:FIRST-LAST)"
        ) from None


def install_artifact(value: str) -> Artifact:
    """``[KIND=]PATH``; the kind is guessed from the file name when not given."""
    kinds: tuple[str, ...] = get_args(ArtifactKind)
    kind, sep, rest = value.partition("=")
    if sep and kind in kinds:
        path = Path(rest).expanduser()
        chosen: ArtifactKind = kind  # type: ignore[assignment]
    elif sep and "/" not in kind:
        raise pytest.UsageError(
            f"--install-artifact={value!r}: {kind!r} is not an artifact kind; use one of: "
            + "; ".join(f"{k} ({v})" for k, v in ARTIFACT_HELP.items())
        )
    else:
        path = Path(value).expanduser()
        chosen = artifact_kind(path)
    if not path.is_file():
        raise pytest.UsageError(
            f"--install-artifact={value!r}: no such file; give [KIND=]PATH of a local file"
        )
    return Artifact(chosen, path.resolve())


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup(GROUP, "Kubernetes distributions (pytest-k8sdistro)")
    group.addoption(
        "--distro",
        action="append",
        default=[],
        metavar="NAME[:VERSION]",
        help="distribution to start and test: k3s, k0s or microk8s, optionally pinned "
        "(k3s:v1.33.6+k3s1). Repeat to test several side by side.",
    )
    group.addoption(
        "--distro-image",
        metavar="REF",
        help="run this image (a vendor's build) under the named distribution's contract",
    )
    group.addoption(
        "--distro-image-archive",
        metavar="PATH",
        help="'docker load' this tarball first, for air-gapped runs",
    )
    group.addoption(
        "--distro-expect",
        metavar="FILE",
        help="YAML file changing the distributions' expectations, for vendors' images",
    )
    group.addoption(
        "--kubeconfig",
        dest="k8sdistro_kubeconfig",
        metavar="PATH",
        help="test a cluster that is already running, with the --distro's expectations; "
        "nothing is started or stopped",
    )
    group.addoption(
        "--provisioner",
        metavar="NAME|ssh://USER@HOST[:PORT]",
        default=None,
        help="how clusters are brought up: docker, host (this machine, with "
        "--allow-host-install), ssh://user@host[:port] (a machine over SSH), multipass "
        "(a throwaway VM). Default: docker (existing with --kubeconfig)",
    )
    group.addoption(
        "--allow-host-install",
        action="store_true",
        default=False,
        help="let --provisioner=host install the distribution on this machine (and "
        "uninstall it afterwards); for throwaway machines such as CI runners",
    )
    group.addoption(
        "--distro-addons",
        type=distro_addons,
        default=None,
        metavar="A,B,...",
        help="microk8s addons to enable, e.g. dns,hostpath-storage,ingress; the "
        "expectations follow what is enabled",
    )
    group.addoption(
        "--install-artifact",
        type=install_artifact,
        action="append",
        default=[],
        metavar="[KIND=]PATH",
        help="install from this local file instead of downloading (air-gapped): "
        "binary, images, script (k3s install.sh), snap, assert. Repeatable",
    )
    group.addoption(
        "--keep-cluster",
        type=keep_policy,
        default=None,
        metavar="never|on-failure|always",
        help="keep the cluster (and failed tests' namespaces) after the run. Default: never",
    )
    group.addoption(
        "--reuse-cluster",
        action="store_true",
        default=False,
        help="attach to a cluster kept by an earlier run with the same distro, version "
        "and image instead of creating one (and keep it afterwards)",
    )
    group.addoption(
        "--strict-features",
        action="store_true",
        default=False,
        help="fail, instead of skip, tests of features the distribution does not claim",
    )
    group.addoption(
        "--nodes",
        type=node_count,
        default=1,
        metavar="N",
        help="start one server and N-1 agents on their own network. Default: 1",
    )
    group.addoption(
        "--ip-family",
        type=ip_family,
        default="ipv4",
        metavar="ipv4|dual",
        help="dual: start clusters dual-stack (IPv4 and IPv6) with the distribution's "
        "own dual-stack settings, on an IPv6-enabled network. Default: ipv4",
    )
    group.addoption(
        "--datastore",
        type=datastore_kind,
        default=None,
        metavar="postgres|mysql",
        help="k3s only: start PostgreSQL or MySQL in a container beside the server and "
        "keep the cluster's state there (k3s --datastore-endpoint). Default: the "
        "distribution's own datastore",
    )
    group.addoption(
        "--datastore-image",
        default=None,
        metavar="REF",
        help="the database image for --datastore. Default: postgres:17 or mysql:8.4",
    )
    group.addoption(
        "--node-memory",
        type=partial(memory_size, flag="--node-memory"),
        default=None,
        metavar="SIZE",
        help="memory limit of each node container, e.g. 1GiB",
    )
    group.addoption(
        "--node-cpus",
        type=cpu_count,
        default=None,
        metavar="N",
        help="CPU limit of each node container, e.g. 1 or 0.5",
    )
    group.addoption(
        "--ready-timeout",
        type=timeout_seconds,
        default=None,
        metavar="SECONDS",
        help="how long a cluster may take to become ready. Default: the profile's, 300",
    )
    upgrade_options.add_options(group)
    footprint_options.add_options(parser, GROUP)
    parser.addini(
        "k8sdistro_distros",
        type="linelist",
        default=[],
        help="distributions to test when --distro is not given (one NAME[:VERSION] a line)",
    )
    parser.addini(
        "k8sdistro_keep_cluster",
        default="never",
        help="default of --keep-cluster: never, on-failure or always",
    )
    parser.addini(
        "k8sdistro_ready_timeout",
        default="",
        help="default of --ready-timeout, in seconds",
    )
