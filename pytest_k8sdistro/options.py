"""Command-line options and ini settings, and the validation of their values.

Every bad value becomes a :class:`pytest.UsageError` that names the value and what
is accepted, raised while pytest parses its arguments, before anything starts.
"""

from __future__ import annotations

import re
from functools import partial

import pytest

from pytest_k8sdistro.keep import KeepPolicy

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
        metavar="NAME",
        default=None,
        help="how clusters are brought up. Default: docker (existing with --kubeconfig)",
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
