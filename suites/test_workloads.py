"""Workload controllers: a Job runs to completion, a CronJob fires on its schedule, and
a StatefulSet gives each replica a stable name, DNS name and volume of its own."""

from __future__ import annotations

import time
from typing import Any

from kubernetes.client.exceptions import ApiException

from pytest_k8sdistro.suite import (
    CLUSTER_DOMAIN,
    Distro,
    NotYet,
    Workloads,
    delete,
    expect,
    fail,
    hold_for,
    pod_logs,
    read_or_none,
    wait_for,
)

JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
#: A CronJob due every minute fires within a minute of being created, and its Job then
#: has to run; beyond that the suite's own wait applies.
CRON_PERIOD_S = 90.0


def _conditions(obj: Any) -> dict[str, str]:
    return {c.type: c.status for c in (obj.status.conditions or [])}


def _describe_conditions(obj: Any) -> str:
    found = [f"{c.type}={c.status} ({c.reason}: {c.message})" for c in obj.status.conditions or []]
    return ", ".join(found) or "no conditions"


def _evidence(work: Workloads) -> Any:
    """The namespace's evidence, with its Jobs, CronJobs and StatefulSets."""

    def collect() -> str:
        lines = [work.evidence()]
        kube, ns = work.kube, work.namespace
        for job in kube.batch.list_namespaced_job(ns).items:
            s = job.status
            lines.append(
                f"job {job.metadata.name}: active={s.active} succeeded={s.succeeded} "
                f"failed={s.failed}; {_describe_conditions(job)}"
            )
        for cj in kube.batch.list_namespaced_cron_job(ns).items:
            s = cj.status
            lines.append(
                f"cronjob {cj.metadata.name}: schedule={cj.spec.schedule!r} "
                f"lastScheduleTime={s.last_schedule_time} "
                f"lastSuccessfulTime={s.last_successful_time} "
                f"active={[a.name for a in s.active or []]}"
            )
        for sts in kube.apps.list_namespaced_stateful_set(ns).items:
            s = sts.status
            lines.append(
                f"statefulset {sts.metadata.name}: replicas={s.replicas} ready={s.ready_replicas} "
                f"current={s.current_replicas} updated={s.updated_replicas}"
            )
        return "\n".join(lines)

    return collect


def _wait_job_done(work: Workloads, name: str, timeout: float) -> Any:
    """The Job once it has a terminal condition (Complete or Failed)."""
    __tracebackhide__ = True

    def probe() -> Any:
        job = read_or_none(work.kube.batch.read_namespaced_job, name, work.namespace)
        if job is None:
            raise NotYet(f"job {name} does not exist")
        conditions = _conditions(job)
        if conditions.get("Complete") == "True" or conditions.get("Failed") == "True":
            return job
        s = job.status
        pods = work.kube.core.list_namespaced_pod(
            work.namespace, label_selector=f"{JOB_NAME_LABEL}={name}"
        ).items
        raise NotYet(
            f"job {name}: active={s.active} succeeded={s.succeeded} failed={s.failed}, "
            f"{_describe_conditions(job)}; pods: "
            + (", ".join(f"{p.metadata.name} {p.status.phase}" for p in pods) or "none")
        )

    return wait_for(
        f"Job {name} to finish",
        probe,
        expected=f"Job {name} with condition Complete=True",
        timeout=timeout,
        evidence=_evidence(work),
    )


def _check_completed(work: Workloads, job: Any, marker: str) -> None:
    __tracebackhide__ = True
    name = job.metadata.name
    expect(
        _conditions(job).get("Complete") == "True" and job.status.succeeded == 1,
        f"Job {name} did not complete",
        expected=f"Job {name}: condition Complete=True, succeeded=1",
        found=f"succeeded={job.status.succeeded} failed={job.status.failed}; "
        f"{_describe_conditions(job)}",
        evidence=_evidence(work),
    )
    pods = work.kube.core.list_namespaced_pod(
        work.namespace, label_selector=f"{JOB_NAME_LABEL}={name}"
    ).items
    logs = [pod_logs(work.kube, work.namespace, p.metadata.name) for p in pods]
    expect(
        any(marker in log for log in logs),
        f"the pod of Job {name} did not log what it printed",
        expected=f"a pod labelled {JOB_NAME_LABEL}={name} whose log holds {marker!r}",
        found="; ".join(
            f"{p.metadata.name}: {log.strip()[-200:]!r}" for p, log in zip(pods, logs, strict=True)
        )
        or f"no pod labelled {JOB_NAME_LABEL}={name}",
        evidence=_evidence(work),
    )


