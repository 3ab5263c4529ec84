"""The stand-in's Job, CronJob and StatefulSet controllers, against a k3s-style server
process (host pod network), checked with the official kubernetes client."""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from k8s_standin.node.testing import Standin, wait_for
from kubernetes import client

pytestmark = pytest.mark.skipif(os.name != "posix", reason="needs POSIX processes")


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Standin]:
    server = Standin(tmp_path_factory.mktemp("k3s")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api(standin: Standin) -> Any:
    return standin.api_client()


@pytest.fixture
def ns(api: Any) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    wait_for(
        lambda: core.read_namespaced_service_account("default", name), 10, "the default account"
    )
    yield name
    core.delete_namespace(name)


def job(name: str, script: str, restart: str = "Never", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": restart,
                    "terminationGracePeriodSeconds": 1,
                    "containers": [
                        {"name": "main", "image": "busybox", "command": ["sh", "-c", script]}
                    ],
                }
            },
            **spec,
        },
    }


def conditions(obj: Any) -> dict[str, str]:
    return {c.type: c.status for c in obj.status.conditions or []}


def test_job_defaults_selector_and_labels(api: Any, ns: str) -> None:
    batch = client.BatchV1Api(api)
    created = batch.create_namespaced_job(ns, job("defaults", "true"))
    spec, uid = created.spec, created.metadata.uid
    assert (spec.completions, spec.parallelism, spec.backoff_limit) == (1, 1, 6)
    assert spec.completion_mode == "NonIndexed" and spec.suspend is False
    assert spec.manual_selector is False
    assert spec.pod_replacement_policy == "TerminatingOrFailed"
    assert spec.selector.match_labels == {"batch.kubernetes.io/controller-uid": uid}
    labels = spec.template.metadata.labels
    assert labels["batch.kubernetes.io/job-name"] == "defaults"
    assert labels["controller-uid"] == uid and labels["job-name"] == "defaults"
    queue = batch.create_namespaced_job(ns, job("queue", "true", parallelism=2))
    assert queue.spec.completions is None and queue.spec.parallelism == 2


def test_job_refuses_restart_policy_always(api: Any, ns: str) -> None:
    with pytest.raises(client.ApiException) as err:
        client.BatchV1Api(api).create_namespaced_job(ns, job("always", "true", restart="Always"))
    assert err.value.status == 422
    assert 'Unsupported value: \\"Always\\"' in err.value.body


def test_job_runs_to_completion(api: Any, ns: str) -> None:
    batch, core = client.BatchV1Api(api), client.CoreV1Api(api)
    batch.create_namespaced_job(ns, job("twice", "echo done-$HOSTNAME", completions=2))
    done = wait_for(
        lambda: (
            (j := batch.read_namespaced_job("twice", ns)) and conditions(j).get("Complete") and j
        ),
        60,
        "the Job to complete",
    )
    assert done.status.succeeded == 2 and not done.status.failed and not done.status.active
    assert conditions(done) == {"SuccessCriteriaMet": "True", "Complete": "True"}
    assert done.status.start_time <= done.status.completion_time
    pods = core.list_namespaced_pod(ns, label_selector="batch.kubernetes.io/job-name=twice").items
    assert len(pods) == 2 and all(p.status.phase == "Succeeded" for p in pods)
    assert all(p.metadata.name.startswith("twice-") for p in pods)
    assert all(
        "batch.kubernetes.io/job-tracking" not in (p.metadata.finalizers or []) for p in pods
    )
    owner = pods[0].metadata.owner_references[0]
    assert (owner.kind, owner.name, owner.controller) == ("Job", "twice", True)
    assert "done-" in core.read_namespaced_pod_log(pods[0].metadata.name, ns)


def test_job_fails_past_its_backoff_limit(api: Any, ns: str) -> None:
    batch = client.BatchV1Api(api)
    batch.create_namespaced_job(ns, job("failing", "exit 3", backoffLimit=0))
    failed = wait_for(
        lambda: (
            (j := batch.read_namespaced_job("failing", ns)) and conditions(j).get("Failed") and j
        ),
        60,
        "the Job to fail",
    )
    assert failed.status.failed == 1 and not failed.status.succeeded
    assert conditions(failed) == {"FailureTarget": "True", "Failed": "True"}
    reasons = {c.type: c.reason for c in failed.status.conditions}
    assert reasons["Failed"] == "BackoffLimitExceeded"
    assert failed.status.completion_time is None


