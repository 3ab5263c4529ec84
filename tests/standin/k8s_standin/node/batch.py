"""Job and CronJob controllers (kube-controller-manager's job and cronjob controllers).

Job, after pkg/controller/job/job_controller.go (syncJob, manageJob,
trackJobStatusAndRemoveFinalizers): pods carry the `batch.kubernetes.io/job-tracking`
finalizer and are counted once they end (Succeeded, Failed, or deleted before
succeeding), through `status.uncountedTerminatedPods`, then released; `active`,
`ready` and `terminating` count the live ones. A NonIndexed Job with `completions`
runs `min(parallelism, completions - succeeded)` pods; without `completions` (a work
queue) it starts `parallelism` pods until one succeeds. More failures than
`backoffLimit` (or, with restartPolicy OnFailure, as many container restarts), or
`activeDeadlineSeconds` passed, put `FailureTarget` and, once no pod runs, `Failed`;
enough successes put `SuccessCriteriaMet` and then `Complete` with `completionTime`,
as upstream does since 1.31 for every Job. Failed pods are replaced after the
exponential back-off (10 s doubling, at most 10 min: DefaultJobPodFailureBackOff,
MaxJobPodFailureBackOff). `suspend` deletes the active pods and sets `Suspended`.
`ttlSecondsAfterFinished` deletes a finished Job (ttlafterfinished controller).
Indexed completion mode, pod failure and success policies and backoffLimitPerIndex
are not modelled.

CronJob, after pkg/controller/cronjob/cronjob_controllerv2.go (syncCronJob) and
utils.go: the most recent scheduled time after `lastScheduleTime` (or the
creation) that is not later than now, unless `startingDeadlineSeconds` says it is
too late, makes a Job named `<cronjob>-<scheduled minutes since the epoch>`
(getJobName), owned by the CronJob, with the `batch.kubernetes.io/cronjob-scheduled-timestamp`
annotation; `concurrencyPolicy` Forbid skips while one is active, Replace deletes
the active ones first; `status.active`, `lastScheduleTime`, `lastSuccessfulTime`;
finished Jobs beyond `successfulJobsHistoryLimit`/`failedJobsHistoryLimit` are
deleted, oldest first.
"""

from __future__ import annotations

import copy
import datetime as dt
import time

from .. import cron
from .client import ApiError, Client
from .events import emit
from .util import Obj, controller_of, is_terminating, now, parse_time, pod_ready

TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
SCHEDULED_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"
BACKOFF_BASE_S = 10.0
BACKOFF_MAX_S = 600.0


def _condition(type_: str, reason: str, message: str) -> Obj:
    stamp = now()
    return {
        "type": type_,
        "status": "True",
        "reason": reason,
        "message": message,
        "lastProbeTime": stamp,
        "lastTransitionTime": stamp,
    }


def _has(job: Obj, type_: str) -> bool:
    return any(
        c.get("type") == type_ and c.get("status") == "True"
        for c in (job.get("status") or {}).get("conditions") or []
    )


def finished(job: Obj) -> str | None:
    """'Complete' or 'Failed' once the Job has that condition (IsJobFinished)."""
    for type_ in ("Complete", "Failed"):
        if _has(job, type_):
            return type_
    return None


def _owned(objs: list[Obj], owner: Obj) -> list[Obj]:
    uid = owner["metadata"]["uid"]
    return [o for o in objs if (controller_of(o) or {}).get("uid") == uid]


def _pod_finished(pod: Obj) -> str | None:
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed"):
        return str(phase)
    # A pod deleted before it ended counts as failed (podReplacementPolicy
    # TerminatingOrFailed replaces it at once).
    if is_terminating(pod):
        return "Failed"
    return None