def test_job_runs_to_completion(work: Workloads) -> None:
    marker = f"job-output-{work.namespace}"
    work.apply("job.yaml", name="once", image=work.image, script=f"echo {marker}")
    job = _wait_job_done(work, "once", 2 * work.timeouts.wait)
    _check_completed(work, job, marker)


def test_cronjob_fires_on_schedule(work: Workloads) -> None:
    marker = f"cron-output-{work.namespace}"
    created = time.time()
    work.apply(
        "cronjob.yaml",
        name="minutely",
        schedule="* * * * *",
        image=work.image,
        script=f"echo {marker}",
    )
    batch = work.kube.batch

    def fired() -> Any:
        for job in batch.list_namespaced_job(work.namespace).items:
            owners = job.metadata.owner_references or []
            if any(o.kind == "CronJob" and o.name == "minutely" for o in owners):
                return job
        raise NotYet("no Job owned by CronJob minutely yet")

    try:
        job = wait_for(
            "CronJob minutely (schedule '* * * * *') to create a Job",
            fired,
            expected="a Job owned by CronJob minutely within a minute or so",
            timeout=CRON_PERIOD_S + work.timeouts.wait,
            evidence=_evidence(work),
        )
        done = _wait_job_done(work, job.metadata.name, 2 * work.timeouts.wait)
        _check_completed(work, done, marker)
        cronjob = batch.read_namespaced_cron_job("minutely", work.namespace)
        scheduled = cronjob.status.last_schedule_time
        # Upstream names a CronJob's Job after its scheduled time, in minutes since the epoch.
        expected_name = (
            f"minutely-{int(scheduled.timestamp()) // 60}" if scheduled is not None else ""
        )
        expect(
            scheduled is not None
            and scheduled.timestamp() >= created - 60
            and job.metadata.name == expected_name,
            "the CronJob's status does not record the run it made",
            expected=f"lastScheduleTime at a minute after the CronJob was created, and its Job "
            f"named minutely-<that time in minutes since the epoch> ({expected_name or '?'})",
            found=f"lastScheduleTime={scheduled}, Job {job.metadata.name}",
            evidence=_evidence(work),
        )
    finally:
        # Stop it firing while the namespace goes.
        delete(batch.delete_namespaced_cron_job, "minutely", work.namespace)


# The members of the StatefulSet: each keeps its identity on its volume (written once,
# reported on every start), then resolves its peers by their stable DNS names.
_MEMBER = (
    'if [ -f /data/identity ]; then echo "identity kept: $(cat /data/identity)"; '
    'else echo "$HOSTNAME" > /data/identity && sync && echo "identity written: $HOSTNAME"; fi; '
)
_RESOLVE = (
    "for peer in {peers}; do [ $peer = $HOSTNAME ] && continue; "
    "name=$peer.{service}.{namespace}.svc.{domain}; "
    "until ips=$(nslookup $name 2>/dev/null | awk '/^Name:/ {{n=1; next}} n && /^Address/ "
    '{{printf "%s ", $NF}}\') && [ -n "$ips" ]; do sleep 1; done; '
    'echo "resolved $peer $ips"; done; exec sleep 3600'
)


def _members(name: str, replicas: int) -> list[str]:
    return [f"{name}-{i}" for i in range(replicas)]


def _script(work: Workloads, name: str, replicas: int, *, volume: bool) -> str:
    resolve = _RESOLVE.format(
        peers=" ".join(_members(name, replicas)),
        service=name,
        namespace=work.namespace,
        domain=CLUSTER_DOMAIN,
    )
    return (_MEMBER if volume else "") + resolve