def test_finished_job_goes_after_its_ttl(api: Any, ns: str) -> None:
    batch = client.BatchV1Api(api)
    batch.create_namespaced_job(ns, job("brief", "true", ttlSecondsAfterFinished=1))
    wait_for(
        lambda: not batch.list_namespaced_job(ns, field_selector="metadata.name=brief").items,
        60,
        "the finished Job to be deleted",
    )


def test_suspended_job_runs_no_pods(api: Any, ns: str) -> None:
    batch, core = client.BatchV1Api(api), client.CoreV1Api(api)
    batch.create_namespaced_job(ns, job("held", "true", suspend=True))
    wait_for(
        lambda: conditions(batch.read_namespaced_job("held", ns)).get("Suspended") == "True",
        30,
        "the Suspended condition",
    )
    assert not core.list_namespaced_pod(ns).items


def test_cronjob_defaults_and_schedule_validation(api: Any, ns: str) -> None:
    batch = client.BatchV1Api(api)
    body = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "tick"},
        "spec": {"schedule": "*/5 1-3,7 * JAN-MAR mon", "jobTemplate": job("x", "true")},
    }
    body["spec"]["jobTemplate"].pop("apiVersion")
    body["spec"]["jobTemplate"].pop("kind")
    body["spec"]["jobTemplate"]["metadata"] = {}
    created = batch.create_namespaced_cron_job(ns, body)
    spec = created.spec
    assert spec.concurrency_policy == "Allow" and spec.suspend is False
    assert (spec.successful_jobs_history_limit, spec.failed_jobs_history_limit) == (3, 1)
    for bad in ("@every 1m", "61 * * * *", "* * * *", "TZ=UTC * * * * *"):
        body["metadata"]["name"] = "bad"
        body["spec"]["schedule"] = bad
        with pytest.raises(client.ApiException) as err:
            batch.create_namespaced_cron_job(ns, body)
        assert err.value.status == 422, bad


def test_cronjob_fires_at_the_minute_and_keeps_history(api: Any, ns: str) -> None:
    batch = client.BatchV1Api(api)
    template = job("x", "echo fired")
    body = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "every"},
        "spec": {
            "schedule": "* * * * *",
            "successfulJobsHistoryLimit": 1,
            "jobTemplate": {"spec": template["spec"]},
        },
    }
    batch.create_namespaced_cron_job(ns, body)

    def fired() -> Any:
        jobs = batch.list_namespaced_job(ns).items
        done = [j for j in jobs if conditions(j).get("Complete") == "True"]
        return done and batch.read_namespaced_cron_job("every", ns).status.last_successful_time

    wait_for(fired, 90, "a Job of the CronJob to complete")
    (made,) = batch.list_namespaced_job(ns).items
    minutes = int(made.metadata.name.rsplit("-", 1)[1])
    cj = batch.read_namespaced_cron_job("every", ns)
    assert cj.status.last_schedule_time == dt.datetime.fromtimestamp(minutes * 60, dt.UTC)
    assert made.metadata.annotations["batch.kubernetes.io/cronjob-scheduled-timestamp"]
    owner = made.metadata.owner_references[0]
    assert (owner.kind, owner.name) == ("CronJob", "every")
    # Fired within the minute it names.
    assert made.metadata.creation_timestamp - cj.status.last_schedule_time < dt.timedelta(
        seconds=30
    )


def statefulset(name: str, replicas: int = 2, **spec: Any) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name},
        "spec": {
            "serviceName": name,
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "containers": [
                        {
                            "name": "main",
                            "image": "busybox",
                            "command": [
                                "sh",
                                "-c",
                                "echo $HOSTNAME >> $(DATA)/id; exec sleep 3600",
                            ],
                            "env": [{"name": "DATA", "value": "/data"}],
                            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                        }
                    ],
                },
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "16Mi"}},
                    },
                }
            ],
            **spec,
        },
    }


