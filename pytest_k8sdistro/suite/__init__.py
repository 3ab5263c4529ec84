"""The public API for suite authors: everything a suite imports from the plugin.

Checks fail with what was expected, what was found and the evidence; waits retry
only what a busy or booting API says, and give up with the same report::

    from pytest_k8sdistro.suite import Distro, Kube, expect, wait_for, NotYet

The fixtures (``distro``, ``cluster``, ``kube``, ``namespace``, ``node``, ``work``
(a :class:`Workloads` for the test's namespace), ``suite_timeouts``, ``suite_image``, and for
measuring ``k8sdistro_provisioner``, ``k8sdistro_other_cluster``,
``k8sdistro_footprint``, ``k8sdistro_upgrade_plan``, ``k8sdistro_run``,
``k8sdistro_run_dir``) come with the plugin and need no import. Measurements
(footprint, upgrade) are here too, so a suite imports nothing else of the plugin.
"""

from __future__ import annotations

from pytest_k8sdistro.config.footprint import FootprintSettings
from pytest_k8sdistro.distros.distro import Distro
from pytest_k8sdistro.distros.registry import known_distros
from pytest_k8sdistro.distros.spec import DistroSpec
from pytest_k8sdistro.errors import (
    CheckFailed,
    ClusterUnavailable,
    NotMeasurable,
    NotYet,
    ProvisionError,
    ReadinessTimeout,
)
from pytest_k8sdistro.kube import namespaces
from pytest_k8sdistro.kube.api import api_client, raw_get
from pytest_k8sdistro.kube.checks import (
    Manifests,
    apply,
    events,
    expect,
    fail,
    hold_for,
    namespace_evidence,
    pod_logs,
    pod_summary,
    wait_for,
    wait_pod_done,
    wait_pod_ready,
)
from pytest_k8sdistro.kube.client import Kube
from pytest_k8sdistro.measure.footprint.memory import NodesMemory
from pytest_k8sdistro.measure.footprint.nodes import disk_of, memory_of, time_to_ready
from pytest_k8sdistro.measure.footprint.sampler import Summary, sample
from pytest_k8sdistro.measure.footprint.tier import TIERS
from pytest_k8sdistro.measure.footprint.tiers import TierRun
from pytest_k8sdistro.measure.upgrade import results as upgrade_results
from pytest_k8sdistro.measure.upgrade.plan import UpgradePlan
from pytest_k8sdistro.measure.upgrade.prober import Prober, api_check, http_check
from pytest_k8sdistro.measure.upgrade.prober import Summary as ProbeSummary
from pytest_k8sdistro.measure.upgrade.procedure import run_upgrade
from pytest_k8sdistro.model.cluster import LOAD_BALANCER_PORTS, Cluster, Node, RunIdentity
from pytest_k8sdistro.model.timeouts import Timeouts
from pytest_k8sdistro.model.versions import reports_version
from pytest_k8sdistro.provisioners.base import Provisioner
from pytest_k8sdistro.suite.workloads import (
    CLUSTER_DOMAIN,
    WGET,
    Workloads,
    answers_address,
    delete,
    host_get_until,
    host_port,
    http_get,
    read_or_none,
    retry_script,
    service_endpoint,
    suite_manifests,
    url,
)

__all__ = [
    "CLUSTER_DOMAIN",
    "LOAD_BALANCER_PORTS",
    "TIERS",
    "WGET",
    "CheckFailed",
    "Cluster",
    "ClusterUnavailable",
    "Distro",
    "DistroSpec",
    "FootprintSettings",
    "Kube",
    "Manifests",
    "Node",
    "NodesMemory",
    "NotMeasurable",
    "NotYet",
    "ProbeSummary",
    "Prober",
    "ProvisionError",
    "Provisioner",
    "ReadinessTimeout",
    "RunIdentity",
    "Summary",
    "TierRun",
    "Timeouts",
    "UpgradePlan",
    "Workloads",
    "answers_address",
    "api_check",
    "api_client",
    "apply",
    "delete",
    "disk_of",
    "events",
    "expect",
    "fail",
    "hold_for",
    "host_get_until",
    "host_port",
    "http_check",
    "http_get",
    "known_distros",
    "memory_of",
    "namespace_evidence",
    "namespaces",
    "pod_logs",
    "pod_summary",
    "raw_get",
    "read_or_none",
    "reports_version",
    "retry_script",
    "run_upgrade",
    "sample",
    "service_endpoint",
    "suite_manifests",
    "time_to_ready",
    "upgrade_results",
    "url",
    "wait_for",
    "wait_pod_done",
    "wait_pod_ready",
]