def _wait_ready_replicas(work: Workloads, name: str, replicas: int) -> Any:
    __tracebackhide__ = True

    def probe() -> Any:
        sts = work.kube.apps.read_namespaced_stateful_set(name, work.namespace)
        ready = sts.status.ready_replicas or 0
        if ready < replicas:
            raise NotYet(f"statefulset {name}: {ready}/{replicas} ready")
        return sts

    return wait_for(
        f"StatefulSet {name} to have {replicas} ready replicas",
        probe,
        expected=f"pods {', '.join(_members(name, replicas))} Running and Ready",
        timeout=2 * work.timeouts.wait,
        evidence=_evidence(work),
    )


def _log(work: Workloads, pod: str) -> str:
    """The pod's log as the container wrote it ("" while there is none)."""
    try:
        return str(work.kube.core.read_namespaced_pod_log(pod, work.namespace) or "")
    except ApiException as exc:
        if exc.status in (400, 404):  # not started yet, or gone
            return ""
        raise


def _wait_log(work: Workloads, pod: str, text: str, what: str) -> str:
    __tracebackhide__ = True

    def probe() -> str:
        logs = _log(work, pod)
        if text not in logs:
            raise NotYet(f"log of {pod}: {logs.strip()[-200:]!r}")
        return logs

    return wait_for(
        what,
        probe,
        expected=f"pod {pod} logs {text!r}",
        timeout=work.timeouts.wait,
        evidence=_evidence(work),
    )


def _check_dns(work: Workloads, name: str, replicas: int) -> None:
    """Each member resolved every other one's stable name to that pod's address."""
    __tracebackhide__ = True
    pods = {
        p: work.kube.core.read_namespaced_pod(p, work.namespace) for p in _members(name, replicas)
    }
    for pod in pods:
        for peer, peer_pod in pods.items():
            if peer == pod:
                continue
            fqdn = f"{peer}.{name}.{work.namespace}.svc.{CLUSTER_DOMAIN}"
            logs = _wait_log(
                work, pod, f"resolved {peer} ", f"pod {pod} to resolve {fqdn} (headless Service)"
            )
            line = next(x for x in logs.splitlines() if x.startswith(f"resolved {peer} "))
            ips = {a.ip for a in peer_pod.status.pod_ips or []} | {peer_pod.status.pod_ip}
            resolved = set(line.split()[2:])
            expect(
                bool(resolved) and resolved <= ips,
                f"{fqdn} does not resolve to pod {peer}",
                expected=f"{fqdn} -> {', '.join(sorted(i for i in ips if i))} (the pod's IPs)",
                found=line,
                evidence=_evidence(work),
            )


def _claim_of(pod: Any, volume: str) -> str | None:
    for v in pod.spec.volumes or []:
        if v.name == volume and v.persistent_volume_claim is not None:
            return str(v.persistent_volume_claim.claim_name)
    return None


def _claims_template() -> list[dict[str, Any]]:
    return [
        {
            "metadata": {"name": "data"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "16Mi"}},
            },
        }
    ]