def test_statefulset_pods_in_order_with_their_own_claims(
    standin: Standin, api: Any, ns: str
) -> None:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    created = apps.create_namespaced_stateful_set(ns, statefulset("db"))
    spec = created.spec
    assert spec.pod_management_policy == "OrderedReady" and spec.revision_history_limit == 10
    assert spec.update_strategy.type == "RollingUpdate"
    assert spec.update_strategy.rolling_update.partition == 0
    retention = spec.persistent_volume_claim_retention_policy
    assert (retention.when_deleted, retention.when_scaled) == ("Retain", "Retain")
    assert spec.volume_claim_templates[0].spec.volume_mode == "Filesystem"

    def ready() -> Any:
        sts = apps.read_namespaced_stateful_set("db", ns)
        return sts.status.ready_replicas == 2 and sts

    sts = wait_for(ready, 60, "both replicas Ready")
    status = sts.status
    assert (status.replicas, status.current_replicas, status.updated_replicas) == (2, 2, 2)
    assert status.available_replicas == 2 and status.current_revision == status.update_revision
    pods = {p.metadata.name: p for p in core.list_namespaced_pod(ns).items}
    assert sorted(pods) == ["db-0", "db-1"]
    assert pods["db-0"].metadata.creation_timestamp <= pods["db-1"].metadata.creation_timestamp
    for index, name in enumerate(["db-0", "db-1"]):
        pod = pods[name]
        labels = pod.metadata.labels
        assert labels["statefulset.kubernetes.io/pod-name"] == name
        assert labels["apps.kubernetes.io/pod-index"] == str(index)
        assert labels["controller-revision-hash"] == status.update_revision
        assert (pod.spec.hostname, pod.spec.subdomain) == (name, "db")
        (volume,) = pod.spec.volumes
        assert volume.persistent_volume_claim.claim_name == f"data-{name}"
        claim = core.read_namespaced_persistent_volume_claim(f"data-{name}", ns)
        assert claim.spec.storage_class_name == "local-path"
        assert claim.metadata.labels == {"app": "db"}
    revisions = client.AppsV1Api(api).list_namespaced_controller_revision(ns).items
    assert [r.metadata.name for r in revisions] == [status.update_revision]

    first = core.read_namespaced_persistent_volume_claim("data-db-0", ns)
    core.delete_namespaced_pod("db-0", ns)

    def back() -> Any:
        pod = core.read_namespaced_pod("db-0", ns)
        return (
            pod.metadata.uid != pods["db-0"].metadata.uid and pod.status.phase == "Running" and pod
        )

    wait_for(back, 60, "db-0 re-created")
    again = core.read_namespaced_persistent_volume_claim("data-db-0", ns)
    assert again.metadata.uid == first.metadata.uid
    pv = core.read_persistent_volume(again.spec.volume_name)
    wait_for(
        lambda: Path(pv.spec.host_path.path, "id").read_text().split() == ["db-0", "db-0"],
        20,
        "the re-created pod to append to the same volume",
    )

    apps.patch_namespaced_stateful_set_scale("db", ns, {"spec": {"replicas": 1}})
    wait_for(
        lambda: [p.metadata.name for p in core.list_namespaced_pod(ns).items] == ["db-0"],
        60,
        "scaled down to db-0",
    )
    # Retain: the claim of the removed replica stays.
    assert core.read_namespaced_persistent_volume_claim("data-db-1", ns)


def test_parallel_statefulset_starts_all_at_once(api: Any, ns: str) -> None:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    body = statefulset("par", replicas=3, podManagementPolicy="Parallel")
    body["spec"]["template"]["spec"]["containers"][0]["readinessProbe"] = {
        "exec": {"command": ["false"]},
        "periodSeconds": 1,
    }
    apps.create_namespaced_stateful_set(ns, body)
    # None becomes Ready, yet all three exist: Parallel does not wait.
    wait_for(lambda: len(core.list_namespaced_pod(ns).items) == 3, 30, "three pods without waiting")
    time.sleep(1)
    assert apps.read_namespaced_stateful_set("par", ns).status.ready_replicas in (None, 0)


def test_statefulset_pods_have_stable_dns(standin: Standin, api: Any, ns: str) -> None:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    core.create_namespaced_service(
        ns,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {"clusterIP": "None", "selector": {"app": "web"}, "ports": [{"port": 80}]},
        },
    )
    body = statefulset("web")
    del body["spec"]["volumeClaimTemplates"]
    body["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] = []
    body["spec"]["template"]["spec"]["containers"][0]["command"] = ["sleep", "3600"]
    apps.create_namespaced_stateful_set(ns, body)
    wait_for(
        lambda: apps.read_namespaced_stateful_set("web", ns).status.ready_replicas == 2,
        60,
        "two ready replicas",
    )

    def addresses() -> Any:
        ep = core.read_namespaced_endpoints("web", ns)
        found = {a.hostname: a.ip for s in ep.subsets or [] for a in s.addresses or []}
        return set(found) == {"web-0", "web-1"} and found

    wait_for(addresses, 30, "endpoint hostnames")
    slices = client.DiscoveryV1Api(api).list_namespaced_endpoint_slice(
        ns, label_selector="kubernetes.io/service-name=web"
    )
    assert {e.hostname for s in slices.items for e in s.endpoints} == {"web-0", "web-1"}