class JobController:
    def __init__(self, client: Client) -> None:
        self.client = client
        # Job uid -> when its last failure was counted (the back-off), and the pods
        # counted, so a pod whose finalizer could not be removed yet is not counted twice.
        self._last_failure: dict[str, float] = {}
        self._counted: dict[str, set[str]] = {}

    def step(self) -> None:
        pods = self.client.list("pods")
        for job in self.client.list("jobs"):
            job.setdefault("kind", "Job")
            job.setdefault("apiVersion", "batch/v1")
            try:
                self._sync(job, _owned(pods, job))
            except ApiError as err:
                if err.status not in (404, 409):
                    raise

    def _sync(self, job: Obj, pods: list[Obj]) -> None:
        meta, spec = job["metadata"], job["spec"]
        ns = meta["namespace"]
        status = copy.deepcopy(job.get("status") or {})
        done = finished(job)
        if done:
            self._release(pods)
            self._expire(job)
            return
        if is_terminating(job):
            return
        # 1. Count pods that ended, then let them go (the tracking finalizer).
        uncounted = status.get("uncountedTerminatedPods") or {}
        counted = self._counted.setdefault(meta["uid"], set())
        new = {k: list(uncounted.get(k) or []) for k in ("succeeded", "failed")}
        counted.update(new["succeeded"], new["failed"])
        for pod in pods:
            outcome = _pod_finished(pod)
            uid = pod["metadata"]["uid"]
            has_finalizer = TRACKING_FINALIZER in (pod["metadata"].get("finalizers") or [])
            if outcome and has_finalizer and uid not in counted:
                new["succeeded" if outcome == "Succeeded" else "failed"].append(uid)
                counted.add(uid)
        if new["succeeded"] or new["failed"]:
            self._status(job, {"uncountedTerminatedPods": new})
            self._release([p for p in pods if _pod_finished(p)])
            status["succeeded"] = status.get("succeeded", 0) + len(new["succeeded"])
            status["failed"] = status.get("failed", 0) + len(new["failed"])
            if new["failed"]:
                self._last_failure[meta["uid"]] = time.monotonic()
            status["uncountedTerminatedPods"] = {}
        active = [p for p in pods if not _pod_finished(p)]
        terminating = [p for p in pods if is_terminating(p) and p["metadata"].get("finalizers")]
        succeeded, failed = status.get("succeeded", 0), status.get("failed", 0)
        conditions = list(status.get("conditions") or [])
        types = {c["type"] for c in conditions if c.get("status") == "True"}

        # 2. Suspension.
        if spec.get("suspend"):
            for pod in active:
                self.client.delete("pods", pod["metadata"]["name"], ns)
            if "Suspended" not in types:
                conditions = [c for c in conditions if c["type"] != "Suspended"]
                conditions.append(_condition("Suspended", "JobSuspended", "Job suspended"))
                emit(self.client, job, "Suspended", "Job suspended", component="job-controller")
            status.update(conditions=conditions, active=len(active), ready=0)
            self._status(job, status)
            return
        if "Suspended" in types:
            conditions = [c for c in conditions if c["type"] != "Suspended"]
            status["startTime"] = now()  # a resumed Job's deadline starts again
            emit(self.client, job, "Resumed", "Job resumed", component="job-controller")
        status.setdefault("startTime", now())

        # 3. Failure and success criteria.
        completions = spec.get("completions")
        target = None
        if "FailureTarget" in types or "SuccessCriteriaMet" in types:
            pass
        elif failed > spec.get("backoffLimit", 6) or self._restarts_exceed(job, active):
            target = (
                "FailureTarget",
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
            )
        elif self._past_deadline(job, status):
            target = (
                "FailureTarget",
                "DeadlineExceeded",
                "Job was active longer than specified deadline",
            )
        elif (completions is not None and succeeded >= completions) or (
            completions is None and succeeded > 0 and not active
        ):
            target = (
                "SuccessCriteriaMet",
                "CompletionsReached",
                "Reached expected number of succeeded pods",
            )
        if target is not None:
            conditions.append(_condition(*target))
            types.add(target[0])
        if "FailureTarget" in types or "SuccessCriteriaMet" in types:
            ending = next(
                c for c in conditions if c["type"] in ("FailureTarget", "SuccessCriteriaMet")
            )
            for pod in active:
                if not is_terminating(pod):
                    self.client.delete("pods", pod["metadata"]["name"], ns)
            live = [p for p in pods if not is_terminating(p) and not _pod_finished(p)]
            if not live and not terminating:
                # The terminal condition waits until every pod is gone (1.31 on).
                final = "Failed" if ending["type"] == "FailureTarget" else "Complete"
                conditions.append(_condition(final, ending["reason"], ending["message"]))
                if final == "Complete":
                    status["completionTime"] = now()
                    emit(self.client, job, "Completed", "Job completed", component="job-controller")
                else:
                    emit(
                        self.client,
                        job,
                        ending["reason"],
                        ending["message"],
                        type_="Warning",
                        component="job-controller",
                    )
            status.update(
                conditions=conditions,
                active=len(live),
                ready=sum(1 for p in live if pod_ready(p)),
                terminating=len(terminating),
            )
            self._status(job, status)
            return

        # 4. Pods to run.
        parallelism = spec.get("parallelism", 1)
        if completions is None:
            want = parallelism if succeeded == 0 else 0
        else:
            want = max(0, min(parallelism, completions - succeeded))
        live = [p for p in active if not is_terminating(p)]
        if len(live) < want and self._backoff_over(job, failed):
            for _ in range(want - len(live)):
                created = self._create_pod(job)
                live.append(created)
        elif len(live) > want:
            for pod in sorted(live, key=lambda p: pod_ready(p))[: len(live) - want]:
                self.client.delete("pods", pod["metadata"]["name"], ns)
                live.remove(pod)
        status.update(
            conditions=conditions,
            active=len(live),
            ready=sum(1 for p in live if pod_ready(p)),
            terminating=len(terminating),
        )
        self._status(job, status)

    def _backoff_over(self, job: Obj, failed: int) -> bool:
        if failed == 0:
            return True
        last = self._last_failure.get(job["metadata"]["uid"])
        if last is None:
            return True  # counted by an earlier process: no memory of when
        delay = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (failed - 1))
        return time.monotonic() - last >= delay

    @staticmethod
    def _restarts_exceed(job: Obj, active: list[Obj]) -> bool:
        """pastBackoffLimitOnFailure: with restartPolicy OnFailure, container restarts
        of running and pending pods count against backoffLimit."""
        spec = job["spec"]
        if (spec.get("template", {}).get("spec") or {}).get("restartPolicy") != "OnFailure":
            return False
        limit = spec.get("backoffLimit", 6)
        restarts = sum(
            s.get("restartCount", 0)
            for p in active
            if (p.get("status") or {}).get("phase", "Pending") in ("Pending", "Running")
            for key in ("initContainerStatuses", "containerStatuses")
            for s in (p.get("status") or {}).get(key) or []
        )
        return restarts > 0 if limit == 0 else restarts >= limit

    @staticmethod
    def _past_deadline(job: Obj, status: Obj) -> bool:
        deadline = job["spec"].get("activeDeadlineSeconds")
        if deadline is None or not status.get("startTime"):
            return False
        return bool(time.time() - parse_time(status["startTime"]) >= deadline)

    def _create_pod(self, job: Obj) -> Obj:
        meta = job["metadata"]
        template = copy.deepcopy(job["spec"]["template"])
        pod_meta = template.get("metadata") or {}
        pod_meta.pop("creationTimestamp", None)
        pod_meta.pop("name", None)
        pod_meta["generateName"] = f"{meta['name']}-"
        pod_meta["finalizers"] = [*(pod_meta.get("finalizers") or []), TRACKING_FINALIZER]
        pod_meta["ownerReferences"] = [
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "name": meta["name"],
                "uid": meta["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": template["spec"]}
        created = self.client.create("pods", pod, meta["namespace"])
        emit(
            self.client,
            job,
            "SuccessfulCreate",
            f"Created pod: {created['metadata']['name']}",
            component="job-controller",
        )
        return created

    def _release(self, pods: list[Obj]) -> None:
        for pod in pods:
            finalizers = pod["metadata"].get("finalizers") or []
            if TRACKING_FINALIZER in finalizers and _pod_finished(pod):
                kept = [f for f in finalizers if f != TRACKING_FINALIZER]
                try:
                    self.client.request(
                        "PATCH",
                        f"/api/v1/namespaces/{pod['metadata']['namespace']}/pods/"
                        f"{pod['metadata']['name']}",
                        [
                            {
                                "op": "test",
                                "path": "/metadata/finalizers",
                                "value": finalizers,
                            },
                            {"op": "replace", "path": "/metadata/finalizers", "value": kept},
                        ],
                        content_type="application/json-patch+json",
                    )
                except ApiError as err:
                    if err.status not in (404, 409, 422):
                        raise

    def _expire(self, job: Obj) -> None:
        """ttlafterfinished: delete a finished Job (and, in the background, its pods)."""
        ttl = job["spec"].get("ttlSecondsAfterFinished")
        if ttl is None or is_terminating(job):
            return
        ended = next(
            (
                c.get("lastTransitionTime")
                for c in job["status"].get("conditions") or []
                if c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
            ),
            None,
        )
        if ended and time.time() - parse_time(ended) >= ttl:
            self._delete_background(self.client, job)

    @staticmethod
    def _delete_background(client: Client, job: Obj) -> None:
        meta = job["metadata"]
        try:
            client.request(
                "DELETE",
                f"/apis/batch/v1/namespaces/{meta['namespace']}/jobs/{meta['name']}",
                {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"},
            )
        except ApiError as err:
            if err.status != 404:
                raise

    def _status(self, job: Obj, status: Obj) -> None:
        current = job.get("status") or {}
        merged = {**current, **status}
        if merged == current:
            return
        if not merged.get("uncountedTerminatedPods"):
            merged.pop("uncountedTerminatedPods", None)
        # active/succeeded/failed are omitempty; ready and terminating are pointers the
        # controller always sets (JobReadyPods, JobPodReplacementPolicy), 0 included.
        for key in ("active", "succeeded", "failed"):
            if not merged.get(key):
                merged.pop(key, None)
        body = {"metadata": {"resourceVersion": job["metadata"]["resourceVersion"]}}
        body["status"] = merged
        meta = job["metadata"]
        updated = self.client.request(
            "PUT",
            f"/apis/batch/v1/namespaces/{meta['namespace']}/jobs/{meta['name']}/status",
            {**job, **body, "metadata": {**meta, **body["metadata"]}},
        )
        job["metadata"]["resourceVersion"] = updated["metadata"]["resourceVersion"]
        job["status"] = updated.get("status") or {}


class CronJobController:
    def __init__(self, client: Client) -> None:
        self.client = client
        self._warned: set[tuple[str, str]] = set()

    def step(self) -> None:
        jobs = self.client.list("jobs")
        for cj in self.client.list("cronjobs"):
            cj.setdefault("kind", "CronJob")
            cj.setdefault("apiVersion", "batch/v1")
            if is_terminating(cj):
                continue
            try:
                self._sync(cj, _owned(jobs, cj))
            except ApiError as err:
                if err.status not in (404, 409):
                    raise

    def _sync(self, cj: Obj, jobs: list[Obj]) -> None:
        meta, spec = cj["metadata"], cj["spec"]
        ns = meta["namespace"]
        status = copy.deepcopy(cj.get("status") or {})
        by_uid = {j["metadata"]["uid"]: j for j in jobs}
        active = []
        for ref in status.get("active") or []:
            job = by_uid.get(ref.get("uid"))
            if job is None:
                emit(
                    self.client,
                    cj,
                    "MissingJob",
                    f"Active job went missing: {ref.get('name')}",
                    type_="Warning",
                    component="cronjob-controller",
                )
                continue
            outcome = finished(job)
            if outcome is None:
                active.append(ref)
                continue
            emit(
                self.client,
                cj,
                "SawCompletedJob",
                f"Saw completed job: {job['metadata']['name']}, condition: {outcome}",
                component="cronjob-controller",
            )
            if outcome == "Complete" and job["status"].get("completionTime"):
                last = status.get("lastSuccessfulTime")
                if not last or parse_time(job["status"]["completionTime"]) > parse_time(last):
                    status["lastSuccessfulTime"] = job["status"]["completionTime"]
        # Jobs it owns that are running but not listed (a write that was lost) rejoin.
        listed = {ref.get("uid") for ref in active}
        for job in jobs:
            uid = job["metadata"]["uid"]
            if finished(job) is None and uid not in listed and not is_terminating(job):
                active.append(_reference(job))
        status["active"] = active
        self._cleanup(cj, jobs)
        if not spec.get("suspend"):
            self._schedule(cj, status)
        if not status["active"]:
            status.pop("active")
        if status != (cj.get("status") or {}):
            self.client.request(
                "PUT",
                f"/apis/batch/v1/namespaces/{ns}/cronjobs/{meta['name']}/status",
                {**cj, "status": status},
            )

    def _schedule(self, cj: Obj, status: Obj) -> None:
        meta, spec = cj["metadata"], cj["spec"]
        try:
            schedule = cron.parse(spec["schedule"])
            tz = cron.zone(spec.get("timeZone"))
        except cron.CronError as exc:
            key = (meta["uid"], str(exc))
            if key not in self._warned:
                self._warned.add(key)
                emit(
                    self.client,
                    cj,
                    "UnparseableSchedule",
                    f"unparseable schedule: {spec['schedule']!r} : {exc}",
                    type_="Warning",
                    component="cronjob-controller",
                )
            return
        current = dt.datetime.now(dt.UTC)
        earliest = dt.datetime.fromtimestamp(
            parse_time(status.get("lastScheduleTime") or meta["creationTimestamp"]), dt.UTC
        )
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None:
            earliest = max(earliest, current - dt.timedelta(seconds=deadline))
        scheduled, missed = cron.schedule_times(schedule, tz, earliest, current)
        if scheduled is None:
            return
        if missed > 100:
            emit(
                self.client,
                cj,
                "TooManyMissedTimes",
                "too many missed start times. Set or decrease .spec.startingDeadlineSeconds "
                "or check clock skew",
                type_="Warning",
                component="cronjob-controller",
            )
        policy = spec.get("concurrencyPolicy", "Allow")
        if policy == "Forbid" and status["active"]:
            # Not started; once the active one ends, the latest missed time starts late.
            return
        if policy == "Replace":
            for ref in status["active"]:
                JobController._delete_background(
                    self.client, {"metadata": {"namespace": meta["namespace"], "name": ref["name"]}}
                )
                emit(
                    self.client,
                    cj,
                    "SuccessfulDelete",
                    f"Deleted job {ref['name']}",
                    component="cronjob-controller",
                )
            status["active"] = []
        job = self._job_for(cj, scheduled, tz)
        try:
            created = self.client.create("jobs", job, meta["namespace"])
        except ApiError as err:
            if err.status != 409:
                raise
            existing = self.client.get("jobs", job["metadata"]["name"], meta["namespace"])
            if (controller_of(existing) or {}).get("uid") != meta["uid"]:
                return  # someone else's Job holds the name
            created = existing
        else:
            emit(
                self.client,
                cj,
                "SuccessfulCreate",
                f"Created job {created['metadata']['name']}",
                component="cronjob-controller",
            )
        if finished(created) is None and all(
            ref.get("uid") != created["metadata"]["uid"] for ref in status["active"]
        ):
            status["active"].append(_reference(created))
        status["lastScheduleTime"] = scheduled.strftime("%Y-%m-%dT%H:%M:%SZ")

    @staticmethod
    def _job_for(cj: Obj, scheduled: dt.datetime, tz: dt.tzinfo) -> Obj:
        """getJobFromTemplate2: the template's labels and annotations, the owner, and
        the scheduled time (in the CronJob's zone) as an annotation."""
        meta = cj["metadata"]
        template = copy.deepcopy(cj["spec"]["jobTemplate"])
        tmeta = template.get("metadata") or {}
        annotations = dict(tmeta.get("annotations") or {})
        annotations[SCHEDULED_ANNOTATION] = scheduled.astimezone(tz).isoformat()
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": f"{meta['name']}-{int(scheduled.timestamp()) // 60}",
                "labels": dict(tmeta.get("labels") or {}),
                "annotations": annotations,
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "CronJob",
                        "name": meta["name"],
                        "uid": meta["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": template.get("spec") or {},
        }

    def _cleanup(self, cj: Obj, jobs: list[Obj]) -> None:
        """cleanupFinishedJobs: keep the newest of each kind up to its history limit."""
        spec = cj["spec"]
        for outcome, limit in (
            ("Complete", spec.get("successfulJobsHistoryLimit", 3)),
            ("Failed", spec.get("failedJobsHistoryLimit", 1)),
        ):
            done = [j for j in jobs if finished(j) == outcome and not is_terminating(j)]
            if limit is None or len(done) <= limit:
                continue
            done.sort(
                key=lambda j: (
                    parse_time((j.get("status") or {}).get("startTime")),
                    j["metadata"]["name"],
                )
            )
            for job in done[: len(done) - limit]:
                JobController._delete_background(self.client, job)
                emit(
                    self.client,
                    cj,
                    "SuccessfulDelete",
                    f"Deleted job {job['metadata']['name']}",
                    component="cronjob-controller",
                )


def _reference(job: Obj) -> Obj:
    meta = job["metadata"]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": meta["name"],
        "namespace": meta["namespace"],
        "uid": meta["uid"],
        "resourceVersion": meta.get("resourceVersion"),
    }
