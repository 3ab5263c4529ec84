"""Command-line options and ini settings, and the validation of their values.

Every bad value becomes a :class:`pytest.UsageError` that names the value and what
is accepted, raised while pytest parses its arguments, before anything starts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_k8sdistro.config import footprint, parse, upgrade, vm
from pytest_k8sdistro.distros.install import ARTIFACT_KINDS, Artifact, ArtifactKind, artifact_kind
from pytest_k8sdistro.distros.registry import BUILTIN as BUILTIN_DISTROS
from pytest_k8sdistro.model.datastore import KINDS as DATASTORES
from pytest_k8sdistro.model.policy import KeepPolicy
from pytest_k8sdistro.provisioners.base import IP_FAMILIES

GROUP = "k8sdistro"
#: Every suite workload runs this image with an explicit command.
DEFAULT_SUITE_IMAGE = "busybox:1.36.1"
DEFAULT_SUITE_TIMEOUT_S = 120.0
DEFAULT_SUITE_HOLD_S = 8.0


def memory_size(value: str, *, flag: str = "--distro-node-memory") -> int:
    return parse.memory_size(value, flag=flag)


def cpu_count(value: str) -> float:
    return parse.cpu_count(value, flag="--distro-node-cpus")


def node_count(value: str) -> int:
    return parse.whole_number(value, flag="--distro-nodes", low=1, high=10, what="nodes")


def ip_family(value: str) -> str:
    return parse.choice(value, flag="--distro-ip-family", accepted=IP_FAMILIES, what="an IP family")


def datastore_kind(value: str) -> str:
    return parse.choice(
        value, flag="--distro-datastore", accepted=DATASTORES, what="a datastore this plugin starts"
    )


def timeout_seconds(value: str, *, flag: str = "--distro-ready-timeout") -> float:
    return parse.seconds(value, flag=flag, meaning="a timeout in seconds", example="600")


def keep_policy(value: str, *, flag: str = "--distro-keep-cluster") -> KeepPolicy:
    chosen = parse.choice(
        value, flag=flag, accepted=(p.value for p in KeepPolicy), what="a keep policy"
    )
    return KeepPolicy(chosen)


def suite_timeout(value: str, *, flag: str = "--distro-suite-timeout") -> float:
    return parse.seconds(value, flag=flag, minimum=1, exclusive=False, example="120")


def suite_hold(value: str, *, flag: str = "--distro-suite-hold") -> float:
    return parse.seconds(value, flag=flag, exclusive=False, example="8")


def image_ref(flag: str) -> Callable[[str], str]:
    return parse.option_type(parse.image_ref, flag)


def install_artifact(value: str) -> Artifact:
    """``[KIND=]PATH``; the kind is guessed from the file name when not given."""
    kind, sep, rest = value.partition("=")
    if sep and kind in ARTIFACT_KINDS:
        path = Path(rest).expanduser()
        chosen: ArtifactKind = kind
    elif sep and "/" not in kind:
        raise pytest.UsageError(
            f"--distro-install-artifact={value!r}: {kind!r} is not an artifact kind; use one of: "
            + ", ".join(ARTIFACT_KINDS)
        )
    else:
        path = Path(value).expanduser()
        chosen = artifact_kind(path)
    if not path.is_file():
        raise pytest.UsageError(
            f"--distro-install-artifact={value!r}: no such file; give [KIND=]PATH of a local file"
        )
    return Artifact(chosen, path.resolve())


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup(GROUP, "Kubernetes distributions (pytest-k8sdistro)")
    group.addoption(
        "--distro",
        action="append",
        default=[],
        metavar="NAME[:VERSION]",
        help="distribution to start and test: "
        + ", ".join(BUILTIN_DISTROS)
        + " (or one a plugin adds), optionally pinned (NAME:VERSION). Repeat to test "
        "several side by side.",
    )
    group.addoption(
        "--distro-image",
        metavar="REF",
        type=image_ref("--distro-image"),
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
        "--distro-kubeconfig",
        dest="k8sdistro_kubeconfig",
        metavar="PATH",
        help="test a cluster that is already running, with the --distro's expectations; "
        "nothing is started or stopped",
    )
    group.addoption(
        "--distro-provisioner",
        dest="provisioner",
        metavar="NAME|ssh://USER@HOST[:PORT]",
        default=None,
        help="how clusters are brought up: docker, host (this machine, with "
        "--distro-allow-host-install), ssh://user@host[:port] (a machine over SSH), multipass "
        "(a throwaway VM), qemu (a throwaway VM booted with QEMU), or one a plugin adds. "
        "Default: docker (existing with --distro-kubeconfig)",
    )
    group.addoption(
        "--distro-allow-host-install",
        dest="allow_host_install",
        action="store_true",
        default=False,
        help="let --distro-provisioner=host install the distribution on this machine (and "
        "uninstall it afterwards); for throwaway machines such as CI runners",
    )
    group.addoption(
        "--distro-addons",
        default=None,
        metavar="A,B,...",
        help="addons to enable, for distributions that have them, e.g. "
        "dns,hostpath-storage,ingress; the expectations follow what is enabled",
    )
    group.addoption(
        "--distro-install-artifact",
        dest="install_artifact",
        type=install_artifact,
        action="append",
        default=[],
        metavar="[KIND=]PATH",
        help="install from this local file instead of downloading (air-gapped): "
        + ", ".join(ARTIFACT_KINDS)
        + ", as the distribution accepts. Repeatable",
    )
    group.addoption(
        "--distro-keep-cluster",
        dest="keep_cluster",
        type=keep_policy,
        default=None,
        metavar="never|on-failure|always",
        help="keep the cluster (and failed tests' namespaces) after the run. Default: never",
    )
    group.addoption(
        "--distro-reuse-cluster",
        dest="reuse_cluster",
        action="store_true",
        default=False,
        help="attach to a cluster kept by an earlier run with the same distro, version "
        "and image instead of creating one (and keep it afterwards)",
    )
    group.addoption(
        "--distro-strict-features",
        dest="strict_features",
        action="store_true",
        default=False,
        help="fail, instead of skip, tests of features the distribution does not claim",
    )
    group.addoption(
        "--distro-nodes",
        dest="nodes",
        type=node_count,
        default=1,
        metavar="N",
        help="start one server and N-1 agents on their own network. Default: 1",
    )
    group.addoption(
        "--distro-ip-family",
        dest="ip_family",
        type=ip_family,
        default="ipv4",
        metavar="ipv4|dual",
        help="dual: start clusters dual-stack (IPv4 and IPv6) with the distribution's "
        "own dual-stack settings, on an IPv6-enabled network. Default: ipv4",
    )
    group.addoption(
        "--distro-datastore",
        dest="datastore",
        type=datastore_kind,
        default=None,
        metavar="postgres|mysql",
        help="start PostgreSQL or MySQL in a container beside the server and keep the "
        "cluster's state there, for distributions that take an external datastore. "
        "Default: the distribution's own datastore",
    )
    group.addoption(
        "--distro-datastore-image",
        dest="datastore_image",
        default=None,
        type=image_ref("--distro-datastore-image"),
        metavar="REF",
        help="the database image for --distro-datastore. Default: postgres:17 or mysql:8.4",
    )
    group.addoption(
        "--distro-node-memory",
        dest="node_memory",
        type=memory_size,
        default=None,
        metavar="SIZE",
        help="memory limit of each node container, or memory of each VM, e.g. 1GiB "
        "(VMs: default 4GiB)",
    )
    group.addoption(
        "--distro-node-cpus",
        dest="node_cpus",
        type=cpu_count,
        default=None,
        metavar="N",
        help="CPU limit of each node container, e.g. 1 or 0.5, or CPUs of each VM (VMs: "
        "a whole number, default 2)",
    )
    group.addoption(
        "--distro-ready-timeout",
        dest="ready_timeout",
        type=timeout_seconds,
        default=None,
        metavar="SECONDS",
        help="how long a cluster may take to become ready. Default: the profile's, 300",
    )
    vm.add_options(group)
    upgrade.add_options(group)
    footprint.add_options(parser, GROUP)
    _add_suite_options(parser)
    parser.addini(
        "distro",
        type="linelist",
        default=[],
        help="distributions to test when --distro is not given (one NAME[:VERSION] a line)",
    )
    parser.addini(
        "distro_keep_cluster",
        default="never",
        help="default of --distro-keep-cluster: never, on-failure or always",
    )
    parser.addini(
        "distro_ready_timeout",
        default="",
        help="default of --distro-ready-timeout, in seconds",
    )


def _add_suite_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("k8sdistro-suites", "k8sdistro suites")
    group.addoption(
        "--distro-suite-timeout",
        dest="suite_timeout",
        type=suite_timeout,
        default=None,
        metavar="SECONDS",
        help="longest wait of any suite check (pods Ready, PVCs Bound, addresses); "
        f"default {DEFAULT_SUITE_TIMEOUT_S:g}",
    )
    group.addoption(
        "--distro-suite-hold",
        dest="suite_hold",
        type=suite_hold,
        default=None,
        metavar="SECONDS",
        help="how long a state that must not change is watched (a PVC waiting for its "
        f"first consumer, a LoadBalancer without a provider); default {DEFAULT_SUITE_HOLD_S:g}",
    )
    group.addoption(
        "--distro-suite-image",
        dest="suite_image",
        default=None,
        type=image_ref("--distro-suite-image"),
        metavar="REF",
        help=f"busybox image the suites' workloads run; default {DEFAULT_SUITE_IMAGE}",
    )
    parser.addini(
        "distro_suite_timeout",
        "default of --distro-suite-timeout",
        default=f"{DEFAULT_SUITE_TIMEOUT_S:g}",
    )
    parser.addini(
        "distro_suite_hold", "default of --distro-suite-hold", default=f"{DEFAULT_SUITE_HOLD_S:g}"
    )
    parser.addini(
        "distro_suite_image", "default of --distro-suite-image", default=DEFAULT_SUITE_IMAGE
    )