def test_statefulset_keeps_identity_volume_and_dns(distro: Distro, work: Workloads) -> None:
    if distro.expectations.storage_class is None:
        _statefulset_without_default_class(work)
        return
    name, replicas = "members", 2
    work.apply(
        "statefulset.yaml",
        name=name,
        replicas=replicas,
        image=work.image,
        script=_script(work, name, replicas, volume=True),
        mounts=[{"name": "data", "mountPath": "/data"}],
        claims=_claims_template(),
    )
    _wait_ready_replicas(work, name, replicas)
    core, ns = work.kube.core, work.namespace
    claims: dict[str, Any] = {}
    for pod_name in _members(name, replicas):
        pod = core.read_namespaced_pod(pod_name, ns)
        claim_name = _claim_of(pod, "data")
        claim = read_or_none(core.read_namespaced_persistent_volume_claim, f"data-{pod_name}", ns)
        expect(
            claim_name == f"data-{pod_name}"
            and claim is not None
            and claim.status.phase == "Bound",
            f"replica {pod_name} has no bound claim of its own",
            expected=f"pod {pod_name} mounts PVC data-{pod_name}, Bound, of the default "
            f"StorageClass {distro.expectations.storage_class}",
            found=f"pod mounts {claim_name}; PVC data-{pod_name}: "
            + (
                f"{claim.status.phase}, class {claim.spec.storage_class_name}"
                if claim
                else "absent"
            ),
            evidence=_evidence(work),
        )
        claims[pod_name] = claim
        _wait_log(
            work, pod_name, f"identity written: {pod_name}", f"{pod_name} to write its identity"
        )
    _check_dns(work, name, replicas)

    first = f"{name}-0"
    old_uid = core.read_namespaced_pod(first, ns).metadata.uid
    delete(core.delete_namespaced_pod, first, ns)

    def recreated() -> Any:
        pod = read_or_none(core.read_namespaced_pod, first, ns)
        if pod is None or pod.metadata.uid == old_uid:
            raise NotYet(f"pod {first} not re-created yet")
        if pod.status.phase != "Running":
            raise NotYet(f"re-created {first} is {pod.status.phase}")
        return pod

    pod = wait_for(
        f"the StatefulSet to re-create pod {first}",
        recreated,
        expected=f"a new pod named {first} Running",
        timeout=2 * work.timeouts.wait,
        evidence=_evidence(work),
    )
    claim = read_or_none(core.read_namespaced_persistent_volume_claim, f"data-{first}", ns)
    mounted = _claim_of(pod, "data")
    expect(
        mounted == f"data-{first}"
        and claim is not None
        and claim.metadata.uid == claims[first].metadata.uid,
        f"re-created pod {first} did not get its own claim back",
        expected=f"pod {first} mounts PVC data-{first} (uid {claims[first].metadata.uid}, "
        f"volume {claims[first].spec.volume_name})",
        found=f"pod mounts {mounted}; PVC data-{first}: "
        + (f"uid {claim.metadata.uid}, volume {claim.spec.volume_name}" if claim else "absent"),
        evidence=_evidence(work),
    )
    _wait_log(
        work, first, f"identity kept: {first}", f"re-created {first} to find its identity file"
    )


def _statefulset_without_default_class(work: Workloads) -> None:
    """Without a default StorageClass: stable names and DNS still hold, and a claim
    from a template gets no class and stays Pending (upstream: no class, no
    provisioner), so OrderedReady never starts the second replica."""
    __tracebackhide__ = True
    name, replicas = "members", 2
    work.apply(
        "statefulset.yaml",
        name=name,
        replicas=replicas,
        image=work.image,
        script=_script(work, name, replicas, volume=False),
        mounts=None,
        claims=None,
    )
    work.apply(
        "statefulset.yaml",
        name="claims",
        replicas=2,
        image=work.image,
        script="exec sleep 3600",
        mounts=[{"name": "data", "mountPath": "/data"}],
        claims=_claims_template(),
    )
    _wait_ready_replicas(work, name, replicas)
    _check_dns(work, name, replicas)
    core, ns = work.kube.core, work.namespace

    def claim_pending() -> str | None:
        claim = read_or_none(core.read_namespaced_persistent_volume_claim, "data-claims-0", ns)
        if claim is None:
            return None  # created with the pod; checked below
        if claim.status.phase != "Pending" or claim.spec.storage_class_name:
            return (
                f"PVC data-claims-0 is {claim.status.phase}, "
                f"class {claim.spec.storage_class_name!r}"
            )
        if read_or_none(core.read_namespaced_pod, "claims-1", ns) is not None:
            return "pod claims-1 exists although claims-0 cannot start"
        return None

    hold_for(
        "a claim without a default StorageClass was bound, or OrderedReady moved on",
        claim_pending,
        expected="PVC data-claims-0 with no class stays Pending, and pod claims-1 is not created",
        duration=work.timeouts.hold,
        evidence=_evidence(work),
    )
    if read_or_none(core.read_namespaced_persistent_volume_claim, "data-claims-0", ns) is None:
        fail(
            "the StatefulSet made no claim from its volumeClaimTemplate",
            expected="PVC data-claims-0, Pending",
            found="no such PVC",
            evidence=_evidence(work),
        )
