"""Each stand-in fault switch fails exactly the suites that depend on it, naming the cause.

The suites run against the stand-in k3s with real pod networking
(``--distro-provisioner=standin-netns``) inside an ``unshare --net --mount`` sandbox, so
nothing touches this machine's network; the cluster is started dual-stack so the
IPv6 suite runs too.

- STANDIN_PVC_PENDING, STANDIN_MISSING_INGRESSCLASS and STANDIN_NO_IPV6 break disjoint
  suites, so one run checks all three: exactly the storage provisioning, ingress and
  IPv6 tests fail (and the StatefulSet, whose claims never bind), each with its own
  cause in the message.
- Five switches break disjoint suites too, and go in one run, beside two for suites that
  do not run here (STANDIN_HOLD_MEMORY_MIB: memory; STANDIN_KILL_PODS_ON_RESTART:
  restart and upgrade), which change nothing; every other test passes:
  STANDIN_NO_BATCH_CONTROLLER and STANDIN_STATEFULSET_NEW_VOLUMES fail exactly the three
  workloads tests, saying which Job got no pod and which claim replaced the re-created
  pod's own; STANDIN_AUTHZ_ALWAYS_ALLOW (the API admits every authenticated request)
  fails exactly the access-control tests, saying that k3s claims RBAC;
  STANDIN_NO_STREAMING (exec and port-forward upgrades fail as without a streaming
  server) fails exactly the reaching-in tests, with the handshake's 400 in the message;
  STANDIN_METRICS_STALE (the APIService v1beta1.metrics.k8s.io fails its discovery
  check) fails exactly the metrics tests, naming the APIService and the reason.
- STANDIN_NEVER_READY: every test fails at the cluster, naming the readiness stage.

Not applicable yet: STANDIN_API_DOWN_AFTER/STANDIN_API_DOWN_FOR (an API outage belongs
to the availability-during-upgrade suite; these suites retry only waits).

"""

from __future__ import annotations

import os
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STANDIN_DIR = ROOT / "tests" / "standin"


pytestmark = pytest.mark.skipif(
    os.geteuid() != 0
    or not all(shutil.which(tool) for tool in ("unshare", "ip", "iptables"))
    or not (shutil.which("busybox") or shutil.which("docker")),
    reason="needs root, unshare, ip, iptables (a network namespace sandbox) and busybox "
    "(on PATH, or from a stand-in image through docker)",
)


def run_suites(
    pytester: pytest.Pytester, env: dict[str, str], *args: str
) -> tuple[pytest.RunResult, dict[str, tuple[str, str]]]:
    """Run the suites in a sandbox; returns the result and {test name: (outcome, message)}."""
    report = pytester.path / "report.xml"
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("STANDIN_", "PYTEST_"))}
    environment.update(
        {
            "PYTHONPATH": os.pathsep.join([str(STANDIN_DIR), os.environ.get("PYTHONPATH", "")]),
            "HOME": str(pytester.path / "home"),
            **env,
        }
    )
    result = pytester.run(
        "env",
        "-i",
        *(f"{k}={v}" for k, v in environment.items()),
        "unshare",
        "--net",
        "--mount",
        "--propagation",
        "private",
        sys.executable,
        "-m",
        "pytest",
        str(ROOT / "suites"),
        f"--rootdir={ROOT}",
        "-p",
        "standin_provisioner",
        "--distro-provisioner=standin-netns",
        "--distro=k3s",
        "--distro-ip-family=dual",
        "-p",
        "no:cacheprovider",
        f"--basetemp={pytester.path / 'bt'}",
        f"--junitxml={report}",
        # Footprint and upgrade have fault tests of their own (test_footprint_*.py,
        # test_upgrade_suite.py); the upgrade suite skips before any cluster starts.
        "--ignore",
        str(ROOT / "suites" / "test_footprint.py"),
        "--ignore",
        str(ROOT / "suites" / "test_upgrade.py"),
        "-n",
        "2",
        "--distro-suite-timeout=40",
        "--distro-suite-hold=4",
        *args,
        timeout=600,
    )
    outcomes: dict[str, tuple[str, str]] = {}
    if report.exists():
        for case in ET.parse(report).getroot().iter("testcase"):
            name = case.get("name", "").split("[")[0]
            outcome, message = "passed", ""
            for child in case:
                if child.tag in ("failure", "error", "skipped"):
                    outcome = {"failure": "failed", "error": "error"}.get(child.tag, "skipped")
                    message = (child.get("message") or "") + "\n" + (child.text or "")
            outcomes[name] = (outcome, message)
    return result, outcomes


def failing(outcomes: dict[str, tuple[str, str]]) -> set[str]:
    return {name for name, (outcome, _) in outcomes.items() if outcome in ("failed", "error")}


def check_causes(
    result: pytest.RunResult,
    outcomes: dict[str, tuple[str, str]],
    causes: dict[str, tuple[str, ...]],
) -> None:
    """Exactly the tests of ``causes`` failed, each message holding its words."""
    __tracebackhide__ = True
    assert failing(outcomes) == set(causes), result.stdout.str()[-6000:]
    for name, words in causes.items():
        message = outcomes[name][1]
        for word in words:
            assert word in message, f"{name}: {word!r} not in:\n{message[:3000]}"


