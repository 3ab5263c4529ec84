"""Upgrade: the distribution's own in-place upgrade, while a workload is probed from outside.

Runs with ``--distro-upgrade-to=VERSION`` (skipped without it), e.g.
``pytest suites/test_upgrade.py --distro=k3s:v1.36.5+k3s1 --distro-upgrade-to=v1.37.2+k3s1``.
A web Deployment is served to the host through the load balancer where the profile
has one (k3s ServiceLB), else through a hostPort on a node port the provisioner
publishes. Two probers run outside the cluster (the workload, and the API's
/readyz) while the provisioner runs the profile's upgrade procedure on the running
nodes. Measured: workload downtime (longest gap, total failed time), control-plane
downtime, the time until every node reports the new version, and whether pods
restarted (workload pods, then system pods separately).

Asserted: a distribution that claims hitless upgrades causes no failed workload
request and restarts no workload pod; ``--distro-max-downtime=S`` instead allows S seconds
of workload downtime in total. The measurements and both probers' timelines go to
``<run dir>/k8sdistro-upgrade/<cluster>.json`` and into the test's
``user_properties`` (JUnit XML properties), for the report.

The upgrade changes the run's cluster for every later test: run this suite alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_k8sdistro.suite import (
    LOAD_BALANCER_PORTS,
    Cluster,
    Distro,
    Kube,
    NotYet,
    Prober,
    Provisioner,
    UpgradePlan,
    Workloads,
    api_check,
    expect,
    host_get_until,
    host_port,
    http_check,
    reports_version,
    run_upgrade,
    upgrade_results,
    wait_for,
)

NAME = "upgrade-web"
MARKER = "web:upgrade"
#: The last of the published load-balancer ports, so the load balancer suite's
#: Service (on the first) never competes with this one for the node's hostPort.
PORT = LOAD_BALANCER_PORTS[-1]
REPLICAS = 2
#: The workload must answer without a failure for this long before the upgrade, and
#: again afterwards before probing stops, so an outage is seen whole.
STEADY_S = 3.0


@dataclass(frozen=True)
class PodState:
    name: str
    uid: str
    restarts: int


def _pods(kube: Kube, namespace: str, selector: str = "") -> dict[str, PodState]:
    pods = kube.core.list_namespaced_pod(namespace, label_selector=selector).items
    return {
        p.metadata.uid: PodState(
            p.metadata.name,
            p.metadata.uid,
            sum(c.restart_count for c in p.status.container_statuses or []),
        )
        for p in pods
        if not p.metadata.deletion_timestamp
    }


def _pod_changes(before: dict[str, PodState], after: dict[str, PodState]) -> list[dict[str, Any]]:
    """Every pod of ``before`` with what became of it, then the pods that are new."""
    rows = []
    for uid, old in before.items():
        new = after.get(uid)
        rows.append(
            {
                "name": old.name,
                "uid": uid,
                "restarts_before": old.restarts,
                "restarts_after": None if new is None else new.restarts,
                "change": "replaced"
                if new is None
                else ("restarted" if new.restarts > old.restarts else "kept"),
            }
        )
    for uid, new in after.items():
        if uid not in before:
            rows.append(
                {
                    "name": new.name,
                    "uid": uid,
                    "restarts_before": None,
                    "restarts_after": new.restarts,
                    "change": "new",
                }
            )
    return rows


def _changed(rows: list[dict[str, Any]]) -> list[str]:
    return [
        f"{r['name']} {r['change']}"
        + (
            f" (restarts {r['restarts_before']} -> {r['restarts_after']})"
            if r["change"] == "restarted"
            else ""
        )
        for r in rows
        if r["change"] != "kept"
    ]


def _expose(distro: Distro, cluster: Cluster, work: Workloads) -> tuple[str, str]:
    """Deploy the workload and make it reachable from the host; returns (url, path in words)."""
    __tracebackhide__ = True
    provider = distro.expectations.load_balancer
    # A load balancer that binds hostPorts on the node (ServiceLB) is reached through
    # the published port; other providers give addresses the host cannot route to.
    through_lb = provider == "servicelb"
    work.apply(
        "upgrade/web.yaml",
        name=NAME,
        replicas=REPLICAS if through_lb else 1,
        image=work.image,
        marker=MARKER,
        host_port=None if through_lb else PORT,
    )
    if through_lb:
        work.service(NAME, type="LoadBalancer", port=PORT)
        path = f"LoadBalancer Service ({provider}) on node port {PORT}"
    else:
        # No load balancer the host can reach, and NodePorts (30000-32767) are not
        # published: one replica binds the published node port as a hostPort.
        path = f"hostPort {PORT} of the pod (no load balancer the host can reach)"
    port = host_port(cluster, PORT, f"the upgrade workload ({path})", work.evidence)
    url = f"http://127.0.0.1:{port}/"
    host_get_until(
        f"the upgrade workload ({path}) does not serve from the host",
        url,
        expected=MARKER,
        timeout=work.timeouts.wait,
        evidence=work.evidence,
    )
    return url, f"{path} -> 127.0.0.1:{port}"


def _wait_ready_pods(work: Workloads, count: int) -> None:
    __tracebackhide__ = True

    def ready() -> int:
        pods = work.kube.core.list_namespaced_pod(
            work.namespace, label_selector=f"app={NAME}"
        ).items
        done = [
            p
            for p in pods
            if any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])
        ]
        if len(done) < count:
            raise NotYet(f"{len(done)} of {count} workload pods Ready")
        return len(done)

    wait_for(
        "the upgrade workload's pods to become Ready",
        ready,
        expected=f"{count} Ready pods labelled app={NAME}",
        timeout=work.timeouts.wait,
        evidence=work.evidence,
    )


def _steady(prober: Prober, since: float, what: str, timeout: float, evidence: Any) -> None:
    """Wait until ``prober`` has had only successes for STEADY_S seconds after ``since``."""
    __tracebackhide__ = True

    def probe() -> None:
        last = max(since, prober.last_failure_at() or since)
        if prober.elapsed() - last < STEADY_S or not prober.ok_since(last + 1e-6):
            raise NotYet(prober.summary().describe())

    wait_for(
        what,
        probe,
        expected=f"{STEADY_S:g}s without a failed request ({prober.target})",
        timeout=timeout,
        evidence=evidence,
        interval=0.2,
    )


def _node_versions(kube: Kube) -> dict[str, str]:
    return {
        n.metadata.name: n.status.node_info.kubelet_version for n in kube.core.list_node().items
    }


def test_upgrade_in_place(
    k8sdistro_upgrade_plan: UpgradePlan,
    request: pytest.FixtureRequest,
    k8sdistro_provisioner: Provisioner,
    k8sdistro_run_dir: Path,
    distro: Distro,
    cluster: Cluster,
    kube: Kube,
    work: Workloads,
) -> None:
    # The plan comes first in the arguments: without --distro-upgrade-to the test is skipped
    # before the cluster starts.
    plan = k8sdistro_upgrade_plan
    provisioner = k8sdistro_provisioner
    expectations = distro.expectations
    before_versions = _node_versions(kube)

    url, path = _expose(distro, cluster, work)
    _wait_ready_pods(work, REPLICAS if expectations.load_balancer == "servicelb" else 1)
    workload_before = _pods(kube, work.namespace, f"app={NAME}")
    system_before = _pods(kube, "kube-system")

    workload = Prober(
        "workload", http_check(url, expect=MARKER), target=url, interval=plan.probe_interval
    )
    control_plane = Prober(
        "control plane",
        api_check(cluster.kubeconfig, "/readyz"),
        target=f"{cluster.api_server}/readyz",
        interval=plan.probe_interval,
    )
    marks: list[dict[str, Any]] = []

    def mark(label: str) -> float:
        at = workload.elapsed()
        marks.append({"at": round(at, 3), "label": label})
        return at

    evidence = work.evidence
    procedure = ""
    started = 0.0
    upgraded_at = versions_at = None
    new_versions: dict[str, str] = {}
    workload.start()
    control_plane.start()
    try:
        # The API prober starts a moment after the workload's: both timelines are
        # placed on the workload prober's clock.
        offset = control_plane.started_at - workload.started_at  # type: ignore[operator]
        _steady(workload, 0.0, "the workload to serve steadily before the upgrade", 60, evidence)
        started = mark("upgrade started")
        procedure = run_upgrade(provisioner, cluster, plan.target, image=plan.image)
        upgraded_at = mark("procedure done")

        def new_version() -> dict[str, str]:
            found = _node_versions(kube)
            if not all(reports_version(v, plan.target) for v in found.values()):
                raise NotYet(f"nodes report {found}")
            return found

        new_versions = wait_for(
            f"every node to report {plan.target} after the upgrade",
            new_version,
            expected=f"status.nodeInfo.kubeletVersion {plan.target} on every node",
            timeout=work.timeouts.wait,
            evidence=evidence,
            interval=0.5,
        )
        versions_at = mark("new version reported")
        # Seen whole: the API and the workload are back and stay up for STEADY_S.
        _steady(
            control_plane,
            versions_at - offset,
            "the API to answer /readyz after the upgrade",
            work.timeouts.wait,
            evidence,
        )
        _steady(
            workload,
            versions_at,
            "the workload to serve again after the upgrade",
            work.timeouts.wait,
            evidence,
        )
        mark("steady again")
    finally:
        workload_summary = workload.stop()
        control_summary = control_plane.stop()
        result = upgrade_results.build(
            plan,
            cluster,
            distro,
            path=path,
            procedure=procedure,
            before_versions=before_versions,
            new_versions=new_versions,
            upgrade_s=None if upgraded_at is None else upgraded_at - started,
            version_s=None if versions_at is None else versions_at - started,
            workload=workload,
            control_plane=control_plane,
            workload_summary=workload_summary,
            control_summary=control_summary,
            marks=marks,
        )
        upgrade_results.record(result, k8sdistro_run_dir, cluster, request.node)

    workload_pods = _pod_changes(workload_before, _pods(kube, work.namespace, f"app={NAME}"))
    system_pods = _pod_changes(system_before, _pods(kube, "kube-system"))
    result["workload_pods"], result["system_pods"] = workload_pods, system_pods
    upgrade_results.record(result, k8sdistro_run_dir, cluster, request.node)

    restarted = _changed(workload_pods)
    found = (
        f"{workload_summary.describe()}; workload pods: "
        f"{', '.join(restarted) or 'all kept, same UIDs and restart counts'}"
    )
    details = "\n".join(
        [
            f"upgrade {plan.source} -> {plan.target} ({plan.kind}): {procedure}",
            f"workload reached through {path}",
            f"control plane: {control_summary.describe()}",
            f"new version reported {result['time_to_new_version_s']}s after the start",
            "workload outages: "
            + (
                "; ".join(
                    f"+{o.start:.2f}s..+{o.end:.2f}s ({o.failed_requests} failed: {o.first_error})"
                    for o in workload_summary.outages
                )
                or "none"
            ),
            "system pods changed: " + (", ".join(_changed(system_pods)) or "none"),
            f"result file: {result['file']}",
        ]
    )
    if plan.max_downtime is not None:
        expect(
            workload_summary.total_failed_s <= plan.max_downtime,
            f"upgrading {distro.name} cost more workload downtime than --distro-max-downtime",
            expected=f"at most {plan.max_downtime:g}s of workload downtime in total",
            found=found,
            evidence=lambda: details + "\n" + evidence(),
        )
    elif expectations.hitless_upgrade:
        expect(
            workload_summary.failed_requests == 0 and not restarted,
            f"{distro.name} claims hitless upgrades, but the upgrade interrupted the workload",
            expected="no failed request to the workload and no workload pod restarted "
            "(same UIDs, unchanged restart counts)",
            found=found,
            evidence=lambda: details + "\n" + evidence(),
        )