def test_pvc_pending_missing_ingressclass_and_no_ipv6_fail_exactly_their_suites(
    pytester: pytest.Pytester,
) -> None:
    result, outcomes = run_suites(
        pytester,
        {"STANDIN_PVC_PENDING": "1", "STANDIN_MISSING_INGRESSCLASS": "1", "STANDIN_NO_IPV6": "1"},
    )
    causes: dict[str, tuple[str, ...]] = {
        # PVCs never bind: the provisioner's own event is in the evidence.
        "test_provisioning_respects_the_binding_mode": ("Pending", "ProvisioningFailed"),
        "test_data_outlives_its_writer_and_the_volume_is_reclaimed": (
            "Pending",
            "ProvisioningFailed",
        ),
        # The traefik IngressClass is gone: the class check names it, and the
        # Ingress that uses it is not served.
        "test_ingress_classes_match_profile": ("IngressClasses ['traefik']", "found:    Ingress"),
        "test_http_reaches_backends_by_host_and_path": ("traefik ingress", "404"),
        # Dual-stack API, but pods get no IPv6 address.
        "test_ipv6": ("got no IPv6 address", "podIPs"),
        # The StatefulSet's claims never bind, so its first replica never starts.
        "test_statefulset_keeps_identity_volume_and_dns": (
            "StatefulSet members to have 2 ready replicas",
            "ProvisioningFailed",
        ),
    }
    check_causes(result, outcomes, causes)


# The switches of this run break disjoint suites (workloads, access control, reaching in,
# metrics), so one run shows each failing its own tests and no other: a whole run of the
# suites costs minutes, and one per switch would cost them five times.
METRICS_WORDS = (
    "APIService v1beta1.metrics.k8s.io to become Available: timed out",
    "expected: APIService v1beta1.metrics.k8s.io with condition Available=True",
    "reason=FailedDiscoveryCheck",
)
DISJOINT_FAULTS = {
    # Switches of suites that do not run here (memory, restart and upgrade): no test of
    # these suites may fail because of them.
    "STANDIN_HOLD_MEMORY_MIB": "32",
    "STANDIN_KILL_PODS_ON_RESTART": "1",
    "STANDIN_NO_BATCH_CONTROLLER": "1",
    "STANDIN_STATEFULSET_NEW_VOLUMES": "1",
    "STANDIN_AUTHZ_ALWAYS_ALLOW": "1",
    "STANDIN_NO_STREAMING": "1",
    "STANDIN_METRICS_STALE": "1",
}
DISJOINT_CAUSES: dict[str, tuple[str, ...]] = {
    # STANDIN_NO_BATCH_CONTROLLER: the Job exists, but nothing runs it.
    "test_job_runs_to_completion": (
        "Job once to finish: timed out",
        "expected: Job once with condition Complete=True",
        "pods: none",
    ),
    # The CronJob controller still makes its Job, which then never runs.
    "test_cronjob_fires_on_schedule": ("Job minutely-", "pods: none"),
    # STANDIN_STATEFULSET_NEW_VOLUMES: the re-created pod mounts a fresh claim, not its own.
    "test_statefulset_keeps_identity_volume_and_dns": (
        "re-created pod members-0 did not get its own claim back",
        "expected: pod members-0 mounts PVC data-members-0 (uid",
        "found:    pod mounts data-members-0-",
    ),
    # STANDIN_AUTHZ_ALWAYS_ALLOW: the API admits every authenticated request.
    "test_a_fresh_service_account_is_refused_where_rbac_is_on": (
        "k3s claims RBAC",
        "403 Forbidden for list secrets",
        "system:serviceaccount:",
    ),
    "test_the_view_role_reads_pods_but_not_secrets": (
        "the view ClusterRole lets a ServiceAccount list Secrets",
        "review allowed=True",
    ),
    # STANDIN_NO_STREAMING: exec and port-forward upgrades are refused.
    "test_exec_returns_output_and_exit_code": (
        "exec into pod exec-target failed",
        "expected: pods/exec-target/exec upgrades to a WebSocket",
        "Handshake status 400",
        "streaming server not available",
        "pod exec-target: phase=Running",
    ),
    "test_port_forward_gets_the_page": (
        "port-forward to pod forward-target failed",
        "Handshake status 400",
        "streaming server not available",
    ),
    # STANDIN_METRICS_STALE: the APIService fails its discovery check.
    "test_the_metrics_api_is_registered_as_the_profile_says": METRICS_WORDS,
    "test_every_node_reports_cpu_and_memory": METRICS_WORDS,
    "test_a_running_pod_appears_in_pod_metrics": METRICS_WORDS,
}


def test_workload_authz_streaming_and_metrics_faults_fail_exactly_their_tests(
    pytester: pytest.Pytester,
) -> None:
    result, outcomes = run_suites(pytester, DISJOINT_FAULTS)
    check_causes(result, outcomes, DISJOINT_CAUSES)
    # Every other test passed, the IPv6 suite's too: the sandbox starts dual-stack.
    assert outcomes["test_ipv6"][0] == "passed", outcomes["test_ipv6"][1][:3000]


def test_never_ready_fails_every_test_at_the_cluster(pytester: pytest.Pytester) -> None:
    result, outcomes = run_suites(
        pytester, {"STANDIN_NEVER_READY": "1"}, "--distro-ready-timeout=15"
    )
    assert outcomes
    assert failing(outcomes) == set(outcomes), result.stdout.str()[-3000:]
    assert all("did not become ready" in message for _, message in outcomes.values()), next(
        iter(outcomes.values())
    )[1][:2000]
